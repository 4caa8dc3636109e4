/**
 * The request body handed to apps: a `BodyReader` over the connection core's body decoder.
 *
 * Contract:
 * - Decoding (Content-Length or chunked), limits and the single copy into the returned chunk
 *   (`read`) or the caller's buffer (`readInto`) happen in `ConnectionCore.takeBody` /
 *   `takeBodyInto`; this class only waits for more bytes through `BodySource.fill()`, which
 *   belongs to the socket driver.
 * - The first `read()` calls `core.markBodyRead()`, which queues `100 Continue` exactly when the
 *   app first asks for the body and the client waits for it.
 * - Any failure (malformed chunk, limit, timeout, client gone) is remembered in `failure` and
 *   rethrown to every later reader, so the engine can answer with the right status even when the
 *   app swallowed the error.
 * - The core's body state belongs to the connection's current exchange. Once the exchange is over
 *   the engine calls `detach()`: the reader keeps its final `done`/`bytesRead`, a later `read()`
 *   of a complete body returns null and of an incomplete one rejects (`INCOMPLETE_BODY`), so an
 *   app holding on to an old reader can never see the next request's bytes.
 */
import type { ConnectionCore } from "./http/connection_core.ts";
import { ProtocolError } from "./http/errors.ts";
import type { BodyReader } from "./exchange.ts";

/** What the body reader needs from the driver. */
export interface BodySource {
  /** Reads more bytes into the core's buffer; resolves false at end of stream. May throw. */
  fill(): Promise<boolean>;
}

/** `BodyReader` implementation; see the module comment. */
export class RequestBody implements BodyReader {
  readonly contentLength: number | null;
  readonly #core: ConnectionCore;
  readonly #source: BodySource;
  /** The first error met while reading, rethrown to later readers. */
  failure: unknown = null;
  #detached = false;
  #finalDone = false;
  #finalBytes = 0;

  /** Creates the reader for the core's current request (`contentLength` as declared). */
  constructor(core: ConnectionCore, source: BodySource, contentLength: number | null) {
    this.#core = core;
    this.#source = source;
    this.contentLength = contentLength;
  }

  /** True once the whole body was received. */
  get done(): boolean {
    return this.#detached ? this.#finalDone : this.#core.bodyDone;
  }

  /** Decoded bytes delivered so far. */
  get bytesRead(): number {
    return this.#detached ? this.#finalBytes : this.#core.bodyBytes;
  }

  /** The exchange is over: freeze `done` and `bytesRead`; later reads no longer touch the core. */
  detach(): void {
    if (this.#detached) return;
    this.#finalDone = this.#core.bodyDone;
    this.#finalBytes = this.#core.bodyBytes;
    this.#detached = true;
  }

  /** See `BodyReader.read`. */
  read(max = 0): Promise<Uint8Array | null> {
    return this.#pull(max, null) as Promise<Uint8Array | null>;
  }

  /** See `BodyReader.readInto`. */
  readInto(target: Uint8Array): Promise<number> {
    if (target.length === 0) return Promise.reject(new RangeError("readInto: empty target"));
    return this.#pull(0, target) as Promise<number>;
  }

  /** `read(max)` when `target` is null, else `readInto(target)` (0 for the end of the body). */
  async #pull(max: number, target: Uint8Array | null): Promise<Uint8Array | number | null> {
    const end = target === null ? null : 0;
    if (this.failure !== null) throw this.failure;
    if (this.#detached) {
      if (this.#finalDone) return end;
      throw new ProtocolError("INCOMPLETE_BODY", "the exchange is over");
    }
    const core = this.#core;
    if (core.bodyDone) return end;
    core.markBodyRead();
    try {
      while (true) {
        if (target === null) {
          const chunk = core.takeBody(max);
          if (chunk !== null) return chunk;
        } else {
          const n = core.takeBodyInto(target);
          if (n > 0) return n;
        }
        if (core.bodyDone) return end;
        if (!(await this.#source.fill())) {
          throw new ProtocolError("INCOMPLETE_BODY", "connection closed mid-body");
        }
      }
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }

  /** Reads and discards up to `limit` bytes; resolves true if the body then ended. */
  async discard(limit: number): Promise<boolean> {
    let left = limit;
    while (!this.done) {
      if (left <= 0) return false;
      const chunk = await this.read(left);
      if (chunk === null) break;
      left -= chunk.length;
    }
    return true;
  }
}

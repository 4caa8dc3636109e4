/**
 * The request body handed to apps: a `BodyReader` over the connection's receive buffer.
 *
 * Contract:
 * - Decodes Content-Length or chunked framing (via `ChunkedDecoder`) straight out of the
 *   connection's `ReceiveBuffer`; bytes are copied exactly once, into the chunk returned to the
 *   caller. `maxBodyBytes` is enforced by the framing check (Content-Length) or the decoder
 *   (chunked).
 * - Pulls more bytes only through `BodySource.fill()`, which belongs to `connection.ts` (the only
 *   file that touches sockets). The first `read()` calls `source.onFirstRead()` so the
 *   connection can send `100 Continue` exactly when the app first asks for the body.
 * - Any failure (malformed chunk, limit, timeout, client gone) is remembered in `failure` and
 *   rethrown to every later reader, so the connection can answer with the right status even when
 *   the app swallowed the error.
 */
import { concatBytes } from "./http/bytes.ts";
import { ChunkedDecoder } from "./http/chunked.ts";
import { ProtocolError } from "./http/errors.ts";
import type { BodyFraming } from "./http/framing.ts";
import type { ReceiveBuffer } from "./http/receive_buffer.ts";
import type { BodyReader } from "./exchange.ts";
import type { Limits } from "./config.ts";

/** What the body reader needs from the connection. */
export interface BodySource {
  /** The connection's receive buffer; body bytes are read from its front. */
  readonly buffer: ReceiveBuffer;
  /** Reads more bytes into `buffer`; resolves false at end of stream. May throw. */
  fill(): Promise<boolean>;
  /** Called once, before the first body read (sends `100 Continue` if expected). */
  onFirstRead(): void;
}

/** `BodyReader` implementation; see the module comment. */
export class RequestBody implements BodyReader {
  readonly contentLength: number | null;
  #source: BodySource;
  #remaining: number;
  #decoder: ChunkedDecoder | null;
  #bytesRead = 0;
  #started = false;
  #done: boolean;
  /** The first error met while reading, rethrown to later readers. */
  failure: unknown = null;

  /** Creates a reader for a body with `framing`. */
  constructor(framing: BodyFraming, source: BodySource, limits: Limits) {
    this.#source = source;
    if (framing.kind === "length") {
      this.contentLength = framing.length;
      this.#remaining = framing.length;
      this.#decoder = null;
      this.#done = framing.length === 0;
    } else if (framing.kind === "chunked") {
      this.contentLength = null;
      this.#remaining = 0;
      this.#decoder = new ChunkedDecoder(limits);
      this.#done = false;
    } else {
      this.contentLength = 0;
      this.#remaining = 0;
      this.#decoder = null;
      this.#done = true;
    }
  }

  /** True once the whole body was received. */
  get done(): boolean {
    return this.#done;
  }

  /** Decoded bytes delivered so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Whether any read was attempted (so `100 Continue` went out). */
  get started(): boolean {
    return this.#started;
  }

  /** See `BodyReader.read`. */
  async read(max = 0): Promise<Uint8Array | null> {
    if (this.failure !== null) throw this.failure;
    if (this.#done) return null;
    if (!this.#started) {
      this.#started = true;
      this.#source.onFirstRead();
    }
    try {
      while (true) {
        const chunk = this.#take(max);
        if (chunk !== null) return chunk;
        if (this.#done) return null;
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
    while (!this.#done) {
      if (left <= 0) return false;
      const chunk = await this.read(left);
      if (chunk === null) break;
      left -= chunk.length;
    }
    return true;
  }

  /** Takes buffered body bytes, or returns null when the buffer holds none. */
  #take(max: number): Uint8Array | null {
    const buf = this.#source.buffer;
    if (this.#decoder === null) {
      const avail = buf.length;
      if (avail === 0) return null;
      let n = Math.min(avail, this.#remaining);
      if (max > 0 && n > max) n = max;
      const out = buf.view().slice(0, n);
      buf.consume(n);
      this.#remaining -= n;
      this.#bytesRead += n;
      if (this.#remaining === 0) this.#done = true;
      return out;
    }
    if (buf.length === 0) return null;
    const r = this.#decoder.decode(buf.view(), max);
    // Decoded pieces are views into the receive buffer: one copy, owned by the caller.
    let out: Uint8Array | null = null;
    if (r.data.length === 1) out = r.data[0].slice();
    else if (r.data.length > 1) out = concatBytes(r.data);
    buf.consume(r.consumed);
    if (r.done) this.#done = true;
    if (out !== null && out.length > 0) {
      this.#bytesRead += out.length;
      return out;
    }
    return null;
  }
}

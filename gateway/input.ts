/**
 * `lsbaws.input`: the request body as a file-like `Input` (rules IN-1 to IN-8 of types.ts).
 *
 * Contract:
 * - `createInput(body)` wraps the engine's `BodyReader`; it never reads before the app asks (so
 *   `100 Continue` is sent only on the first read, IN-9) and never past the end of the body,
 *   which the `BodyReader` reports as `null` (IN-2).
 * - Bytes read from the `BodyReader` but not yet consumed are kept in a queue of chunks, shared by
 *   `read`, `readline` and `stream`; nothing is copied unless a result spans chunks.
 * - `read(n)` that needs more than is queued, from a `BodyReader` with `readInto`, allocates its
 *   result once and has the engine decode the body straight into it (one copy instead of one per
 *   piece plus one to join them): when the body declares its length the result is sized to what
 *   is left of it; a chunked body does this for `n` up to `MAX_READ_INTO_BYTES` (1 MiB), and a
 *   result cut short by the end of the body is copied to its own size.
 * - A rejected `BodyReader.read()` is passed on unchanged and remembered, so that `isInputError`
 *   can tell the runner to hand it to the engine unwrapped (APP-6).
 * - Reads MUST NOT overlap: the app awaits one before starting the next (as with any file).
 */
import type { BodyReader } from "../server/exchange.ts";
import type { Input } from "./types.ts";

const EMPTY = new Uint8Array(0);
const LF = 0x0a;
const INPUT_ERRORS = new WeakSet<object>();
/** The largest `read(n)` of a chunked body filled in place (its total size is not known). */
const MAX_READ_INTO_BYTES = 1 << 20;

/** Wraps the engine's body reader as the app-facing `Input` (`lsbaws.input`). */
export function createInput(body: BodyReader): Input {
  return new BodyInput(body);
}

/** True when `err` was raised by a body read made through an `Input` (APP-6). */
export function isInputError(err: unknown): boolean {
  return typeof err === "object" && err !== null && INPUT_ERRORS.has(err);
}

class BodyInput implements Input {
  #body: BodyReader;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #eof: boolean;
  #stream: ReadableStream<Uint8Array> | undefined;

  constructor(body: BodyReader) {
    this.#body = body;
    this.#eof = body.contentLength === 0;
  }

  /** IN-1, IN-2. */
  async read(n?: number): Promise<Uint8Array> {
    const want = n === undefined || n < 0 ? Infinity : Math.floor(n);
    if (want === 0) return EMPTY;
    if (this.#queued < want && !this.#eof && this.#body.readInto !== undefined) {
      const size = this.#readIntoSize(want);
      if (size > this.#queued) return this.#readInto(size);
    }
    // Ask the body for no more than is missing, so a read(n) is normally one body chunk and
    // not a concatenation (fewer copies and allocations on large uploads).
    while (this.#queued < want && await this.#fill(want - this.#queued));
    return this.#take(Math.min(want, this.#queued));
  }

  /** IN-3. */
  async readline(limit?: number): Promise<Uint8Array> {
    const max = limit === undefined || limit < 0 ? Infinity : Math.floor(limit);
    if (max === 0) return EMPTY;
    let scanned = 0;
    while (true) {
      const lf = this.#indexOfLf(scanned);
      if (lf >= 0 && lf < max) return this.#take(lf + 1);
      if (this.#queued >= max) return this.#take(max);
      scanned = this.#queued;
      if (!(await this.#fill())) return this.#take(this.#queued);
    }
  }

  /** IN-4. */
  async readlines(hint?: number): Promise<Uint8Array[]> {
    const lines: Uint8Array[] = [];
    let total = 0;
    while (true) {
      const line = await this.readline();
      if (line.length === 0) return lines;
      lines.push(line);
      total += line.length;
      if (hint !== undefined && hint > 0 && total >= hint) return lines;
    }
  }

  /** IN-5. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    while (true) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** IN-6. */
  get stream(): ReadableStream<Uint8Array> {
    this.#stream ??= new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (this.#queued === 0 && !(await this.#fill())) {
          controller.close();
          return;
        }
        controller.enqueue(this.#take(this.#queued));
      },
    }, { highWaterMark: 0 });
    return this.#stream;
  }

  /** The size of the buffer `read(want)` fills in place (see the module comment), or 0. */
  #readIntoSize(want: number): number {
    const declared = this.#body.contentLength;
    // `bytesRead` counts what the body delivered, the queued bytes included.
    if (declared !== null) return Math.min(want, this.#queued + declared - this.#body.bytesRead);
    return want <= MAX_READ_INTO_BYTES ? want : 0;
  }

  /** Fills one buffer of `size` (> queued) bytes: the queue first, then the body straight in. */
  async #readInto(size: number): Promise<Uint8Array> {
    const out = new Uint8Array(size);
    let filled = 0;
    for (const chunk of this.#queue) {
      out.set(chunk, filled);
      filled += chunk.length;
    }
    this.#queue.length = 0;
    this.#queued = 0;
    while (filled < size) {
      let n: number;
      try {
        n = await this.#body.readInto!(out.subarray(filled));
      } catch (err) {
        markInputError(err);
        throw err;
      }
      if (n === 0) {
        this.#eof = true;
        break;
      }
      filled += n;
    }
    if (this.#body.done) this.#eof = true; // IN-2: no read past a body known to be complete.
    // Cut short by the end of a chunked body: do not keep the unused tail alive.
    return filled === size ? out : out.slice(0, filled);
  }

  /** Pulls one chunk from the body into the queue; false at the end of the body. */
  async #fill(max = Infinity): Promise<boolean> {
    if (this.#eof) return false;
    let chunk: Uint8Array | null;
    try {
      chunk = await this.#body.read(max === Infinity ? undefined : max);
    } catch (err) {
      markInputError(err);
      throw err;
    }
    if (chunk === null) {
      this.#eof = true;
      return false;
    }
    if (chunk.length > 0) {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
    }
    return true;
  }

  /** Offset of the first LF in the queue at or after `from`, or -1. */
  #indexOfLf(from: number): number {
    let base = 0;
    for (const chunk of this.#queue) {
      if (from < base + chunk.length) {
        const i = chunk.indexOf(LF, Math.max(0, from - base));
        if (i >= 0) return base + i;
      }
      base += chunk.length;
    }
    return -1;
  }

  /** Removes and returns the first `n` queued bytes (`n` <= queued). */
  #take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const first = this.#queue[0];
    this.#queued -= n;
    if (first.length === n) {
      this.#queue.shift();
      return first;
    }
    if (first.length > n) {
      this.#queue[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#queue[0];
      const part = Math.min(chunk.length, n - filled);
      out.set(part === chunk.length ? chunk : chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.length) this.#queue.shift();
      else this.#queue[0] = chunk.subarray(part);
    }
    return out;
  }
}

/** Remembers `err` as raised by a body read (see `isInputError`). */
function markInputError(err: unknown): void {
  if (typeof err === "object" && err !== null) INPUT_ERRORS.add(err);
}

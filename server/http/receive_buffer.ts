/**
 * A growable receive buffer with start/end cursors, so parsed bytes are dropped without copying.
 *
 * Contract (sans-IO, synchronous): the I/O layer reads into `writable()` and calls
 * `commit(n)`; parsers look at `view()` (the unconsumed bytes) and call `consume(n)`. Space is
 * reclaimed by `compact()` (a `copyWithin` of the unconsumed tail) only when the free tail is
 * smaller than a read; the buffer grows by doubling up to `maxBytes`, after which `writable()`
 * returns an empty view and the caller must treat it as a limit error.
 * - While a `writable()` view is lent to a pending read (until `commit`), the storage never
 *   moves: `consume`, `compact` and `shrink` leave the cursors and the array where they are.
 * - Idle connections are cheap: the buffer starts at `idleBytes` and reads ask for that much
 *   until one read fills its whole view, after which reads ask for `readSize`. `shrink()` (called
 *   when a connection goes idle with nothing buffered) drops a grown buffer back to `idleBytes`.
 * - Idle-sized storage is pooled: `release()` (the connection closed) hands it back for the next
 *   connection and leaves this buffer empty and unusable (`view()` is empty, `writable()` offers
 *   nothing), so no later reader can see a successor's bytes. It refuses while a view is lent.
 *   Pooled storage may hold a previous connection's bytes, but only bytes between the cursors are
 *   ever exposed: `view()` is that window, and `storage` (with `start` and `end`) is for
 *   the request parser, which reads only inside the window it is given, without making a view.
 * - Views are reused: `view()` and `writable()` return the same object as their previous call
 *   when the window (storage and cursors) is the same, as it is for every request of a
 *   keep-alive connection whose requests fit one read (a `subarray` per call was ~1 % of a
 *   keep-alive request's CPU). A view is a window, so a reused one shows exactly what a fresh one
 *   would; the cached views are dropped whenever the storage changes, so a released or shrunk
 *   buffer keeps no old storage alive.
 */

const POOL_MAX = 1024;
const pool: Uint8Array[] = [];
let pooledBytes = 0;
const EMPTY = new Uint8Array(0);

/** Idle-sized storage from the pool, or fresh. */
function idleStorage(bytes: number): Uint8Array {
  if (bytes === pooledBytes) {
    const b = pool.pop();
    if (b !== undefined) return b;
  }
  return new Uint8Array(bytes);
}

/** See the module comment. */
export class ReceiveBuffer {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #readSize: number;
  #idleBytes: number;
  #want: number;
  #offered = 0;
  #lent = false;
  #maxBytes: number;
  /** The last `view()` and the window it shows, -1: none (see the module comment). */
  #view: Uint8Array = EMPTY;
  #viewStart = -1;
  #viewEnd = -1;
  /** The last `writable()` view and where it starts, -1: none. */
  #tail: Uint8Array = EMPTY;
  #tailStart = -1;

  /**
   * Creates a buffer whose reads ask for `readSize` bytes (after starting at `idleBytes`, default
   * `readSize`) and which never exceeds `maxBytes`.
   */
  constructor(readSize: number, maxBytes: number, idleBytes = readSize) {
    this.#readSize = readSize;
    this.#idleBytes = Math.min(idleBytes, readSize);
    this.#want = this.#idleBytes;
    this.#maxBytes = Math.max(maxBytes, readSize);
    this.#buf = idleStorage(this.#idleBytes);
  }

  #released = false;

  /**
   * The connection is gone: returns idle-sized storage to the pool and empties this buffer for
   * good. Returns false (and does nothing) while a view is lent to a pending read.
   */
  release(): boolean {
    if (this.#lent) return false;
    if (this.#released) return true;
    this.#released = true;
    const b = this.#buf;
    this.#setStorage(EMPTY);
    this.#start = 0;
    this.#end = 0;
    if (b.length === this.#idleBytes && pool.length < POOL_MAX) {
      if (pooledBytes !== b.length) {
        pool.length = 0; // one size is pooled: the most recent connections' idle size
        pooledBytes = b.length;
      }
      pool.push(b);
    }
    return true;
  }

  /** Replaces the storage and forgets the views of the old one. */
  #setStorage(b: Uint8Array): void {
    this.#buf = b;
    this.#view = EMPTY;
    this.#viewStart = -1;
    this.#viewEnd = -1;
    this.#tail = EMPTY;
    this.#tailStart = -1;
  }

  /** Bytes of storage currently held. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** When empty, releases grown storage and returns to idle-sized reads. */
  shrink(): void {
    if (this.#end !== this.#start || this.#lent || this.#released) return;
    this.#want = this.#idleBytes;
    if (this.#buf.length > this.#idleBytes) this.#setStorage(idleStorage(this.#idleBytes));
    this.#start = 0;
    this.#end = 0;
  }

  /** Number of unconsumed bytes. */
  get length(): number {
    return this.#end - this.#start;
  }

  /**
   * The storage the unconsumed bytes lie in, at `[start, end)`: the same bytes as
   * `view()` without making a view (invalidated likewise).
   */
  get storage(): Uint8Array {
    return this.#buf;
  }

  /** Where the unconsumed bytes start in `storage`. */
  get start(): number {
    return this.#start;
  }

  /** Where the unconsumed bytes end in `storage`. */
  get end(): number {
    return this.#end;
  }

  /** The unconsumed bytes (a view; invalidated by `writable()`/`compact()`). */
  view(): Uint8Array {
    const start = this.#start;
    const end = this.#end;
    if (start !== this.#viewStart || end !== this.#viewEnd) {
      this.#view = this.#buf.subarray(start, end);
      this.#viewStart = start;
      this.#viewEnd = end;
    }
    return this.#view;
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end && !this.#lent) {
      this.#start = 0;
      this.#end = 0;
    }
  }

  /** Moves unconsumed bytes to the front of the storage. */
  compact(): void {
    if (this.#start === 0 || this.#lent) return;
    this.#buf.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }

  /** A view to read new bytes into (at least `readSize` bytes unless the cap is reached). */
  writable(): Uint8Array {
    if (this.#released) return EMPTY;
    const readSize = this.#want;
    if (this.#buf.length - this.#end < readSize) {
      this.compact();
      if (this.#buf.length - this.#end < readSize) {
        const want = Math.min(
          Math.max(this.#buf.length * 2, this.#end + readSize),
          this.#maxBytes,
        );
        if (want > this.#buf.length) {
          const next = new Uint8Array(want);
          next.set(this.#buf.subarray(0, this.#end));
          this.#setStorage(next);
        }
      }
    }
    let view = this.#tail;
    if (this.#tailStart !== this.#end) {
      view = this.#buf.subarray(this.#end);
      this.#tail = view;
      this.#tailStart = this.#end;
    }
    this.#offered = view.length;
    this.#lent = true;
    return view;
  }

  /** Records that `n` bytes were written into the last `writable()` view. */
  commit(n: number): void {
    this.#lent = false;
    this.#end += n;
    if (n === this.#offered) this.#want = this.#readSize;
  }
}

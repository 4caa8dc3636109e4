/**
 * The outgoing byte queue of one connection: responses are encoded straight into pooled
 * segment buffers, so a batch of pipelined responses costs no per-response allocation and goes
 * out as one write.
 *
 * Contract (sans-IO, synchronous):
 * - `pushAscii(s)` encodes a string of code units 0-255 (latin-1) in place; `pushBytes(b)` copies
 *   small chunks into the segment and keeps large ones (≥ `COPY_LIMIT`) as their own piece, so big
 *   bodies are never copied; `pushChunkHeader(n)` writes a chunk-size line.
 * - `take()` hands out everything queued, in order, as a list of views, and starts a fresh
 *   segment. The list and its views stay valid until the *next* `take()`: the caller writes them
 *   completely before taking again (the connection serialises its writes). Two lists alternate,
 *   so taking allocates no list.
 * - Segment buffers come from a shared pool and go back to it when a queue is drained, so an idle
 *   connection holds no output memory.
 * - `mark(into?)`/`truncate(mark)` drop what was queued after a mark, for replacing a response
 *   that failed before any of it was taken; `mark(into)` fills the caller's record instead of
 *   allocating one (a response writer keeps one for all its responses).
 */

const SEGMENT_BYTES = 16 * 1024;
/** Chunks at least this large are queued by reference instead of copied. */
export const COPY_LIMIT = 8 * 1024;
const copyLimit = COPY_LIMIT; // module-private copy for the hot path (see `bytes.ts`)
const POOL_MAX = 256;
const pool: Uint8Array[] = [];
const encoder = new TextEncoder();

function getSegment(min: number): Uint8Array {
  if (min <= SEGMENT_BYTES) {
    const s = pool.pop();
    if (s !== undefined) return s;
    return new Uint8Array(SEGMENT_BYTES);
  }
  return new Uint8Array(Math.max(min, SEGMENT_BYTES * 2));
}

/** A position in the queue, from `mark()`. */
export interface QueueMark {
  /** Pieces queued. */
  pieces: number;
  /** The current segment. */
  seg: Uint8Array | null;
  /** Where the segment's unqueued region starts. */
  start: number;
  /** Bytes used in the segment. */
  len: number;
  /** Bytes queued. */
  size: number;
}

function putSegment(s: Uint8Array): void {
  if (s.length === SEGMENT_BYTES && pool.length < POOL_MAX) pool.push(s);
}

/** See the module comment. */
export class OutputQueue {
  #seg: Uint8Array | null = null;
  /** Start of the not-yet-taken region in `#seg`. */
  #start = 0;
  #len = 0;
  #pieces: Uint8Array[] = [];
  /** The list handed out by the last take(), reused by the next take(). */
  #lentPieces: Uint8Array[] = [];
  #size = 0;
  /** Segment handed out by the last take(), recycled on the next take(). */
  #lentSeg: Uint8Array | null = null;

  /** Bytes queued and not yet taken. */
  get size(): number {
    return this.#size;
  }

  #room(n: number): Uint8Array {
    let seg = this.#seg;
    if (seg === null) {
      seg = this.#seg = getSegment(n);
      this.#start = 0;
      this.#len = 0;
      return seg;
    }
    if (seg.length - this.#len >= n) return seg;
    // Close the current segment region as a piece and continue in a new segment.
    if (this.#len > this.#start) this.#pieces.push(seg.subarray(this.#start, this.#len));
    const next = getSegment(n);
    // The old segment is referenced by a piece; it is not recycled (it is garbage once written).
    this.#seg = next;
    this.#start = 0;
    this.#len = 0;
    return next;
  }

  /**
   * Queues a latin-1 string (code units 0-255; others become "?") as bytes. A plain loop: for
   * header-sized strings it beats a regex check plus `TextEncoder.encodeInto` several times over.
   */
  pushAscii(s: string): void {
    const n = s.length;
    const seg = this.#room(n);
    let o = this.#len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      seg[o++] = c < 256 ? c : 0x3f;
    }
    this.#len = o;
    this.#size += n;
  }

  /** Queues `s` as UTF-8; `n` is its encoded length (`utf8Length(s)`). */
  pushUtf8(s: string, n: number): void {
    if (n === s.length) return this.pushAscii(s); // all ASCII
    const seg = this.#room(n);
    const { written } = encoder.encodeInto(s, seg.subarray(this.#len, this.#len + n));
    if (written !== n) throw new RangeError(`pushUtf8: ${written} bytes written, ${n} expected`);
    this.#len += n;
    this.#size += n;
  }

  /** Queues bytes: copied when small, referenced when large (the caller must not reuse them). */
  pushBytes(b: Uint8Array): void {
    const n = b.length;
    if (n === 0) return;
    if (n >= copyLimit) {
      const seg = this.#seg;
      if (seg !== null && this.#len > this.#start) {
        this.#pieces.push(seg.subarray(this.#start, this.#len));
        this.#start = this.#len;
      }
      this.#pieces.push(b);
      this.#size += n;
      return;
    }
    const seg = this.#room(n);
    if (n <= 32) {
      // Short pieces (CRLF, ": ", status lines): a loop is cheaper than a TypedArray#set call.
      for (let i = 0, o = this.#len; i < n; i++, o++) seg[o] = b[i];
    } else {
      seg.set(b, this.#len);
    }
    this.#len += n;
    this.#size += n;
  }

  /** Queues the size line of a chunk of `n` (> 0) bytes: lowercase hex digits and CRLF. */
  pushChunkHeader(n: number): void {
    this.pushAscii(n.toString(16) + "\r\n");
  }

  /** The current end of the queue, written into `into` (a new record when not given). */
  mark(into: QueueMark = { pieces: 0, seg: null, start: 0, len: 0, size: 0 }): QueueMark {
    into.pieces = this.#pieces.length;
    into.seg = this.#seg;
    into.start = this.#start;
    into.len = this.#len;
    into.size = this.#size;
    return into;
  }

  /**
   * Restores the queue to `m`, dropping everything queued after it (only valid if nothing was
   * taken since). Bytes queued before the mark stay, even when later pushes closed their segment
   * region into a piece or moved on to a new segment: segments are append-only, so the marked
   * region is still intact in the marked segment.
   */
  truncate(m: QueueMark): void {
    this.#pieces.length = m.pieces;
    this.#seg = m.seg;
    this.#start = m.start;
    this.#len = m.len;
    this.#size = m.size;
  }

  /** Hands out everything queued, in order (see the module comment). */
  take(): Uint8Array[] {
    if (this.#lentSeg !== null) {
      putSegment(this.#lentSeg);
      this.#lentSeg = null;
    }
    const out = this.#pieces;
    const seg = this.#seg;
    if (seg !== null && this.#len > this.#start) out.push(seg.subarray(this.#start, this.#len));
    // The list handed out by the previous take() is free again (see the module comment).
    const next = this.#lentPieces;
    next.length = 0;
    this.#lentPieces = out;
    this.#pieces = next;
    this.#size = 0;
    this.#lentSeg = seg;
    this.#seg = null;
    this.#start = 0;
    this.#len = 0;
    return out;
  }

  /** Returns pooled memory once the last taken views have been written and nothing is queued. */
  release(): void {
    this.#lentPieces.length = 0; // Written: an idle queue keeps no view of a large body alive.
    if (this.#lentSeg !== null) {
      putSegment(this.#lentSeg);
      this.#lentSeg = null;
    }
    if (this.#size === 0 && this.#seg !== null && this.#pieces.length === 0) {
      putSegment(this.#seg);
      this.#seg = null;
      this.#start = 0;
      this.#len = 0;
    }
  }
}

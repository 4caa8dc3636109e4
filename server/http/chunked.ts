/**
 * Chunked transfer coding decoder (RFC 9112 §7.1) as a resumable state machine.
 *
 * Contract (sans-IO, synchronous):
 * - `decoder.decode(buf)` reads from the start of `buf` and returns `{data, consumed, done}`:
 *   `data` are views into `buf` (valid until the caller reuses those bytes), `consumed` is how many
 *   bytes of `buf` the caller must drop, `done` is true once the last chunk and trailer section
 *   ended with CRLF. Incomplete lines are left unconsumed; call again with more bytes.
 * - `maxData` caps the bytes returned by one call (0 = no cap) so callers can honour read(n).
 * - Strict: chunk-size = 1*HEXDIG (no sign, `0x`, leading whitespace), overflow past 2^53 → 400;
 *   whitespace after the size only before `;`; extensions are `;name[=token|quoted-string]`;
 *   every line ends with CRLF (bare CR/LF → 400); chunk data must be followed by CRLF; the
 *   size line (with extensions) is bounded by `maxChunkLineBytes`, the trailer section by
 *   `maxTrailerBytes` (431), the decoded total by `maxBodyBytes` (413). Trailer fields are
 *   syntax-checked and kept in `trailers`.
 */
import * as bytesModule from "./bytes.ts";
import { ProtocolError } from "./errors.ts";
import { parseFieldLine } from "./request_head.ts";
import type { Limits } from "../config.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { BACKSLASH, CR, DQUOTE, EQUALS, HEX_VALUE, HTAB, LF, SEMICOLON, SP, TCHAR } = bytesModule;

/** Result of one `decode` call. */
export interface ChunkedResult {
  /** Decoded data views into the input buffer. */
  readonly data: Uint8Array[];
  /** Bytes of the input the caller must drop. */
  readonly consumed: number;
  /** True once the whole chunked body (including trailers) has been read. */
  readonly done: boolean;
}

const enum State {
  Size,
  Data,
  DataCrlf,
  Trailer,
  Done,
}

type ChunkLimits = Pick<Limits, "maxChunkLineBytes" | "maxTrailerBytes" | "maxBodyBytes">;

/** Decodes a chunked request body incrementally. */
export class ChunkedDecoder {
  #state = State.Size;
  #remaining = 0;
  #total = 0;
  #trailerBytes = 0;
  #limits: ChunkLimits;
  /** Trailer fields received after the last chunk (lowercase name, value). */
  readonly trailers: Array<[string, string]> = [];

  /** Creates a decoder enforcing `limits`. */
  constructor(limits: ChunkLimits) {
    this.#limits = limits;
  }

  /** True once the last chunk and the trailer section were read. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Total decoded bytes so far. */
  get total(): number {
    return this.#total;
  }

  /** Decodes as much of `buf` as possible; see the module comment. */
  decode(buf: Uint8Array, maxData = 0): ChunkedResult {
    const data: Uint8Array[] = [];
    let pos = 0;
    let given = 0;
    const len = buf.length;
    while (pos < len && this.#state !== State.Done) {
      if (this.#state === State.Data) {
        let take = Math.min(this.#remaining, len - pos);
        if (maxData > 0) take = Math.min(take, maxData - given);
        if (take <= 0) break;
        data.push(buf.subarray(pos, pos + take));
        pos += take;
        given += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = State.DataCrlf;
        continue;
      }
      if (this.#state === State.DataCrlf) {
        if (len - pos < 2) {
          if (buf[pos] !== CR) throw new ProtocolError("INVALID_CHUNK_DATA");
          break;
        }
        if (buf[pos] !== CR || buf[pos + 1] !== LF) throw new ProtocolError("INVALID_CHUNK_DATA");
        pos += 2;
        this.#state = State.Size;
        continue;
      }
      // Size and Trailer states read whole lines.
      const lf = buf.indexOf(LF, pos);
      const isTrailer = this.#state === State.Trailer;
      if (lf < 0) {
        const pending = len - pos;
        // The pending bytes may end with the CR of the line's CRLF, which the limit excludes.
        if (!isTrailer && pending > this.#limits.maxChunkLineBytes + 1) {
          throw new ProtocolError("CHUNK_LINE_TOO_LONG");
        }
        if (isTrailer && this.#trailerBytes + pending > this.#limits.maxTrailerBytes) {
          throw new ProtocolError("TRAILERS_TOO_LARGE");
        }
        const cr = buf.indexOf(CR, pos);
        if (cr >= 0 && cr < len - 1) throw new ProtocolError("INVALID_LINE_ENDING", "bare CR");
        break;
      }
      if (lf === pos || buf[lf - 1] !== CR) throw new ProtocolError("INVALID_LINE_ENDING");
      const eol = lf - 1;
      const cr = buf.indexOf(CR, pos);
      if (cr < eol) throw new ProtocolError("INVALID_LINE_ENDING", "bare CR");
      if (isTrailer) {
        this.#trailerBytes += lf + 1 - pos;
        if (this.#trailerBytes > this.#limits.maxTrailerBytes) {
          throw new ProtocolError("TRAILERS_TOO_LARGE");
        }
        if (eol === pos) {
          this.#state = State.Done;
        } else {
          try {
            this.trailers.push(parseFieldLine(buf, pos, eol));
          } catch {
            throw new ProtocolError("INVALID_TRAILER");
          }
        }
      } else {
        if (eol - pos > this.#limits.maxChunkLineBytes) {
          throw new ProtocolError("CHUNK_LINE_TOO_LONG");
        }
        const size = parseChunkSizeLine(buf, pos, eol);
        if (this.#total + size > this.#limits.maxBodyBytes) {
          throw new ProtocolError("BODY_TOO_LARGE");
        }
        this.#total += size;
        if (size === 0) this.#state = State.Trailer;
        else {
          this.#remaining = size;
          this.#state = State.Data;
        }
      }
      pos = lf + 1;
    }
    return { data, consumed: pos, done: this.#state === State.Done };
  }
}

/** Parses `chunk-size [chunk-ext]` between `start` and `end` (CRLF excluded). */
function parseChunkSizeLine(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let size = 0;
  while (i < end && HEX_VALUE[buf[i]] !== 255) {
    size = size * 16 + HEX_VALUE[buf[i]];
    if (size > Number.MAX_SAFE_INTEGER) throw new ProtocolError("INVALID_CHUNK_SIZE", "overflow");
    i++;
  }
  if (i === start) throw new ProtocolError("INVALID_CHUNK_SIZE");
  if (i === end) return size;
  // BWS is allowed only before ';' (RFC 9112 §7.1.1).
  let j = i;
  while (j < end && (buf[j] === SP || buf[j] === HTAB)) j++;
  if (j === end || buf[j] !== SEMICOLON) throw new ProtocolError("INVALID_CHUNK_SIZE");
  parseExtensions(buf, j, end);
  return size;
}

/** chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) — validated, then ignored. */
function parseExtensions(buf: Uint8Array, start: number, end: number): void {
  let i = start;
  const ws = () => {
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
  };
  while (i < end) {
    ws();
    if (i >= end) break;
    if (buf[i] !== SEMICOLON) throw new ProtocolError("INVALID_CHUNK_EXTENSION");
    i++;
    ws();
    const ns = i;
    while (i < end && TCHAR[buf[i]] === 1) i++;
    if (i === ns) throw new ProtocolError("INVALID_CHUNK_EXTENSION", "empty name");
    ws();
    if (i < end && buf[i] === EQUALS) {
      i++;
      ws();
      if (i < end && buf[i] === DQUOTE) {
        i++;
        let closed = false;
        while (i < end) {
          const b = buf[i];
          if (b === BACKSLASH) {
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            const q = buf[i + 1];
            if (i + 1 >= end || (q !== HTAB && (q < 0x20 || q === 0x7f))) break;
            i += 2;
            continue;
          }
          if (b === DQUOTE) {
            closed = true;
            i++;
            break;
          }
          if (b !== HTAB && (b < 0x20 || b === 0x7f)) break;
          i++;
        }
        if (!closed || i > end) throw new ProtocolError("INVALID_CHUNK_EXTENSION", "quote");
      } else {
        const vs = i;
        while (i < end && TCHAR[buf[i]] === 1) i++;
        if (i === vs) throw new ProtocolError("INVALID_CHUNK_EXTENSION", "empty value");
      }
    }
  }
}

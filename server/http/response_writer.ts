/**
 * The response side of one connection: validates what the app hands over and encodes it into the
 * output queue under the framing the server chooses. Part of the I/O-free connection core.
 *
 * Contract (sans-IO, synchronous):
 * - One writer per connection, `reset` for every request with the request's method, minor
 *   version and whether the connection may stay open.
 * - `head` validates and stores the status and headers (`validateResponseHead`); nothing is
 *   queued until the first body bytes or `end`. The head is written then, with Date and Server
 *   added unless present and the framing chosen: Content-Length when declared (or known to be 0
 *   at `end`), chunked on HTTP/1.1, close-delimited on HTTP/1.0; no body for HEAD, 1xx, 204 and
 *   304 (RFC 9110 §6.4.1); Content-Length dropped where the status forbids it.
 * - `Connection: close` is sent (and `keepAlive` cleared) when the request or the framing demands
 *   it, when the server is shutting down, when `closeAfter` was set, or when the app answers
 *   before touching a body the client was told to send or that is too large to drain (the
 *   `unreadBodyCloses` hook, RFC 9110 §10.1.1); HTTP/1.0 keep-alive is confirmed explicitly.
 * - `body`/`text` never queue more than a declared Content-Length (the extra is dropped and
 *   `overrun` set, the connection then closes); `end` reports how many declared bytes were never
 *   sent (the connection then closes).
 * - File bodies (sent by the driver, not queued): `fileRoom(n)` queues the head and says how many
 *   of `n` file bytes the driver may send straight to the socket after the queued output (clipped
 *   to a declared Content-Length like `body`; 0 when the response has no body; -1 under chunked
 *   framing, where the caller sends the file as ordinary chunks); `fileSent(n)` records the bytes
 *   the driver did send.
 * - `rollback` removes this response's bytes from the queue if none was taken for writing yet
 *   (`takeOutput` counts takes), so a failure can still be answered with its own status.
 */
import { utf8Length } from "./bytes.ts";
import { ResponseError } from "./errors.ts";
import { OutputQueue, type QueueMark } from "./output_queue.ts";
import * as outputQueueModule from "./output_queue.ts";
import {
  headerKind,
  type ResponseFraming,
  type ResponseHeadParts,
  validateResponseHead,
  writeResponseHead,
} from "./response_head.ts";
import * as responseHeadModule from "./response_head.ts";
import { statusAllowsBody, statusAllowsContentLength } from "./status.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { COPY_LIMIT } = outputQueueModule;
const { CRLF_BYTES, KIND_CONTENT_LENGTH, LAST_CHUNK } = responseHeadModule;

/** `body` result: nothing queued, bytes copied, or bytes queued by reference. */
export type QueueResult = 0 | 1 | 2;
/** `body`: nothing was queued (no body allowed, or an empty chunk). */
export const QUEUED_NOTHING = 0;
/** `body`: the bytes were copied into the queue. */
export const QUEUED_COPY = 1;
/** `body`: the bytes are queued by reference; the caller must wait until they are written. */
export const QUEUED_REF = 2;
// Module-private copies for the hot paths (see `server/http/bytes.ts`).
const NOTHING = QUEUED_NOTHING, COPY = QUEUED_COPY, REF = QUEUED_REF;

/** What the writer needs to know; plain data and two hooks. */
export interface WriterOptions {
  /** Server header value (empty omits it). */
  readonly serverHeader: string;
  /** Current IMF-fixdate for Date headers ("": none). */
  readonly date: () => string;
  /** Default header lines (`--header`), "" or absent for none. */
  readonly defaultHeaders?: string;
  /** Shared server state: once `shuttingDown`, every response says `Connection: close`. */
  readonly server: { readonly shuttingDown: boolean };
  /** Whether answering now leaves a request body unread that forces the connection to close. */
  readonly unreadBodyCloses: () => boolean;
}

const UTF8 = new TextEncoder();
const NO_HEADERS: ReadonlyArray<readonly [string, string]> = Object.freeze([]);

/** One connection's response encoder; see the module comment. */
export class ResponseWriter {
  /** Bytes waiting to be written, in order. */
  readonly out: OutputQueue = new OutputQueue();
  /** Number of `takeOutput()` calls so far. */
  flushes = 0;
  /** Response status (for the access log). */
  status = 200;
  /** Response bytes queued so far (head included). */
  bytesOut = 0;
  /** Set when the app sent more than its declared Content-Length (the extra was dropped). */
  overrun = false;
  /** Whether the connection may stay open after this response. */
  keepAlive = false;
  /** Whether the head was queued. */
  headQueued = false;
  /** Whether `end` was called. */
  ended = false;
  /** Whether the connection closes after this response. */
  closeAfter = false;
  /** Declared Content-Length of the current response (-1 when none). */
  declared = -1;

  readonly #opts: WriterOptions;
  #method = "GET";
  #minor = 1;
  #reason = "";
  #headers: ReadonlyArray<readonly [string, string]> = NO_HEADERS;
  /** `declared` came from `head()`'s `length`, not from the app's headers: the server adds it. */
  #addLength = false;
  #hasHead = false;
  #framing: ResponseFraming = "none";
  #sent = 0;
  /** Where this response's head starts in `out` (valid while `#marked`); one record, reused. */
  readonly #markSlot: QueueMark = { pieces: 0, seg: null, start: 0, len: 0, size: 0 };
  /** The parts handed to `writeResponseHead`, one record reused (it keeps none of them). */
  readonly #parts: ResponseHeadParts = {
    status: 200,
    reason: "",
    headers: NO_HEADERS,
    date: "",
    server: "",
    framing: "none",
    connection: "",
    length: -1,
    defaults: "",
  };
  #marked = false;
  #flushMark = 0;

  /** Creates the writer for a connection. */
  constructor(opts: WriterOptions) {
    this.#opts = opts;
    // The same for every response on the connection: set once.
    this.#parts.server = opts.serverHeader;
    this.#parts.defaults = opts.defaultHeaders ?? "";
  }

  /** Body bytes queued or sent so far (no head, no chunk framing), for the access log. */
  get bodyBytes(): number {
    return this.#sent;
  }

  /** Starts the response to a request with `method` and HTTP/1.`minor`. */
  reset(method: string, minor: number, keepAlive: boolean): void {
    this.#method = method;
    this.#minor = minor;
    this.keepAlive = keepAlive;
    this.status = 200;
    this.bytesOut = 0;
    this.overrun = false;
    this.headQueued = false;
    this.ended = false;
    this.closeAfter = false;
    this.declared = -1;
    this.#reason = "";
    this.#headers = NO_HEADERS;
    this.#addLength = false;
    this.#hasHead = false;
    this.#framing = "none";
    this.#sent = 0;
    this.#marked = false;
    this.#markSlot.seg = null; // An idle connection keeps no segment alive.
  }

  /**
   * Sets the response head; throws `ResponseError` naming the broken rule. `length` (≥ 0) is the
   * whole body's size when the caller knows it: it becomes the Content-Length unless `headers`
   * declare one (theirs wins).
   */
  head(
    status: number,
    headers: ReadonlyArray<readonly [string, string]>,
    reason = "",
    length = -1,
  ): void {
    if (this.headQueued) {
      throw new ResponseError("response-order", "head() after the head was sent");
    }
    this.declared = validateResponseHead(status, headers, reason);
    this.#addLength = this.declared < 0 && length >= 0;
    if (this.#addLength) this.declared = length;
    this.status = status;
    this.#reason = reason;
    this.#headers = headers;
    this.#hasHead = true;
  }

  #queueHead(): void {
    if (!this.#hasHead) throw new ResponseError("response-order", "write() before head()");
    const opts = this.#opts;
    const allowsBody = statusAllowsBody(this.status, this.#method);
    let headers = this.#headers;
    /** A Content-Length the server writes itself (-1: none). */
    let length = -1;
    if (this.declared >= 0) {
      this.#framing = allowsBody ? "length" : "none";
      const allowsLength = statusAllowsContentLength(this.status);
      if (this.#addLength) {
        if (allowsLength) length = this.declared;
      } else if (!allowsLength) {
        headers = headers.filter(([n]) => headerKind(n) !== KIND_CONTENT_LENGTH);
      }
    } else if (!allowsBody) {
      this.#framing = "none";
    } else if (this.ended) {
      // end() with no body written: the length is known to be 0.
      this.#framing = "length";
      this.declared = 0;
      length = 0;
    } else if (this.#minor === 1) {
      this.#framing = "chunked";
    } else {
      this.#framing = "close";
      this.keepAlive = false;
    }
    if (this.closeAfter || opts.server.shuttingDown || opts.unreadBodyCloses()) {
      this.keepAlive = false;
    }
    const connection = !this.keepAlive ? "close" : this.#minor === 0 ? "keep-alive" : "";
    this.#headers = NO_HEADERS; // Written below; not kept alive for the rest of the exchange.
    this.out.mark(this.#markSlot);
    this.#marked = true;
    this.#flushMark = this.flushes;
    const parts = this.#parts;
    parts.status = this.status;
    parts.reason = this.#reason;
    parts.headers = headers;
    parts.date = opts.date();
    parts.framing = this.#framing;
    parts.connection = connection;
    parts.length = length;
    this.bytesOut += writeResponseHead(this.out, parts);
    parts.headers = NO_HEADERS; // Not kept alive for the rest of the exchange.
    this.headQueued = true;
    if (!this.keepAlive) this.closeAfter = true;
  }

  /** Queues a body chunk (the head first if still pending); see `QueueResult`. */
  body(chunk: Uint8Array): QueueResult {
    if (this.ended) throw new ResponseError("response-order", "write() after end()");
    if (!(chunk instanceof Uint8Array)) {
      throw new ResponseError("body-bytes", "body chunks must be Uint8Array");
    }
    return this.#push(chunk, "", chunk.length);
  }

  /** Queues `text` as UTF-8 (`n` is its encoded length); see `QueueResult`. */
  text(text: string, n: number = utf8Length(text)): QueueResult {
    if (this.ended) throw new ResponseError("response-order", "write() after end()");
    // Large text goes out as bytes, queued by reference like any large chunk.
    if (n >= COPY_LIMIT) return this.#push(UTF8.encode(text), "", n);
    return this.#push(null, text, n);
  }

  /** Queues `chunk`, or when it is null `text` (`n` UTF-8 bytes), under the chosen framing. */
  #push(chunk: Uint8Array | null, text: string, n: number): QueueResult {
    if (!this.headQueued) this.#queueHead();
    if (n === 0) return NOTHING;
    const out = this.out;
    switch (this.#framing) {
      case "none":
        return NOTHING;
      case "length": {
        const room = this.declared - this.#sent;
        if (n > room) {
          // Extra bytes beyond the declared length are dropped; the connection closes after.
          this.overrun = true;
          this.closeAfter = true;
          chunk = (chunk ?? UTF8.encode(text)).subarray(0, room);
          n = room;
          if (n === 0) return NOTHING;
        }
        if (chunk !== null) out.pushBytes(chunk);
        else out.pushUtf8(text, n);
        break;
      }
      case "chunked":
        out.pushChunkHeader(n);
        if (chunk !== null) out.pushBytes(chunk);
        else out.pushUtf8(text, n);
        out.pushBytes(CRLF_BYTES);
        this.bytesOut += 2 + (n.toString(16).length + 2);
        break;
      case "close":
        if (chunk !== null) out.pushBytes(chunk);
        else out.pushUtf8(text, n);
        break;
    }
    this.#sent += n;
    this.bytesOut += n;
    return n >= COPY_LIMIT ? REF : COPY;
  }

  /** How many of `n` file bytes the driver may send after the queued output; see the module comment. */
  fileRoom(n: number): number {
    if (this.ended) throw new ResponseError("response-order", "write() after end()");
    if (!this.headQueued) this.#queueHead();
    switch (this.#framing) {
      case "none":
        return 0;
      case "chunked":
        return -1;
      case "length": {
        const room = this.declared - this.#sent;
        if (n <= room) return n;
        this.overrun = true;
        this.closeAfter = true;
        return room;
      }
      case "close":
        return n;
    }
  }

  /** The driver sent `n` file bytes granted by `fileRoom`. */
  fileSent(n: number): void {
    this.#sent += n;
    this.bytesOut += n;
  }

  /**
   * Finishes the response (queues the head if still pending, the last chunk when chunked).
   * Returns the number of declared Content-Length bytes that were never sent, 0 normally.
   */
  end(): number {
    if (this.ended) return 0;
    this.ended = true;
    if (!this.headQueued) this.#queueHead();
    if (this.#framing === "chunked") {
      this.out.pushBytes(LAST_CHUNK);
      this.bytesOut += LAST_CHUNK.length;
    } else if (this.#framing === "length" && this.#sent < this.declared) {
      this.closeAfter = true;
      return this.declared - this.#sent;
    }
    return 0;
  }

  /** Drops this response's queued bytes if none was taken for writing; true if it could. */
  rollback(): boolean {
    if (!this.headQueued) return true;
    if (this.flushes !== this.#flushMark) return false;
    if (this.#marked) this.out.truncate(this.#markSlot);
    this.headQueued = false;
    return true;
  }

  /** Takes everything queued for writing, in order; counts a take. */
  takeOutput(): Uint8Array[] {
    this.flushes++;
    this.#marked = false; // `rollback` is over once anything is taken.
    this.#markSlot.seg = null;
    return this.out.take();
  }
}

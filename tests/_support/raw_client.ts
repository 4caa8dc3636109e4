/**
 * Raw HTTP/1.1 client support for the conformance suite.
 *
 * Contract:
 * - `parseResponses(text, opts)` splits a latin-1 byte stream (as received from the server) into
 *   responses, framing each one exactly as a client must (RFC 9112 §6.3): 1xx, 204, 304 and
 *   responses to HEAD have no body; otherwise `Transfer-Encoding: chunked`, then
 *   `Content-Length`, else the body runs to the end of the stream (close-delimited). A body that
 *   happens to contain "HTTP/1.1 200" therefore never counts as a response. A response whose
 *   bytes have not all arrived is reported in `partial`, not in `responses`.
 * - `RawClient` owns one TCP connection to 127.0.0.1 and reads in the background into `text`
 *   (latin-1, lossless), so tests can wait for "n responses", "closed" or "silence" with a
 *   timeout. Strings are sent as latin-1 (each code unit one byte), so `"\xa0"` is the byte 0xA0.
 *   `close()` closes the socket and awaits the reader, so Deno's sanitizers stay quiet.
 * - `roundTrip(port, request, opts)` is the one-shot form: connect, send, wait, parse, close.
 */

/** One response parsed off the wire. */
export interface ParsedResponse {
  /** "HTTP/1.1". */
  readonly version: string;
  /** Status code. */
  readonly status: number;
  /** Reason phrase. */
  readonly reason: string;
  /** Header fields in order, names lowercased. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The decoded body (chunked framing removed), latin-1. */
  readonly body: string;
  /** How the body was delimited. */
  readonly framing: "none" | "length" | "chunked" | "close";
  /** Trailer fields of a chunked body. */
  readonly trailers: ReadonlyArray<readonly [string, string]>;
  /** The response's exact bytes (latin-1). */
  readonly raw: string;
}

/** Result of `parseResponses`. */
export interface ParseResult {
  /** Every complete response, interim (1xx) ones included, in order. */
  readonly all: ParsedResponse[];
  /** Complete final (non-1xx) responses, in order. */
  readonly responses: ParsedResponse[];
  /** Bytes that did not form a complete response (a partial head or body), or "". */
  readonly partial: string;
}

/** Options for `parseResponses`. */
export interface ParseOptions {
  /** Request methods in order, one per final response; "HEAD" responses have no body. */
  readonly methods?: readonly string[];
  /** Whether the stream ended (EOF); only then is a close-delimited body complete. */
  readonly eof?: boolean;
}

const STATUS_LINE = /^HTTP\/(\d\.\d) (\d{3}) ?([^\r\n]*)$/;

/** Splits `text` into responses; throws on bytes that cannot start a response. */
export function parseResponses(text: string, opts: ParseOptions = {}): ParseResult {
  const all: ParsedResponse[] = [];
  const responses: ParsedResponse[] = [];
  let pos = 0;
  while (pos < text.length) {
    const headEnd = text.indexOf("\r\n\r\n", pos);
    if (headEnd < 0) break;
    const lines = text.slice(pos, headEnd).split("\r\n");
    const m = STATUS_LINE.exec(lines[0]);
    if (!m) {
      throw new Error(`not a status line at byte ${pos}: ${JSON.stringify(lines[0].slice(0, 80))}`);
    }
    const status = Number(m[2]);
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`bad response header line ${JSON.stringify(line)}`);
      headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
    }
    const get = (n: string) => headers.filter(([k]) => k === n).map(([, v]) => v).join(", ");
    const bodyStart = headEnd + 4;
    const interim = status >= 100 && status < 200;
    const method = interim ? undefined : opts.methods?.[responses.length];
    let framing: ParsedResponse["framing"];
    let body = "";
    let trailers: Array<[string, string]> = [];
    let end: number;
    if (interim || status === 204 || status === 304 || method === "HEAD") {
      framing = "none";
      end = bodyStart;
    } else if (/(^|,)\s*chunked\s*$/i.test(get("transfer-encoding"))) {
      framing = "chunked";
      const r = decodeChunked(text, bodyStart);
      if (r === null) break;
      body = r.body;
      trailers = r.trailers;
      end = r.end;
    } else if (get("content-length") !== "") {
      framing = "length";
      const n = Number(get("content-length"));
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad response Content-Length ${n}`);
      if (text.length - bodyStart < n) break;
      body = text.slice(bodyStart, bodyStart + n);
      end = bodyStart + n;
    } else {
      framing = "close";
      if (!opts.eof) break;
      body = text.slice(bodyStart);
      end = text.length;
    }
    const res: ParsedResponse = {
      version: m[1],
      status,
      reason: m[3],
      headers,
      body,
      framing,
      trailers,
      raw: text.slice(pos, end),
    };
    all.push(res);
    if (!interim) responses.push(res);
    pos = end;
  }
  return { all, responses, partial: text.slice(pos) };
}

function decodeChunked(
  text: string,
  start: number,
): { body: string; trailers: Array<[string, string]>; end: number } | null {
  let pos = start;
  let body = "";
  while (true) {
    const eol = text.indexOf("\r\n", pos);
    if (eol < 0) return null;
    const sizeText = text.slice(pos, eol).split(";")[0].trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
      throw new Error(`bad chunk size line ${JSON.stringify(text.slice(pos, eol))}`);
    }
    const size = parseInt(sizeText, 16);
    pos = eol + 2;
    if (size === 0) break;
    if (text.length < pos + size + 2) return null;
    body += text.slice(pos, pos + size);
    if (text.slice(pos + size, pos + size + 2) !== "\r\n") throw new Error("chunk without CRLF");
    pos += size + 2;
  }
  const trailers: Array<[string, string]> = [];
  while (true) {
    const eol = text.indexOf("\r\n", pos);
    if (eol < 0) return null;
    const line = text.slice(pos, eol);
    pos = eol + 2;
    if (line === "") break;
    const colon = line.indexOf(":");
    trailers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { body, trailers, end: pos };
}

/** All values of header `name` joined with ", ", or undefined when absent. */
export function header(res: ParsedResponse, name: string): string | undefined {
  const n = name.toLowerCase();
  const values = res.headers.filter(([k]) => k === n).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(", ");
}

/** Whether the comma list in header `name` contains `token` (case-insensitive). */
export function hasToken(res: ParsedResponse, name: string, token: string): boolean {
  const v = header(res, name);
  if (v === undefined) return false;
  return v.split(",").some((t) => t.trim().toLowerCase() === token.toLowerCase());
}

/** Encodes a string as latin-1 (each code unit one byte; must be < 256). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error(`code unit ${c} is not a byte`);
    out[i] = c;
  }
  return out;
}

function latin1Text(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A raw TCP client with a background reader; see the module comment. */
export class RawClient {
  /** Everything received so far (latin-1). */
  text = "";
  /** True once the server closed (EOF) or reset the connection. */
  peerClosed = false;
  /** The read error that ended the stream, if it was not a clean EOF. */
  readError: unknown = null;
  readonly #conn: Deno.TcpConn;
  readonly #waiters = new Set<() => void>();
  readonly #reader: Promise<void>;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reader = this.#readLoop();
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.text += latin1Text(buf.subarray(0, n));
        this.#notify();
      }
    } catch (err) {
      if (!this.#closed) this.readError = err;
    }
    if (!this.#closed) this.peerClosed = true;
    this.#notify();
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Sends `data` completely; resolves false if the server already closed or reset. */
  async send(data: string | Uint8Array): Promise<boolean> {
    const bytes = typeof data === "string" ? latin1Bytes(data) : data;
    try {
      let off = 0;
      while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends each part with `gapMs` between parts; stops early if a write fails. */
  async sendParts(parts: ReadonlyArray<string | Uint8Array>, gapMs = 10): Promise<boolean> {
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) await sleep(gapMs);
      if (!(await this.send(parts[i]))) return false;
    }
    return true;
  }

  /** Half-closes: no more bytes will be sent, the read side stays open. */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite().catch(() => {});
  }

  /** Waits until `pred()` holds, the peer closed, or `timeoutMs` passed; returns `pred()`. */
  async waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (pred()) return true;
      const left = deadline - Date.now();
      if (this.peerClosed || left <= 0) return pred();
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Waits for the server to close the connection; true if it did within `timeoutMs`. */
  waitClosed(timeoutMs = 2000): Promise<boolean> {
    return this.waitFor(() => this.peerClosed, timeoutMs);
  }

  /** Waits for `n` complete final responses (or close / timeout) and returns the parse. */
  async waitResponses(
    n: number,
    timeoutMs = 2000,
    methods?: readonly string[],
  ): Promise<ParseResult> {
    await this.waitFor(() => this.parse(methods).responses.length >= n, timeoutMs);
    return this.parse(methods);
  }

  /** Waits `ms` and returns true if no byte arrived and the connection stayed open meanwhile. */
  async silentFor(ms: number): Promise<boolean> {
    const before = this.text.length;
    await this.waitFor(() => this.text.length !== before, ms);
    return this.text.length === before && !this.peerClosed;
  }

  /** Parses everything received so far. */
  parse(methods?: readonly string[]): ParseResult {
    return parseResponses(this.text, { methods, eof: this.peerClosed });
  }

  /** Closes the socket and waits for the background reader to finish. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    }
    await this.#reader;
  }
}

/** Options for `roundTrip`. */
export interface RoundTripOptions {
  /** Final responses to wait for before `settleMs` starts (default 1). */
  responses?: number;
  /** Keep reading until the server closes (up to `timeoutMs`) instead of stopping at `responses`. */
  untilClose?: boolean;
  /** After the responses arrived, keep listening this long for anything extra (default 0). */
  settleMs?: number;
  /** Overall wait (default 3000 ms). */
  timeoutMs?: number;
  /** Request methods in order (HEAD responses have no body). */
  methods?: readonly string[];
  /** Half-close after sending. */
  halfClose?: boolean;
  /** Pause between parts when `request` is an array (default 10 ms). */
  gapMs?: number;
}

/** Result of `roundTrip`. */
export interface RoundTrip extends ParseResult {
  /** Everything received (latin-1). */
  readonly text: string;
  /** Whether the server closed the connection. */
  readonly closed: boolean;
}

/** Connects, sends `request` (parts with pauses), waits per `opts`, parses and closes. */
export async function roundTrip(
  port: number,
  request: string | Uint8Array | ReadonlyArray<string | Uint8Array>,
  opts: RoundTripOptions = {},
): Promise<RoundTrip> {
  const c = await RawClient.connect(port);
  try {
    const parts = typeof request === "string" || request instanceof Uint8Array
      ? [request]
      : request;
    await c.sendParts(parts, opts.gapMs ?? 10);
    if (opts.halfClose) await c.closeWrite();
    const timeout = opts.timeoutMs ?? 3000;
    if (opts.untilClose) await c.waitClosed(timeout);
    else {
      await c.waitResponses(opts.responses ?? 1, timeout, opts.methods);
      if (opts.settleMs) await c.silentFor(opts.settleMs);
    }
    return { ...c.parse(opts.methods), text: c.text, closed: c.peerClosed };
  } finally {
    await c.close();
  }
}

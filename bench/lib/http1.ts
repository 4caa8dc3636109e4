/**
 * A small, strict HTTP/1.1 response reader over a raw `Deno.Conn`, used by the benchmark to check
 * responses byte for byte (pipelined requests, `Connection: close`, uploads) without going
 * through `fetch`, and by the idle-connection and upload clients.
 *
 * Contract: `ResponseReader.next()` resolves to the next complete response on the connection
 * (status, headers in order, body de-chunked, framing used) or `null` at a clean EOF between
 * responses; it throws on malformed framing, EOF in the middle of a response, or when no byte
 * arrives for `timeoutMs`. Bytes after the last response stay buffered (`leftover()`).
 */

const CRLFCRLF = [13, 10, 13, 10];
const decoder = new TextDecoder("latin1");

/** One parsed HTTP/1.x response. */
export interface ParsedResponse {
  /** HTTP version from the status line, e.g. "HTTP/1.1". */
  version: string;
  /** Status code. */
  status: number;
  /** Reason phrase (may be empty). */
  reason: string;
  /** Header fields in arrival order, names as sent. */
  headers: Array<[string, string]>;
  /** The body, de-chunked. */
  body: Uint8Array;
  /** How the body was delimited. */
  framing: "content-length" | "chunked" | "eof" | "none";
  /** Bytes of the status line and header block, final CRLF included. */
  headBytes: number;
}

/** Case-insensitive lookup of the first header named `name`. */
export function header(res: ParsedResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of res.headers) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Writes all of `bytes` to `conn` (handles short writes). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Reads responses one after the other from a connection. */
export class ResponseReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #eof = false;
  #timeoutMs: number;
  #scratch: Uint8Array;

  /** `timeoutMs` bounds the wait for each socket read; `readBytes` is the size of each read. */
  constructor(conn: Deno.Conn, timeoutMs = 10_000, readBytes = 64 * 1024) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.#scratch = new Uint8Array(readBytes);
  }

  /** Bytes received but not consumed by a response. */
  leftover(): Uint8Array {
    return this.#buf;
  }

  /** Whether the peer closed its side. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Reads until EOF; resolves to whatever arrived after the last consumed response. */
  async drainToEof(): Promise<Uint8Array> {
    while (!this.#eof) await this.#fill();
    return this.#buf;
  }

  /** The next response, or `null` at a clean EOF before its first byte. */
  async next(requestMethod = "GET"): Promise<ParsedResponse | null> {
    let headEnd = indexOf(this.#buf, CRLFCRLF, 0);
    while (headEnd < 0) {
      if (this.#eof) {
        if (this.#buf.length === 0) return null;
        throw new Error(`EOF inside a response head (${this.#buf.length} bytes buffered)`);
      }
      await this.#fill();
      headEnd = indexOf(this.#buf, CRLFCRLF, 0);
    }
    const headText = decoder.decode(this.#buf.subarray(0, headEnd));
    const headBytes = headEnd + 4;
    const lines = headText.split("\r\n");
    const m = /^(HTTP\/1\.[01]) (\d{3}) ?(.*)$/.exec(lines[0]);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
      headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    const res: ParsedResponse = {
      version: m[1],
      status: Number(m[2]),
      reason: m[3],
      headers,
      body: new Uint8Array(0),
      framing: "none",
      headBytes,
    };
    this.#consume(headBytes);
    const te = header(res, "transfer-encoding");
    const cl = header(res, "content-length");
    if (
      requestMethod === "HEAD" || res.status === 204 || res.status === 304 ||
      (res.status >= 100 && res.status < 200)
    ) {
      return res;
    }
    if (te !== undefined) {
      if (te.toLowerCase() !== "chunked") throw new Error(`unexpected Transfer-Encoding ${te}`);
      res.framing = "chunked";
      res.body = await this.#readChunked();
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new Error(`bad Content-Length ${cl}`);
      res.framing = "content-length";
      res.body = await this.#readExactly(Number(cl));
    } else {
      res.framing = "eof";
      res.body = (await this.drainToEof()).slice();
      this.#buf = new Uint8Array(0);
    }
    return res;
  }

  async #readExactly(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (this.#eof) throw new Error(`EOF after ${this.#buf.length} of ${n} body bytes`);
      await this.#fill();
    }
    const out = this.#buf.slice(0, n);
    this.#consume(n);
    return out;
  }

  async #readLine(): Promise<string> {
    let end = indexOf(this.#buf, [13, 10], 0);
    while (end < 0) {
      if (this.#eof) throw new Error("EOF inside chunked framing");
      await this.#fill();
      end = indexOf(this.#buf, [13, 10], 0);
    }
    const line = decoder.decode(this.#buf.subarray(0, end));
    this.#consume(end + 2);
    return line;
  }

  async #readChunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const sizeLine = (await this.#readLine()).split(";")[0].trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeLine)) throw new Error(`bad chunk size ${sizeLine}`);
      const size = parseInt(sizeLine, 16);
      if (size === 0) break;
      const data = await this.#readExactly(size);
      parts.push(data);
      total += size;
      if ((await this.#readLine()) !== "") throw new Error("missing CRLF after chunk data");
    }
    while ((await this.#readLine()) !== "") {
      // trailer fields are ignored
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  #consume(n: number): void {
    this.#buf = this.#buf.subarray(n);
  }

  async #fill(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#timeoutMs);
    });
    const read = this.#conn.read(this.#scratch);
    let r: number | null | "timeout";
    try {
      r = await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (r === "timeout") {
      read.catch(() => {});
      throw new Error(`no data for ${this.#timeoutMs} ms`);
    }
    if (r === null) {
      this.#eof = true;
      return;
    }
    const merged = new Uint8Array(this.#buf.length + r);
    merged.set(this.#buf, 0);
    merged.set(this.#scratch.subarray(0, r), this.#buf.length);
    this.#buf = merged;
  }
}

function indexOf(hay: Uint8Array, needle: number[], from: number): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

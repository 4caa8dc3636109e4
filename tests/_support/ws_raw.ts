/**
 * Test support: a raw WebSocket client over a plain TCP socket, for what Deno's `WebSocket`
 * client cannot do (hand-made handshakes, pings, fragments, invalid frames).
 *
 * Contract: `RawWs.connect(port, opts)` sends an opening handshake (or `opts.request` verbatim),
 * reads the response head and returns the client with the head's text and any bytes that
 * followed it. `send*` write masked frames built with `encodeFrame`; `nextFrame(ms)` returns the
 * next server frame (parsed with `expectMasked: false`), or `"eof"`/`"timeout"`; `close()` closes
 * the socket and never throws.
 */
import { encodeFrame, type Frame, parseFrame } from "../../server/http/websocket_frame.ts";

const enc = new TextEncoder();

/** The RFC 6455 sample nonce; its accept key is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`. */
export const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** Options for `RawWs.connect`. */
export interface RawWsOptions {
  /** Request path (default "/"). */
  path?: string;
  /** Extra header lines (`"Name: value"`). */
  headers?: string[];
  /** Replaces the whole request (string sent as is). */
  request?: string;
  /** Bytes sent right after the request, in the same write. */
  extra?: Uint8Array;
}

/** A raw client connection; see the module comment. */
export class RawWs {
  readonly conn: Deno.Conn;
  /** The response head (status line and fields, latin-1) up to the blank line. */
  readonly head: string;
  #buf: Uint8Array;
  #closed = false;

  private constructor(conn: Deno.Conn, head: string, rest: Uint8Array) {
    this.conn = conn;
    this.head = head;
    this.#buf = rest;
  }

  /** The response status code. */
  get status(): number {
    return Number(this.head.slice(9, 12));
  }

  /** A response header's value (case-insensitive name), or undefined. */
  header(name: string): string | undefined {
    for (const line of this.head.split("\r\n").slice(1)) {
      const i = line.indexOf(":");
      if (i > 0 && line.slice(0, i).toLowerCase() === name.toLowerCase()) {
        return line.slice(i + 1).trim();
      }
    }
    return undefined;
  }

  /** Connects, performs the handshake and reads the response head. */
  static async connect(port: number, opts: RawWsOptions = {}): Promise<RawWs> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const request = opts.request ??
      [
        `GET ${opts.path ?? "/"} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
        "Sec-WebSocket-Version: 13",
        ...(opts.headers ?? []),
        "",
        "",
      ].join("\r\n");
    const req = enc.encode(request);
    const all = new Uint8Array(req.length + (opts.extra?.length ?? 0));
    all.set(req);
    if (opts.extra) all.set(opts.extra, req.length);
    await writeAll(conn, all);
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    while (true) {
      const end = indexOfHeadEnd(buf);
      if (end >= 0) {
        const head = latin1(buf.subarray(0, end));
        return new RawWs(conn, head, buf.slice(end + 4));
      }
      const n = await conn.read(chunk);
      if (n === null) {
        return new RawWs(conn, latin1(buf), new Uint8Array(0));
      }
      buf = join(buf, chunk.subarray(0, n));
    }
  }

  /** Bytes received after the head that no frame consumed yet (for non-101 bodies). */
  get pending(): Uint8Array {
    return this.#buf;
  }

  /** Writes raw bytes. */
  send(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Writes one masked frame. */
  sendFrame(
    opcode: number,
    payload: Uint8Array | string = new Uint8Array(0),
    opts: { fin?: boolean; rsv?: number; masked?: boolean } = {},
  ): Promise<void> {
    const data = typeof payload === "string" ? enc.encode(payload) : payload;
    const mask = opts.masked === false ? undefined : crypto.getRandomValues(new Uint8Array(4));
    return this.send(encodeFrame(opcode, data, { fin: opts.fin, rsv: opts.rsv, mask }));
  }

  /** The next frame from the server, `"eof"` when the server closed TCP, `"timeout"` after `ms`. */
  async nextFrame(ms = 3000): Promise<Frame | "eof" | "timeout"> {
    const deadline = Date.now() + ms;
    const chunk = new Uint8Array(65536);
    while (true) {
      // RSV1 is reported as `compressed` (permessage-deflate); the tests judge it.
      const r = parseFrame(this.#buf, { expectMasked: false, allowCompressed: true });
      if (r.kind === "frame") {
        this.#buf = this.#buf.slice(r.consumed);
        return r.frame;
      }
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((res) => {
        timer = setTimeout(() => res("timeout"), left);
      });
      const read = this.conn.read(chunk).catch(() => null);
      const n = await Promise.race([read, timeout]);
      clearTimeout(timer);
      if (n === "timeout") {
        this.close();
        await read;
        return "timeout";
      }
      if (n === null) return "eof";
      this.#buf = join(this.#buf, chunk.subarray(0, n));
    }
  }

  /** Reads until EOF (discarding frames); true if EOF came within `ms`. */
  async waitEof(ms = 3000): Promise<boolean> {
    while (true) {
      const f = await this.nextFrame(ms);
      if (f === "eof") return true;
      if (f === "timeout") return false;
    }
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function indexOfHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/**
 * Correctness checks run against every server before anything is timed: a benchmark of a server
 * that answers wrongly is worthless, so each check throws `VerifyError` with the evidence.
 *
 * Contract:
 * - `verifyHello(port)` checks, through `fetch` and through raw sockets, that `GET /` answers
 *   `200` with exactly `HELLO_BODY` and `CONTENT_TYPE`: one request via fetch, 16 pipelined
 *   requests in one write (16 correct responses in order, nothing extra), and one request with
 *   `Connection: close` (one response, then the server closes).
 * - `verifySink(port)` checks that the upload sink answers with the exact byte count for a
 *   Content-Length body, a chunked body and an empty body.
 * - `verifyStatic(port, files)` checks that every file answers `GET` with `200` and exactly the
 *   file's bytes: once via fetch and `STATIC_PIPELINE` times pipelined in one write on one
 *   keep-alive connection (every response complete, in order, none closing the connection).
 * - Every check uses its own connection and closes it, so no idle connection is left behind.
 */
import { CONTENT_TYPE, HELLO_BODY } from "../apps/payload.mjs";
import { header, type ParsedResponse, ResponseReader, writeAll } from "./http1.ts";

/** A server answered something other than what every benchmark app must answer. */
export class VerifyError extends Error {
  /** Creates the error; `name` is "VerifyError". */
  constructor(message: string) {
    super(message);
    this.name = "VerifyError";
  }
}

/** What the checks saw, kept in the results for the record. */
export interface VerifyReport {
  /** Checks that passed, by name. */
  checks: string[];
  /** The raw head of one keep-alive response (status line and headers). */
  sampleHead: string;
  /** Bytes of one complete keep-alive response on the wire (head plus body). */
  responseBytes: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function expectResponse(res: ParsedResponse | null, body: string, what: string): ParsedResponse {
  if (res === null) throw new VerifyError(`${what}: connection closed without a response`);
  const got = dec.decode(res.body);
  if (res.status !== 200) throw new VerifyError(`${what}: status ${res.status}, want 200`);
  if (got !== body) {
    throw new VerifyError(`${what}: body ${JSON.stringify(got)}, want ${JSON.stringify(body)}`);
  }
  const ct = header(res, "content-type");
  if (ct !== CONTENT_TYPE) {
    throw new VerifyError(`${what}: Content-Type ${JSON.stringify(ct)}, want ${CONTENT_TYPE}`);
  }
  return res;
}

async function withConn<T>(port: number, fn: (c: Deno.TcpConn) => Promise<T>): Promise<T> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    return await fn(conn);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lsbaws-bench\r\n${extra}\r\n`;
}

/** Verifies the hello-world app on `port`; throws `VerifyError` on any deviation. */
export async function verifyHello(port: number, pipelineDepth = 16): Promise<VerifyReport> {
  const checks: string[] = [];
  // 1. fetch, without keeping a pooled connection open afterwards.
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { client });
    const body = await r.text();
    if (r.status !== 200) throw new VerifyError(`fetch: status ${r.status}, want 200`);
    if (body !== HELLO_BODY) throw new VerifyError(`fetch: body ${JSON.stringify(body)}`);
    if (r.headers.get("content-type") !== CONTENT_TYPE) {
      throw new VerifyError(`fetch: Content-Type ${r.headers.get("content-type")}`);
    }
    checks.push("fetch GET /");
  } finally {
    client.close();
  }
  // 2. pipelined requests in one write.
  let sampleHead = "";
  let responseBytes = 0;
  await withConn(port, async (conn) => {
    await writeAll(conn, enc.encode(get("/").repeat(pipelineDepth)));
    const reader = new ResponseReader(conn, 10_000);
    for (let i = 0; i < pipelineDepth; i++) {
      const res = expectResponse(await reader.next(), HELLO_BODY, `pipelined response ${i + 1}`);
      if (i === 0) {
        sampleHead = `HTTP/1.1 ${res.status} ${res.reason}\r\n` +
          res.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
        responseBytes = res.headBytes + res.body.length;
      }
      if (header(res, "connection")?.toLowerCase() === "close") {
        throw new VerifyError(`pipelined response ${i + 1} closes the connection`);
      }
    }
    // Nothing more may arrive.
    conn.closeWrite();
    const extra = await reader.drainToEof();
    if (extra.length) throw new VerifyError(`${extra.length} unexpected bytes after pipeline`);
    checks.push(`${pipelineDepth} pipelined GET / in one write`);
  });
  // 3. Connection: close.
  await withConn(port, async (conn) => {
    await writeAll(conn, enc.encode(get("/", "Connection: close\r\n")));
    const reader = new ResponseReader(conn, 10_000);
    expectResponse(await reader.next(), HELLO_BODY, "Connection: close response");
    const extra = await reader.drainToEof();
    if (extra.length) throw new VerifyError(`${extra.length} bytes after Connection: close`);
    checks.push("GET / with Connection: close, then EOF");
  });
  return { checks, sampleHead, responseBytes };
}

/** One file a static-file server must serve. */
export interface StaticFile {
  /** Request path, e.g. `/static/4k.bin`. */
  path: string;
  /** The file's exact contents. */
  bytes: Uint8Array;
}

/** Requests pipelined per file by `verifyStatic`. */
export const STATIC_PIPELINE = 4;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Verifies a static-file server on `port`; throws `VerifyError` on any deviation. The report's
 * sample head and size are those of the first file's response.
 */
export async function verifyStatic(
  port: number,
  files: readonly StaticFile[],
): Promise<VerifyReport> {
  const checks: string[] = [];
  let sampleHead = "";
  let responseBytes = 0;
  for (const file of files) {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const r = await fetch(`http://127.0.0.1:${port}${file.path}`, { client });
      const body = new Uint8Array(await r.arrayBuffer());
      if (r.status !== 200) throw new VerifyError(`fetch ${file.path}: status ${r.status}`);
      if (!sameBytes(body, file.bytes)) {
        throw new VerifyError(
          `fetch ${file.path}: ${body.length} bytes that differ from the ${file.bytes.length}-byte file`,
        );
      }
      checks.push(`fetch GET ${file.path} (${file.bytes.length} bytes)`);
    } finally {
      client.close();
    }
    await withConn(port, async (conn) => {
      await writeAll(conn, enc.encode(get(file.path).repeat(STATIC_PIPELINE)));
      const reader = new ResponseReader(conn, 10_000, 256 * 1024);
      for (let i = 0; i < STATIC_PIPELINE; i++) {
        const what = `pipelined GET ${file.path} ${i + 1}`;
        const res = await reader.next();
        if (res === null) throw new VerifyError(`${what}: connection closed without a response`);
        if (res.status !== 200) throw new VerifyError(`${what}: status ${res.status}`);
        if (!sameBytes(res.body, file.bytes)) {
          throw new VerifyError(`${what}: ${res.body.length} bytes that differ from the file`);
        }
        if (header(res, "connection")?.toLowerCase() === "close") {
          throw new VerifyError(`${what}: the response closes the connection`);
        }
        if (sampleHead === "") {
          sampleHead = `HTTP/1.1 ${res.status} ${res.reason}\r\n` +
            res.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
          responseBytes = res.headBytes + res.body.length;
        }
      }
      checks.push(`${STATIC_PIPELINE} pipelined GET ${file.path} on one keep-alive connection`);
    });
  }
  return { checks, sampleHead, responseBytes };
}

/** Verifies the upload sink app on `port`; throws `VerifyError` on any deviation. */
export async function verifySink(port: number): Promise<VerifyReport> {
  const checks: string[] = [];
  const size = 100_003;
  const body = new Uint8Array(size).fill(0x61);
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const r = await fetch(`http://127.0.0.1:${port}/upload`, { method: "POST", body, client });
    const text = await r.text();
    if (r.status !== 200 || text !== String(size)) {
      throw new VerifyError(`fetch POST ${size} bytes: ${r.status} ${JSON.stringify(text)}`);
    }
    checks.push(`fetch POST ${size} bytes (Content-Length)`);
  } finally {
    client.close();
  }
  let sampleHead = "";
  let responseBytes = 0;
  await withConn(port, async (conn) => {
    const chunks = [1, 4096, 65536, 7];
    const total = chunks.reduce((a, b) => a + b, 0);
    let req = "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const n of chunks) req += `${n.toString(16)}\r\n${"z".repeat(n)}\r\n`;
    req += "0\r\n\r\n";
    req += "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
    await writeAll(conn, enc.encode(req));
    const reader = new ResponseReader(conn, 10_000);
    const res = expectResponse(await reader.next(), String(total), "chunked POST");
    sampleHead = `HTTP/1.1 ${res.status} ${res.reason}\r\n` +
      res.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
    responseBytes = res.headBytes + res.body.length;
    checks.push(`raw chunked POST ${total} bytes`);
    expectResponse(await reader.next(), "0", "empty POST after chunked POST");
    checks.push("raw POST with empty body on the same connection");
  });
  return { checks, sampleHead, responseBytes };
}

/**
 * File bodies on both socket backends: `lsbaws.file_wrapper` (gateway), `fileResponse` (fetch)
 * and `--static`, sent with `sendfile(2)` on libc (checked through `fileSendStats`) and by reads
 * on deno: bytes, Content-Length, offsets, HEAD, app-set lengths, middleware, keep-alive, and a
 * client that aborts mid-body (the server survives and the file's fds are closed).
 */
import assert from "node:assert/strict";
import { startApp, type TestIo, testIo, type TestServer } from "../../_support/server.ts";
import { loadLibc } from "../../../server/libc/ffi.ts";
import { fileSendStats } from "../../../server/libc/file_body.ts";

const GATEWAY = "tests/fixtures/apps/files.ts:app";
const FETCH = "tests/fixtures/apps/files.ts:fetchApp";
const MIB = 1024 * 1024;
const enc = new TextEncoder();

/** A 5 MiB file of a recognisable pattern, created once. */
const dir = Deno.makeTempDirSync({ prefix: "lsbaws-files-" });
const BIG = `${dir}/big.bin`;
const bigBytes = new Uint8Array(5 * MIB);
for (let i = 0; i < bigBytes.length; i++) bigBytes[i] = (i * 31 + (i >> 12)) & 0xff;
Deno.writeFileSync(BIG, bigBytes);
/** A file under the static server's `sendfile` threshold (read and written instead). */
Deno.writeFileSync(`${dir}/small.bin`, bigBytes.subarray(0, 4096));
const q = (path: string) => encodeURIComponent(path);

interface Reply {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

function indexOf(hay: Uint8Array, from: number): number {
  for (let i = from; i + 3 < hay.length; i++) {
    if (hay[i] === 13 && hay[i + 1] === 10 && hay[i + 2] === 13 && hay[i + 3] === 10) return i;
  }
  return -1;
}

/** Decodes a complete chunked body (the last response on the connection). */
function dechunk(raw: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    let eol = at;
    while (raw[eol] !== 13) eol++;
    const size = parseInt(new TextDecoder().decode(raw.subarray(at, eol)), 16);
    if (size === 0) break;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

/** Parses consecutive responses (Content-Length framed, or to EOF) out of `bytes`. */
function parse(bytes: Uint8Array, heads: string[]): Reply[] {
  const out: Reply[] = [];
  let at = 0;
  for (const method of heads) {
    const end = indexOf(bytes, at);
    assert.ok(end >= 0, `no complete head at ${at}`);
    const lines = new TextDecoder().decode(bytes.subarray(at, end)).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    let len = method === "HEAD" ? 0 : Number(headers.get("content-length") ?? -1);
    if (len < 0) len = bytes.length - end - 4;
    let body: Uint8Array = bytes.slice(end + 4, Math.min(bytes.length, end + 4 + len));
    if (headers.get("transfer-encoding") === "chunked") body = dechunk(body);
    out.push({ status, headers, body });
    at = end + 4 + len;
  }
  return out;
}

/** Sends `requests` on one connection and reads until EOF (the last one says close). */
async function exchange(port: number, requests: Array<[string, string]>): Promise<Reply[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const text = requests.map(([m, t], i) =>
      `${m} ${t} HTTP/1.1\r\nHost: x\r\n${
        i === requests.length - 1 ? "Connection: close\r\n" : ""
      }\r\n`
    ).join("");
    await conn.write(enc.encode(text));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(256 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of chunks) all.set(c, (o += c.length) - c.length);
    return parse(all, requests.map(([m]) => m));
  } finally {
    conn.close();
  }
}

async function one(port: number, target: string, method = "GET"): Promise<Reply> {
  return (await exchange(port, [[method, target]]))[0];
}

function sameBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: byte ${i} differs`);
  }
}

function fdCount(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

/** Open fds of this process on `path`. */
function fdsOn(path: string): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === path) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Waits (up to 1 s) until no fd is open on `path` and at most `base` fds are; the count. */
async function settle(base: number, path = BIG): Promise<number> {
  let n = fdCount();
  for (let i = 0; i < 50 && (n > base || fdsOn(path) > 0); i++) {
    await new Promise((r) => setTimeout(r, 20));
    n = fdCount();
  }
  assert.equal(fdsOn(path), 0, `an fd on ${path} is still open`);
  return n <= base ? base : n;
}

/** Reads the head and `bytes` of body, then resets the connection. */
async function abortAfter(port: number, target: string, bytes: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
  const buf = new Uint8Array(16 * 1024);
  let got = 0;
  while (got < bytes) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += n;
  }
  conn.close();
}

const only = testIo();
const backends: TestIo[] = only === null ? ["libc", "deno"] : [only];

for (const io of backends) {
  const ignore = io === "libc" && !loadLibc().ok;
  const zeroCopy = io === "libc";

  /** Runs `fn` against `spec` on this backend. */
  const withServer = async (
    spec: string,
    fn: (srv: TestServer) => Promise<void>,
    extra: Record<string, unknown> = {},
  ): Promise<void> => {
    const srv = await startApp(spec, { io, ...extra });
    try {
      await fn(srv);
    } finally {
      await srv.close();
    }
  };

  /** Checks that sendfile moved the bytes on libc, and was never called on deno. */
  const usedSendfile = (before: number, bytes: number): void => {
    const moved = fileSendStats.bytes - before;
    if (zeroCopy) assert.ok(moved >= bytes, `sendfile moved ${moved} bytes, expected ${bytes}`);
    else assert.equal(moved, 0, "the deno backend never calls sendfile");
  };

  Deno.test({
    name: `file_wrapper: a 5 MiB file, whole, from an offset, by path and HEAD [io=${io}]`,
    ignore,
    fn: () =>
      withServer(GATEWAY, async ({ port }) => {
        const before = fileSendStats.bytes;
        const r = await one(port, `/wrap?f=${q(BIG)}`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("content-length"), String(5 * MIB));
        assert.equal(r.headers.get("transfer-encoding"), undefined);
        sameBytes(r.body, bigBytes, "whole file");
        usedSendfile(before, 5 * MIB);

        const pos = 1234567;
        const o = await one(port, `/wrap?f=${q(BIG)}&pos=${pos}`);
        assert.equal(o.headers.get("content-length"), String(5 * MIB - pos));
        sameBytes(o.body, bigBytes.subarray(pos), "from an offset");

        const p = await one(port, `/path?f=${q(BIG)}`);
        sameBytes(p.body, bigBytes, "by path");

        const h = await one(port, `/wrap?f=${q(BIG)}`, "HEAD");
        assert.equal(h.status, 200);
        assert.equal(h.headers.get("content-length"), String(5 * MIB));
        assert.equal(h.body.length, 0);
      }),
  });

  Deno.test({
    name: `file_wrapper: app-set Content-Length shorter and longer than the file [io=${io}]`,
    ignore,
    fn: () =>
      withServer(GATEWAY, async (srv) => {
        const short = await one(srv.port, `/wrap?f=${q(BIG)}&cl=1000`);
        assert.equal(short.headers.get("content-length"), "1000");
        sameBytes(short.body, bigBytes.subarray(0, 1000), "declared 1000");
        // Keep-alive still works after an exact declared length.
        const [a, b] = await exchange(srv.port, [
          ["GET", `/wrap?f=${q(BIG)}&cl=70000&pos=5`],
          ["GET", `/wrap?f=${q(BIG)}&cl=10`],
        ]);
        sameBytes(a.body, bigBytes.subarray(5, 70005), "first on the connection");
        sameBytes(b.body, bigBytes.subarray(0, 10), "second on the connection");

        const long = await one(srv.port, `/wrap?f=${q(BIG)}&pos=${5 * MIB - 100}&cl=500`);
        assert.equal(long.headers.get("content-length"), "500");
        sameBytes(long.body, bigBytes.subarray(5 * MIB - 100), "file shorter than declared");
        assert.ok(
          srv.logs.some((l) => l.includes("app sent 100 of 500 declared Content-Length bytes")),
          srv.logs.join("\n"),
        );
      }),
  });

  Deno.test({
    name: `file_wrapper: a middleware-wrapped or write()-preceded wrapper is iterated [io=${io}]`,
    ignore,
    fn: () =>
      withServer(GATEWAY, async ({ port }) => {
        const before = fileSendStats.bytes;
        const m = await one(port, `/middleware?f=${q(BIG)}`);
        assert.equal(m.status, 200);
        assert.equal(m.headers.get("transfer-encoding"), "chunked");
        sameBytes(m.body, bigBytes, "middleware");
        const w = await one(port, `/written?f=${q(BIG)}`);
        assert.equal(w.headers.get("transfer-encoding"), "chunked");
        sameBytes(w.body.subarray(5), bigBytes, "after write()");
        assert.equal(await settle(fdCount()), fdCount(), "the wrappers were closed");
        assert.equal(fileSendStats.bytes, before, "iterated bodies are not sent with sendfile");
      }),
  });

  Deno.test({
    name: `file bodies: a client that aborts mid-body leaves no fd open [io=${io}]`,
    ignore,
    fn: () =>
      withServer(GATEWAY, async ({ port }) => {
        await one(port, `/wrap?f=${q(BIG)}&cl=10`); // warm up
        const base = fdCount();
        for (let i = 0; i < 3; i++) await abortAfter(port, `/wrap?f=${q(BIG)}`, 200 * 1024);
        assert.equal(await settle(base), base, "fds back to the baseline");
        const r = await one(port, `/wrap?f=${q(BIG)}`);
        sameBytes(r.body, bigBytes, "the server still serves");
        assert.equal(await settle(base), base, "fds back to the baseline after a full send");
      }),
  });

  Deno.test({
    name: `fileResponse: a fetch Response from an open file, offset, length, HEAD [io=${io}]`,
    ignore,
    fn: () =>
      withServer(FETCH, async ({ port }) => {
        const base = fdCount();
        const before = fileSendStats.bytes;
        const r = await one(port, `/file?f=${q(BIG)}`);
        assert.equal(r.headers.get("content-length"), String(5 * MIB));
        sameBytes(r.body, bigBytes, "fileResponse");
        usedSendfile(before, 5 * MIB);
        const o = await one(port, `/file?f=${q(BIG)}&pos=100&cl=4096`);
        assert.equal(o.headers.get("content-length"), "4096");
        sameBytes(o.body, bigBytes.subarray(100, 4196), "offset and length");
        const h = await one(port, `/file?f=${q(BIG)}`, "HEAD");
        assert.equal(h.headers.get("content-length"), String(5 * MIB));
        assert.equal(h.body.length, 0);
        const s = await one(port, `/readable?f=${q(BIG)}`);
        sameBytes(s.body, bigBytes, "plain file.readable (streamed)");
        await abortAfter(port, `/file?f=${q(BIG)}`, 100 * 1024);
        assert.equal(await settle(base), base, "every file closed");
      }),
  });

  Deno.test({
    name: `--static: a large file goes out with sendfile on libc, a range too [io=${io}]`,
    ignore,
    fn: () =>
      withServer("apps/hello.ts:app", async ({ port }) => {
        const small = fileSendStats.bytes;
        const s = await one(port, "/s/small.bin");
        sameBytes(s.body, bigBytes.subarray(0, 4096), "small static file");
        assert.equal(fileSendStats.bytes, small, "a small file is read, not sent with sendfile");
        const before = fileSendStats.bytes;
        const r = await one(port, "/s/big.bin");
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("content-length"), String(5 * MIB));
        sameBytes(r.body, bigBytes, "static file");
        usedSendfile(before, 5 * MIB);
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(enc.encode(
          "GET /s/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-200999\r\n" +
            "Connection: close\r\n\r\n",
        ));
        const chunks: Uint8Array[] = [];
        const buf = new Uint8Array(65536);
        for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
          chunks.push(buf.slice(0, n));
        }
        conn.close();
        const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
        let o = 0;
        for (const c of chunks) all.set(c, (o += c.length) - c.length);
        const [range] = parse(all, ["GET"]);
        assert.equal(range.status, 206);
        sameBytes(range.body, bigBytes.subarray(1000, 201000), "range");
      }, { staticMounts: [`/s=${dir}`] }),
  });
}

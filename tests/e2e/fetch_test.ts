// Fetch apps end to end (Deno.serve semantics on lsbaws's engine), through real sockets:
// `export default { fetch }`, inherited fetch, --interface, streamed request bodies and their
// limits, request.signal, ServeHandlerInfo, streamed responses with back-pressure, 404/500, and
// the one hop-by-hop policy shared with gateway apps.
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";
import { RawClient, roundTrip, sleep } from "../_support/raw_client.ts";
import { AppLoadError } from "../../gateway/errors.ts";
import { events, stats, UNICODE_TEXT } from "./fixtures/fetch_e2e.ts";

const FIXTURE = "tests/e2e/fixtures/fetch_e2e.ts";

async function get(port: number, path: string, init?: RequestInit) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function until(pred: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!pred() && Date.now() < deadline) await sleep(10);
  return pred();
}

Deno.test("fetch: a module whose default export is { fetch } runs as deno serve runs it", async () => {
  const s = await startApp(FIXTURE);
  try {
    const r = await get(s.port, "/hello");
    assert.equal(r.status, 200);
    assert.equal(r.text, "hello");
    assert.equal(r.headers.get("content-length"), "5");
  } finally {
    await s.close();
  }
});

Deno.test("fetch: an inherited fetch (prototype method or getter, as Elysia) is a fetch app", async () => {
  for (const [name, expected] of [["proto", "proto /x"], ["getter", "getter /x"]]) {
    const s = await startApp(`${FIXTURE}:${name}`);
    try {
      assert.equal((await get(s.port, "/x")).text, expected);
    } finally {
      await s.close();
    }
  }
});

Deno.test("fetch: --interface fetch runs a plain function as (request, info); auto as gateway", async () => {
  const asFetch = await startApp(`${FIXTURE}:plain`, { interface: "fetch" });
  try {
    assert.equal((await get(asFetch.port, "/", { method: "DELETE" })).text, "plain DELETE");
  } finally {
    await asFetch.close();
  }
  // Under auto a plain function is a gateway app: called with (environ, startResponse), its
  // Response is not a gateway body, so the request fails with a contract error.
  const asGateway = await startApp(`${FIXTURE}:plain`);
  try {
    const r = await get(asGateway.port, "/");
    assert.equal(r.status, 500);
    assert.ok(asGateway.logs.some((l) => l.includes("broken gateway rule")), asGateway.logs.join());
  } finally {
    await asGateway.close();
  }
});

Deno.test("fetch: --interface gateway refuses an object with fetch(), naming the fix", async () => {
  await assert.rejects(
    () => startApp(FIXTURE, { interface: "gateway" }),
    (err: unknown) => {
      assert.ok(err instanceof AppLoadError);
      assert.equal(err.kind, "not_callable");
      assert.match(err.message, /--interface fetch or auto/);
      return true;
    },
  );
});

Deno.test("fetch: request bodies stream to the handler, chunked or with a length", async () => {
  const s = await startApp(FIXTURE);
  try {
    const body = new Uint8Array(3 * 1024 * 1024);
    assert.equal((await get(s.port, "/count", { method: "POST", body })).text, String(body.length));
    const parts: string[] = [];
    for (let i = 0; i < 50; i++) parts.push(`2710\r\n${"z".repeat(10000)}\r\n`);
    const r = await roundTrip(s.port, [
      "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
      ...parts,
      "0\r\n\r\n",
    ], { gapMs: 1 });
    assert.equal(r.responses[0].status, 200);
    assert.equal(r.responses[0].body, "500000");
  } finally {
    await s.close();
  }
});

Deno.test("fetch: --max-body-bytes answers 413, before reading or mid-stream for chunked", async () => {
  const s = await startApp(FIXTURE, { maxBodyBytes: 100_000 });
  try {
    const early = await roundTrip(
      s.port,
      "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n",
    );
    assert.equal(early.responses[0].status, 413);
    const c = await RawClient.connect(s.port);
    try {
      await c.send("POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
      let sent = 0;
      // Keep sending 16 KiB chunks until the server answers: the limit hits after ~100 KB.
      while (!c.peerClosed && c.text === "" && sent < 1_000_000) {
        if (!(await c.send(`4000\r\n${"y".repeat(16384)}\r\n`))) break;
        sent += 16384;
        await sleep(1);
      }
      const parsed = await c.waitResponses(1);
      assert.equal(parsed.responses[0]?.status, 413, c.text.slice(0, 200));
      assert.ok(sent >= 100_000 && sent < 1_000_000, `sent ${sent} bytes before the 413`);
      assert.ok(await c.waitClosed(), "the connection closes after a 413");
    } finally {
      await c.close();
    }
  } finally {
    await s.close();
  }
});

Deno.test("fetch: request.signal aborts when the client goes away mid-body", async () => {
  const s = await startApp(FIXTURE);
  events.length = 0;
  try {
    const c = await RawClient.connect(s.port);
    await c.send("POST /read-wait HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789");
    await sleep(50);
    await c.close();
    assert.ok(await until(() => events.includes("read-wait:aborted")), events.join());
    assert.ok(events.some((e) => e.startsWith("read-wait:error")), events.join());
  } finally {
    await s.close();
  }
});

Deno.test("fetch: request.signal aborts and the body is cancelled when a streaming client leaves", async () => {
  const s = await startApp(FIXTURE);
  events.length = 0;
  try {
    const c = await RawClient.connect(s.port);
    await c.send("GET /big?n=1073741824 HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.waitFor(() => c.text.length > 100_000, 2000);
    await c.close();
    assert.ok(await until(() => events.includes("big:cancelled")), events.join());
    assert.ok(await until(() => events.includes("big:aborted")), events.join());
  } finally {
    await s.close();
  }
});

Deno.test({
  // The engine keeps a read pending while an async handler runs, so EOF aborts request.signal
  // even when the handler neither reads nor writes (as Deno.serve does).
  name: "fetch: request.signal aborts while a handler waits without reading or writing",
  async fn() {
    const s = await startApp(FIXTURE);
    events.length = 0;
    try {
      const c = await RawClient.connect(s.port);
      await c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
      await sleep(50);
      await c.close();
      assert.ok(await until(() => events.length > 0, 3500));
      assert.deepEqual(events, ["wait:aborted"]);
    } finally {
      await s.close();
    }
  },
});

Deno.test("fetch: info is shaped like Deno.ServeHandlerInfo and completed resolves", async () => {
  const s = await startApp(FIXTURE);
  events.length = 0;
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    const local = conn.localAddr as Deno.NetAddr;
    conn.close();
    const r = await roundTrip(s.port, "GET /info HTTP/1.1\r\nHost: x\r\n\r\n");
    const { remoteAddr } = JSON.parse(r.responses[0].body);
    assert.deepEqual(Object.keys(remoteAddr).sort(), ["hostname", "port", "transport"]);
    assert.equal(remoteAddr.transport, "tcp");
    assert.equal(remoteAddr.hostname, local.hostname);
    assert.equal(typeof remoteAddr.port, "number");
    assert.ok(await until(() => events.includes("info:completed")), events.join());
  } finally {
    await s.close();
  }
});

Deno.test("fetch: a 256 MiB streamed response to a slow reader is produced only as it is read", async () => {
  const s = await startApp(FIXTURE);
  const total = 256 * 1024 * 1024;
  stats.produced = 0;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    const rss0 = Deno.memoryUsage().rss;
    const req = new TextEncoder().encode(`GET /big?n=${total} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await conn.write(req);
    const buf = new Uint8Array(64 * 1024);
    let received = 0;
    let maxAhead = 0;
    // Slow phase: 8 MiB at ~64 KiB per 2 ms; the server may only run ahead by socket buffers.
    while (received < 8 * 1024 * 1024) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("server closed early");
      received += n;
      maxAhead = Math.max(maxAhead, stats.produced - received);
      await sleep(2);
    }
    // Fast phase: drain the rest.
    let rssPeak = Deno.memoryUsage().rss;
    let reads = 0;
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      received += n;
      if (++reads % 256 === 0) rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
      if (received >= total + 100) {
        // chunk framing: stop once the terminating chunk must have arrived
        const tail = new TextDecoder().decode(buf.subarray(Math.max(0, n - 5), n));
        if (tail.endsWith("0\r\n\r\n")) break;
      }
    }
    const growth = (rssPeak - rss0) / 1024 / 1024;
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `fetch back-pressure: produced at most ${(maxAhead / 1048576).toFixed(1)} MiB ahead of a ` +
          `slow reader; RSS growth ${growth.toFixed(1)} MiB over a 256 MiB stream\n`,
      ),
    );
    assert.ok(maxAhead < 32 * 1024 * 1024, `ran ${maxAhead} bytes ahead of the reader`);
    // Mostly collectable garbage from 4096 chunk writes; a buffered body would add 256 MiB.
    assert.ok(growth < 128, `RSS grew ${growth.toFixed(1)} MiB`);
    assert.equal(stats.produced, total);
  } finally {
    conn.close();
    await s.close();
  }
});

Deno.test("fetch: undefined is a 404 with a log hint; a throw is a 500 that leaks nothing", async () => {
  const s = await startApp(FIXTURE);
  try {
    const missing = await get(s.port, "/missing");
    assert.equal(missing.status, 404);
    assert.ok(s.logs.some((l) => l.includes("returned no Response") && l.includes("/missing")));
    const thrown = await get(s.port, "/throw");
    assert.equal(thrown.status, 500);
    assert.ok(!thrown.text.includes("secret"), thrown.text);
    assert.ok(s.logs.some((l) => l.includes("secret detail 91c2") && l.includes("fetch_e2e.ts:")));
    const odd = await get(s.port, "/not-response");
    assert.equal(odd.status, 500);
    assert.ok(
      s.logs.some((l) => l.includes("must return a Response, got a Object")),
      s.logs.join(),
    );
  } finally {
    await s.close();
  }
});

Deno.test("hop-by-hop headers are rejected with a 500 and a log line, for both app styles", async () => {
  const fetchApp = await startApp(FIXTURE);
  const gatewayApp = await startApp("apps/error.ts:app");
  try {
    for (const name of ["connection", "transfer-encoding", "keep-alive", "upgrade", "te"]) {
      for (const route of ["hop", "hop-empty"]) {
        const r = await get(fetchApp.port, `/${route}/${name}`);
        assert.equal(r.status, 500, `${route}/${name}`);
        assert.ok(
          fetchApp.logs.some((l) => l.includes("rule SR-6") && l.includes(`"${name}": hop-by-hop`)),
          `${route}/${name}: ${fetchApp.logs.join("\n")}`,
        );
        fetchApp.logs.length = 0;
      }
    }
    // The one exception: "Transfer-Encoding: chunked" alone restates the server's own framing
    // (Hono's streamText sets it), so it is dropped rather than refused.
    const chunked = await roundTrip(
      fetchApp.port,
      "GET /hop-value/transfer-encoding/chunked HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert.equal(chunked.responses[0].status, 200);
    assert.equal(chunked.responses[0].body, "x");
    const gzip = await get(fetchApp.port, "/hop-value/transfer-encoding/gzip, chunked");
    assert.equal(gzip.status, 500);
    const r = await get(gatewayApp.port, "/hop");
    assert.equal(r.status, 500);
    assert.ok(gatewayApp.logs.some((l) => l.includes("rule SR-6") && l.includes("hop-by-hop")));
  } finally {
    await fetchApp.close();
    await gatewayApp.close();
  }
});

Deno.test("fetch: string bodies are sent as UTF-8 with their byte length (short, long, HEAD)", async () => {
  const s = await startApp(FIXTURE);
  try {
    const want = new TextEncoder().encode(UNICODE_TEXT);
    const res = await fetch(`http://127.0.0.1:${s.port}/unicode`);
    const got = new Uint8Array(await res.arrayBuffer());
    assert.deepStrictEqual(got, want);
    assert.equal(res.headers.get("content-length"), String(want.length));
    for (const n of [4095, 4096, 20000]) {
      const r = await get(s.port, `/long-text?n=${n}`);
      assert.equal(r.text, "\u00e9".repeat(n));
      assert.equal(r.headers.get("content-length"), String(2 * n));
    }
    const head = (await roundTrip(
      s.port,
      "HEAD /unicode HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      { methods: ["HEAD"] },
    )).text;
    assert.match(head, new RegExp(`\r\ncontent-length: ${want.length}\r\n`));
    assert.ok(head.endsWith("\r\n\r\n"), "HEAD response has no body");
  } finally {
    await s.close();
  }
});

Deno.test("fetch: response headers go out as Deno.serve sends them: as written, one line each, in order", async () => {
  const s = await startApp(FIXTURE);
  try {
    const raw = (await roundTrip(
      s.port,
      "GET /multi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )).text;
    const lines = raw.split("\r\n").filter((l) => /^(x-multi|set-cookie):/i.test(l));
    assert.deepStrictEqual(lines, [
      "X-Multi: a",
      "Set-Cookie: a=1",
      "X-Multi: b", // Deno's Headers reuse the first spelling of a repeated name
      "Set-Cookie: b=2",
    ]);
  } finally {
    await s.close();
  }
});

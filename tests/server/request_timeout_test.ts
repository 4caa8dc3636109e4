/**
 * `--request-timeout-ms` (in-process server on loopback, both socket backends): an app that has
 * not started its response by the deadline gets its client a 504 and a closed connection, its
 * request's signal aborts with a `TimeoutError`, the exchange is logged (warning and access log)
 * at once and its late outcome is ignored; a response already streaming is not cut; requests
 * that finish in time leave nothing armed behind; 0 (the default) means no deadline.
 */
import assert from "node:assert/strict";
import { startApp, type TestServer } from "../_support/server.ts";
import { RawClient, roundTrip } from "../_support/raw_client.ts";
import { delay } from "../_support/proc.ts";
import type { Config } from "../../server/config.ts";

const FETCH = "tests/fixtures/apps/deadline.ts";
const GATEWAY = "tests/fixtures/apps/ops.ts:app";
const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

async function withServer(
  spec: string,
  overrides: Partial<Config>,
  body: (s: TestServer) => Promise<void>,
): Promise<void> {
  const s = await startApp(spec, { timeoutCheckIntervalMs: 50, ...overrides });
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

Deno.test("a gateway app past the deadline: 504, connection closed, warning and access log", async () => {
  await withServer(GATEWAY, { requestTimeoutMs: 300, accessLog: "-" }, async (s) => {
    const t0 = Date.now();
    const r = await roundTrip(s.port, get("/slow?ms=1500"), { untilClose: true, timeoutMs: 5000 });
    const took = Date.now() - t0;
    assert.equal(r.responses.length, 1, r.text);
    assert.equal(r.responses[0].status, 504);
    assert.equal(r.closed, true);
    assert.ok(took >= 250 && took < 1400, `answered after ${took} ms`);
    assert.ok(
      s.logs.some((l) => l.includes("--request-timeout-ms") && l.includes("GET /slow?ms=1500")),
      s.logs.join(""),
    );
    for (let i = 0; i < 100 && s.access.length === 0; i++) await delay(20);
    assert.match(s.access.join(""), /"GET \/slow\?ms=1500 HTTP\/1\.1" 504 /);
    await delay(1400); // the app finishes late: ignored, nothing logged as an error
    assert.equal(s.server.state.inflight, 0);
    assert.ok(!s.logs.some((l) => /\[ERROR\]/.test(l)), s.logs.join(""));
  });
});

Deno.test("the request's signal aborts: request.signal, and lsbaws.signal with a TimeoutError", async () => {
  for (
    const [spec, reason] of [[FETCH, /Error$/], [`${FETCH}:gateway`, /^TimeoutError$/]] as const
  ) {
    await withServer(spec, { requestTimeoutMs: 200 }, async (s) => {
      const r = await roundTrip(s.port, get("/hang"), { untilClose: true, timeoutMs: 4000 });
      assert.equal(r.responses[0]?.status, 504, r.text);
      const after = await roundTrip(s.port, get("/reason"));
      assert.match(after.responses[0]?.body ?? "", reason, spec);
    });
  }
});

Deno.test("a response that started before the deadline is not cut", async () => {
  await withServer(FETCH, { requestTimeoutMs: 200 }, async (s) => {
    const r = await roundTrip(s.port, get("/stream?ms=600"), { timeoutMs: 4000 });
    assert.equal(r.responses[0]?.status, 200, r.text);
    assert.equal(r.responses[0]?.body, "first,second");
  });
});

Deno.test("requests that finish in time leave no deadline armed on a keep-alive connection", async () => {
  await withServer(FETCH, { requestTimeoutMs: 300 }, async (s) => {
    const c = await RawClient.connect(s.port);
    try {
      await c.send(get("/slow?ms=100"));
      assert.equal((await c.waitResponses(1)).responses[0]?.status, 200);
      await delay(500); // past the first request's deadline, idle
      await c.send(get("/slow?ms=10"));
      const r = await c.waitResponses(2);
      assert.equal(r.responses[1]?.status, 200, c.text);
      assert.equal(c.peerClosed, false);
    } finally {
      await c.close();
    }
  });
});

Deno.test("without --request-timeout-ms (the default) a slow app is waited for", async () => {
  await withServer(GATEWAY, {}, async (s) => {
    const r = await roundTrip(s.port, get("/slow?ms=700"), { timeoutMs: 4000 });
    assert.equal(r.responses[0]?.status, 200, r.text);
  });
});

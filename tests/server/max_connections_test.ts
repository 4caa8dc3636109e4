/**
 * `--max-connections` (in-process server on loopback, both socket backends): at the cap lsbaws
 * stops taking connections off the listener, so the next client's request waits (its connection
 * sits in the kernel's backlog) and is served as soon as one connection closes; WebSockets count
 * while open; a burst never holds more connections open than the cap.
 */
import assert from "node:assert/strict";
import { startApp, type TestServer } from "../_support/server.ts";
import { RawClient } from "../_support/raw_client.ts";
import { RawWs } from "../_support/ws_raw.ts";

const APP = "tests/fixtures/apps/ops.ts:app";
const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/** A keep-alive client that got one response, so the server holds its connection. */
async function served(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.send(GET);
  const r = await c.waitResponses(1);
  assert.equal(r.responses[0]?.status, 200, c.text);
  return c;
}

async function withServer(
  spec: string,
  max: number,
  body: (s: TestServer) => Promise<void>,
): Promise<void> {
  const s = await startApp(spec, { maxConnections: max, timeoutCheckIntervalMs: 50 });
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

Deno.test("at the cap the next request waits until a connection closes, then it is served", async () => {
  await withServer(APP, 2, async (s) => {
    const a = await served(s.port);
    const b = await served(s.port);
    const c = await RawClient.connect(s.port); // completes in the kernel's backlog
    try {
      await c.send(GET);
      assert.ok(await c.silentFor(400), `served past the cap: ${c.text}`);
      assert.equal(s.server.connections, 2);
      await a.close();
      const r = await c.waitResponses(1, 3000);
      assert.equal(r.responses[0]?.status, 200, c.text);
      // Still at the cap (b and c): a fourth waits again.
      const d = await RawClient.connect(s.port);
      await d.send(GET);
      assert.ok(await d.silentFor(300), `served past the cap: ${d.text}`);
      await b.close();
      assert.equal((await d.waitResponses(1, 3000)).responses[0]?.status, 200);
      await d.close();
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

Deno.test("an open WebSocket counts toward the cap until it closes", async () => {
  await withServer("apps/websocket.ts", 1, async (s) => {
    const ws = await RawWs.connect(s.port);
    assert.equal(ws.status, 101, ws.head);
    const c = await RawClient.connect(s.port);
    try {
      await c.send(GET);
      assert.ok(await c.silentFor(400), `served past the cap: ${c.text}`);
      ws.close();
      const r = await c.waitResponses(1, 3000);
      assert.ok(r.responses.length === 1, `not served after the WebSocket closed: ${c.text}`);
    } finally {
      ws.close();
      await c.close();
    }
  });
});

Deno.test("a burst of 24 clients against a cap of 4: all served, never more than 4 open", async () => {
  await withServer(APP, 4, async (s) => {
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, s.server.connections)), 1);
    try {
      const results = await Promise.all(
        Array.from({ length: 24 }, async () => {
          const c = await RawClient.connect(s.port);
          try {
            await c.send("GET /slow?ms=30 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            return (await c.waitResponses(1, 10_000)).responses[0]?.status;
          } finally {
            await c.close();
          }
        }),
      );
      assert.deepEqual(results, new Array(24).fill(200));
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak >= 1 && peak <= 4, `peak ${peak} open connections`);
  });
});

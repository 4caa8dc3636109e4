/**
 * Bytes an async app queues before its first await go out at once, not when the app settles
 * (the engine defers flushing only while a handler runs synchronously).
 */
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";
import { gate, resetGate } from "./fixtures/early_write.ts";

Deno.test("a chunk written before an async app's first await reaches the client while it waits", async () => {
  resetGate();
  const s = await startApp("tests/e2e/fixtures/early_write.ts:app");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  // A safety net, not a speed check: without the early flush the first read would wait forever.
  let timedOut = false;
  const guard = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, 10_000);
  try {
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("first\n")) {
      const n = await conn.read(buf).catch(() => null);
      assert.ok(!timedOut, "the first chunk never arrived while the app waited");
      assert.notEqual(n, null, "connection closed before the first chunk");
      text += new TextDecoder().decode(buf.subarray(0, n!));
    }
    // The app is still blocked on the gate, so nothing after the first chunk can have been sent.
    assert.ok(!text.includes("second"), text);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    gate.resolve();
    while (!text.endsWith("0\r\n\r\n")) {
      const n = await conn.read(buf);
      assert.notEqual(n, null, "connection closed before the end of the response");
      text += new TextDecoder().decode(buf.subarray(0, n!));
    }
    assert.ok(text.includes("second\n"), text);
  } finally {
    clearTimeout(guard);
    gate.resolve();
    if (!timedOut) conn.close();
    await s.close();
  }
});

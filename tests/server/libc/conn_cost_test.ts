/**
 * What a connection per request costs the libc backend: its first read waits for the socket's
 * first readiness event (no `recv` that finds nothing right after `accept`), and the response
 * before a close carries the FIN in its last segment (`MSG_MORE`), so a `Connection: close`
 * exchange takes 8 TCP segments, not 10. Segments are counted system-wide from /proc/net/snmp
 * (the best of three rounds, so stray traffic elsewhere cannot fail the test).
 */
import assert from "node:assert/strict";
import { loadLibc } from "../../../server/libc/ffi.ts";
import { READS } from "../../../server/libc/connection.ts";
import { startApp } from "../../_support/server.ts";

const HAS_LIBC = loadLibc().ok;
const HELLO = "apps/hello.ts:app";
const enc = new TextEncoder();

/** One `Connection: close` exchange; `pauseMs` between connecting and sending the request. */
async function closeExchange(port: number, pauseMs: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const dec = new TextDecoder();
    const buf = new Uint8Array(4096);
    let text = "";
    for (let n; (n = await conn.read(buf)) !== null;) {
      text += dec.decode(buf.subarray(0, n), { stream: true });
    }
    return text + dec.decode();
  } finally {
    conn.close();
  }
}

/** The kernel's TCP segment counters (`InSegs`, `OutSegs`) from /proc/net/snmp. */
function tcpSegments(): number {
  const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
    l.startsWith("Tcp:")
  );
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/).map(Number);
  return values[names.indexOf("OutSegs")];
}

Deno.test({
  name: "libc: a new connection is not read before its first readiness event",
  ignore: !HAS_LIBC,
  async fn() {
    const srv = await startApp(HELLO, { io: "libc" });
    try {
      await closeExchange(srv.port, 0); // warm-up
      const before = READS.wouldBlock;
      for (let i = 0; i < 20; i++) {
        const text = await closeExchange(srv.port, 5); // accepted well before the request came
        assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      }
      const empty = READS.wouldBlock - before;
      assert.ok(empty <= 2, `${empty} reads found nothing over 20 connections`);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "libc: a Connection: close exchange takes 8 TCP segments (the FIN rides on the response)",
  ignore: !HAS_LIBC,
  async fn() {
    const srv = await startApp(HELLO, { io: "libc" });
    try {
      await closeExchange(srv.port, 0);
      const perConn: number[] = [];
      const N = 40;
      for (let round = 0; round < 3; round++) {
        const s0 = tcpSegments();
        for (let i = 0; i < N; i++) await closeExchange(srv.port, 0);
        // The server's last ACK (for the client's FIN) may still be on its way.
        await new Promise((r) => setTimeout(r, 20));
        perConn.push((tcpSegments() - s0) / N);
      }
      const best = Math.min(...perConn);
      Deno.stderr.writeSync(
        enc.encode(`TCP segments per connection (3 rounds): ${perConn.join(", ")}\n`),
      );
      assert.ok(best <= 8.5, `best round ${best} segments per connection (10 without MSG_MORE)`);
    } finally {
      await srv.close();
    }
  },
});

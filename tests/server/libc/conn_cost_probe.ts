/**
 * The measurement behind `conn_cost_test.ts`, as a program: serves `apps/hello.ts:app` in-process
 * on the libc backend, makes `rounds` rounds of 40 `Connection: close` exchanges and prints one
 * JSON line, `{"perConn": [...]}`: the TCP segments the kernel sent per connection in each round,
 * from /proc/net/snmp. Run in a network namespace of its own (`unshare -n`), those counters see
 * this program's traffic only.
 *
 * Usage: `deno run -A --unstable-net tests/server/libc/conn_cost_probe.ts [rounds]`.
 */
import { startApp } from "../../_support/server.ts";

const enc = new TextEncoder();

/** One `Connection: close` exchange; `pauseMs` between connecting and sending the request. */
export async function closeExchange(port: number, pauseMs: number): Promise<string> {
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

/** The kernel's count of TCP segments sent (`OutSegs`) from /proc/net/snmp. */
function tcpSegments(): number {
  const lines = Deno.readTextFileSync("/proc/net/snmp").split("\n").filter((l) =>
    l.startsWith("Tcp:")
  );
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/).map(Number);
  return values[names.indexOf("OutSegs")];
}

/** Segments per `Connection: close` exchange, one figure per round. */
export async function measure(rounds: number): Promise<number[]> {
  const srv = await startApp("apps/hello.ts:app", { io: "libc" });
  try {
    await closeExchange(srv.port, 0);
    const perConn: number[] = [];
    const N = 40;
    for (let round = 0; round < rounds; round++) {
      const s0 = tcpSegments();
      for (let i = 0; i < N; i++) await closeExchange(srv.port, 0);
      // The server's last ACK (for the client's FIN) may still be on its way.
      await new Promise((r) => setTimeout(r, 20));
      perConn.push((tcpSegments() - s0) / N);
    }
    return perConn;
  } finally {
    await srv.close();
  }
}

if (import.meta.main) {
  const perConn = await measure(Number(Deno.args[0] ?? "3"));
  Deno.stdout.writeSync(enc.encode(JSON.stringify({ perConn }) + "\n"));
}

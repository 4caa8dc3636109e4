/**
 * Idle-connection client for the benchmark (run by `bench/run.ts` as its own process, pinned to
 * the client core, with the fd limit raised): opens N keep-alive connections, sends one
 * `GET /` on each and reads the complete response, so that every connection is established at
 * the HTTP layer, then holds them all open and idle.
 *
 * Usage: `deno run -A bench/idle_client.ts --port P --conns N [--concurrency C]`.
 * Protocol on stdio: prints one JSON line `{"opened":n,"failed":k,"ms":t,"errors":[...]}` once
 * every connection is set up; then each line `report` on stdin is answered with
 * `{"alive":n}` (connections the server has not closed); EOF on stdin closes everything and
 * exits. A pending 1-byte read on each connection notices when the server closes it.
 */
// deno-lint-ignore-file no-console
import { ResponseReader, writeAll } from "./lib/http1.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const port = Number(flag("port", "0"));
const want = Number(flag("conns", "10000"));
const concurrency = Number(flag("concurrency", "200"));
const request = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lsbaws-bench-idle\r\n\r\n",
);

const conns: Deno.TcpConn[] = [];
const errors: string[] = [];
let failed = 0;
let alive = 0;

async function openOne(): Promise<void> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, request);
    const res = await new ResponseReader(conn, 30_000, 4096).next();
    if (res === null || res.status !== 200) throw new Error(`bad response ${res?.status}`);
    conns.push(conn);
    alive++;
    const c = conn;
    c.read(new Uint8Array(1)).then(
      () => alive--,
      () => alive--,
    );
  } catch (err) {
    failed++;
    if (errors.length < 5) errors.push(err instanceof Error ? err.message : String(err));
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }
}

const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, want) }, async () => {
    while (next < want) {
      next++;
      await openOne();
    }
  }),
);
console.log(JSON.stringify({ opened: conns.length, failed, ms: performance.now() - t0, errors }));

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const cmd = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (cmd === "report") console.log(JSON.stringify({ alive }));
  }
}
for (const c of conns) {
  try {
    c.close();
  } catch {
    // already closed
  }
}
Deno.exit(0);

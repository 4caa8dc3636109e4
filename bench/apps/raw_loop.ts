/**
 * The floor probe for the keep-alive profile in bench/RESULTS.md: a loop that only does
 * `await conn.read(buf); await conn.write(fixedResponse)` on every connection, with no HTTP
 * parsing at all. It is not a server (it ignores what it reads) and is not part of the benchmark
 * table; it shows what one `Deno.Conn` read plus one write per request costs on this machine.
 *
 * Usage: `deno run -A bench/apps/raw_loop.ts [--port N]` (default 18500), then e.g.
 * `taskset -c 1 …` for the server and `taskset -c 0 wrk -t1 -c64 -d3s http://127.0.0.1:N/`.
 */
// deno-lint-ignore-file no-console
const i = Deno.args.indexOf("--port");
const port = i >= 0 ? Number(Deno.args[i + 1]) : 18500;
const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!",
);

async function serveConn(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16384);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      await conn.write(RESPONSE);
    }
  } catch {
    // The client went away.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log(`raw loop listening on http://127.0.0.1:${port}`);
for await (const conn of listener) serveConn(conn);

/**
 * Rate-limited client for the benchmark's fixed-rate scenario, used when `hey` is unavailable
 * (run by `bench/run.ts` as its own process, pinned to the client core): C keep-alive
 * connections each send `GET /` on a fixed schedule so that together they offer R requests per
 * second for D seconds, and report what the server actually answered.
 *
 * Usage: `deno run -A bench/rate_client.ts --port P --rate R --conns C --duration D`.
 * Prints one JSON line: `{"ok":n,"failed":k,"elapsedS":t,"errors":[...]}`; `ok` counts 2xx
 * responses, `elapsedS` runs from the first scheduled request to the last response (or the end
 * of the schedule, whichever is later).
 *
 * Pacing: connection i sends its requests at start + (i + k·C)/R seconds (k = 0, 1, ...), one at
 * a time (it waits for each response). A connection that falls more than one slot behind skips
 * the slots it missed instead of bursting to catch up, so a slow server shows as an achieved
 * rate below the offered one. Bounded: every read times out after 10 s and the process exits at
 * the latest 30 s after the schedule ends.
 */
// deno-lint-ignore-file no-console
import { header, ResponseReader, writeAll } from "./lib/http1.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const port = Number(flag("port", "0"));
const rate = Number(flag("rate", "2000"));
const conns = Number(flag("conns", "20"));
const durationS = Number(flag("duration", "10"));
const request = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lsbaws-bench-rate\r\n\r\n",
);

let ok = 0;
let failed = 0;
let start = performance.now();
let lastDone = 0;
const errors: string[] = [];
const note = (err: unknown) => {
  failed++;
  if (errors.length < 5) errors.push(err instanceof Error ? err.message : String(err));
};

const hardStop = setTimeout(() => {
  note(new Error("gave up: the schedule ended more than 30 s ago"));
  report();
  Deno.exit(1);
}, (durationS + 30) * 1000);

function report(): void {
  const end = Math.max(lastDone, start + durationS * 1000);
  console.log(JSON.stringify({ ok, failed, elapsedS: (end - start) / 1000, errors }));
}

async function open(): Promise<{ conn: Deno.TcpConn; reader: ResponseReader }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return { conn, reader: new ResponseReader(conn, 10_000, 4096) };
}

const sleepUntil = (t: number) =>
  new Promise<void>((r) => setTimeout(r, Math.max(0, t - performance.now())));

// Every connection is open before the clock starts.
const slots = await Promise.all(Array.from({ length: conns }, () => open()));
start = performance.now() + 20;
const end = start + durationS * 1000;
const interval = (conns / rate) * 1000;

await Promise.all(slots.map(async (slot, i) => {
  let c: { conn: Deno.TcpConn; reader: ResponseReader } | null = slot;
  for (let at = start + (i / rate) * 1000; at < end; at += interval) {
    await sleepUntil(at);
    try {
      c ??= await open();
      await writeAll(c.conn, request);
      const res = await c.reader.next();
      if (res === null) throw new Error("server closed the connection");
      if (res.status >= 200 && res.status < 300) ok++;
      else note(new Error(`status ${res.status}`));
      lastDone = performance.now();
      if (header(res, "connection")?.toLowerCase() === "close") {
        c.conn.close();
        c = null;
      }
    } catch (err) {
      note(err);
      try {
        c?.conn.close();
      } catch {
        // already closed
      }
      c = null;
    }
    // Behind by more than a slot: skip the missed slots rather than burst.
    const now = performance.now();
    if (now > at + 2 * interval) at += Math.floor((now - at) / interval - 1) * interval;
  }
  try {
    c?.conn.close();
  } catch {
    // already closed
  }
}));
clearTimeout(hardStop);
report();

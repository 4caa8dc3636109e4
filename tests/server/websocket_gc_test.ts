/**
 * Under WebSocket connect/echo/close churn, a young-generation GC of the server finds (almost)
 * nothing of the closed sockets alive.
 *
 * The server runs under `DENO_V8_FLAGS=--trace-gc-nvp` (whichever backend `$LSBAWS_TEST_IO`
 * names); this process opens 16 sockets at a time, each sending one message, waiting for the
 * echo and closing, until `SOCKETS` sockets were served or `TIME_LIMIT_MS` passed. The check is
 * the median of the bytes V8 reports surviving each scavenge. The old code measured ~850 KB here
 * on either backend (and 2.7-3.5 MB over longer runs, once V8 had grown its young generation to
 * 32 MiB, with scavenges of 7-9 ms): closures the socket made over itself (its idle-timeout and
 * transport callbacks) and the log hook's closure over the upgrade's exchange kept every socket
 * closed since the previous scavenge, and everything it referenced, alive until the next full GC.
 * Now ~50-70 KB.
 */
import assert from "node:assert/strict";
import { scavengeSurvivors } from "../_support/gc_trace.ts";
import { startLsbaws } from "../_support/proc.ts";

/** Sockets to serve (bounded run). */
const SOCKETS = 8000;
/** Sockets open at a time. */
const CONCURRENCY = 16;
/** The churn stops here even if fewer sockets were served. */
const TIME_LIMIT_MS = 15_000;
/** Median bytes surviving a scavenge that still passes (the old code: ~850 KB here). */
const MAX_MEDIAN_SURVIVED = 256 * 1024;

/** Opens a socket, sends one message, waits for its echo, closes; resolves once closed. */
function oneSocket(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    let echoed = false;
    ws.onopen = () => ws.send("hi");
    ws.onmessage = () => {
      echoed = true;
      ws.close();
    };
    ws.onclose = () => resolve(echoed);
    ws.onerror = () => {};
  });
}

Deno.test("websocket churn: a scavenge finds (almost) nothing of the closed sockets alive", async () => {
  const p = await startLsbaws(
    ["--host", "127.0.0.1", "--port", "0", "tests/fixtures/apps/ws_echo.ts"],
    { env: { DENO_V8_FLAGS: "--trace-gc-nvp" } },
  );
  let served = 0;
  let failed = 0;
  try {
    const port = p.port();
    const until = Date.now() + TIME_LIMIT_MS;
    const worker = async () => {
      while (served + failed < SOCKETS && Date.now() < until) {
        if (await oneSocket(port)) served++;
        else failed++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    await p.stop();
  }
  const survived = scavengeSurvivors(p.out);
  assert.equal(failed, 0, `${failed} sockets got no echo`);
  assert.ok(survived.length >= 10, `only ${survived.length} scavenges in ${served} sockets`);
  const median = survived[Math.floor(survived.length / 2)];
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `  ${served} sockets, ${survived.length} scavenges, median ${median} bytes survived\n`,
    ),
  );
  assert.ok(
    median <= MAX_MEDIAN_SURVIVED,
    `a scavenge finds ${median} bytes alive (median): closed sockets outlive young-generation GCs`,
  );
});

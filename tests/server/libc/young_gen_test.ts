/**
 * Under keep-alive load the libc backend leaves (almost) nothing alive from one young-generation
 * GC to the next, so V8 does not keep growing the young generation.
 *
 * V8 doubles the young generation each time the bytes that survived its scavenges since the last
 * growth exceed its size; every MiB it grows is ~2 MiB of resident memory. A server whose
 * per-request work is done when the response is sent should let a scavenge find only the request
 * in flight. The event loop used to defer the events of a used-up slice as one closure each
 * (and to rebuild its queue array every turn, and to arm a new timer every yield): under load
 * most events waited a turn, so every scavenge found ~90 bytes alive per busy connection (21 KB
 * with 256 connections, 5.7 KB with 64), and the young generation grew from 4 to 16 MiB within
 * seconds of load. This test serves 256 saturating keep-alive connections (wrk) under
 * `DENO_V8_FLAGS=--trace-gc-nvp` and checks the median of the survivors V8 reports per scavenge
 * (about 2 KB now, whatever the connection count).
 */
import assert from "node:assert/strict";
import { HAS_WRK, runWrk, scavengeSurvivors } from "../../_support/gc_trace.ts";
import { startLsbaws } from "../../_support/proc.ts";
import { loadLibc } from "../../../server/libc/ffi.ts";

const HAS_LIBC = loadLibc().ok;
/** Connections: enough that most of them wait a turn behind a used-up slice. */
const CONNECTIONS = 256;
/** Median bytes surviving a scavenge that still passes (the old loop: ~21 KB here). */
const MAX_MEDIAN_SURVIVED = 6 * 1024;

if (HAS_LIBC && !HAS_WRK) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "young_gen_test: skipped, wrk is not installed " +
        "(it needs a client that saturates the server)\n",
    ),
  );
}

Deno.test({
  name: "libc backend: under keep-alive load a scavenge finds (almost) nothing alive",
  ignore: !HAS_LIBC || !HAS_WRK,
  fn: async () => {
    const p = await startLsbaws(
      ["--io", "libc", "--host", "127.0.0.1", "--port", "0", "apps/hello.ts:app"],
      { env: { DENO_V8_FLAGS: "--trace-gc-nvp" } },
    );
    let wrkOut = "";
    try {
      wrkOut = await runWrk(["-t1", `-c${CONNECTIONS}`, "-d3s", `http://127.0.0.1:${p.port()}/`]);
    } finally {
      await p.stop();
    }
    const survived = scavengeSurvivors(p.out);
    assert.ok(survived.length >= 20, `only ${survived.length} scavenges traced:\n${wrkOut}`);
    const median = survived[Math.floor(survived.length / 2)];
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `  ${survived.length} scavenges, median ${median} bytes survived ` +
          `(${CONNECTIONS} keep-alive connections)\n`,
      ),
    );
    assert.ok(
      median <= MAX_MEDIAN_SURVIVED,
      `a scavenge finds ${median} bytes alive (median): per-event or per-connection garbage ` +
        `outlives a turn`,
    );
  },
});

/**
 * The libc backend's hot path stays optimised under load: V8 does not keep deoptimising it.
 *
 * A fast FFI call with a `usize` parameter expects a BigInt there; a number is converted too, but
 * the optimised caller deoptimises ("not a BigInt") on every such call, V8 recompiles it on its
 * worker thread, and the cycle repeats for as long as the load lasts. On one pinned core that
 * recompiling took a tenth of the server's CPU and preempted the busy loop (keep-alive p99 4.5 ms
 * instead of ~1 ms). This test serves keep-alive load with `--io libc` under
 * `DENO_V8_FLAGS=--trace-deopt` and counts the bailouts V8 prints: none may be "not a BigInt",
 * and the total stays small (a few one-off deoptimisations while types settle; a deopt loop on the
 * request path prints one per recompilation, hundreds over this load).
 */
import assert from "node:assert/strict";
import { runLoad } from "../../_support/load.ts";
import { startLsbaws } from "../../_support/proc.ts";
import { loadLibc } from "../../../server/libc/ffi.ts";

const HAS_LIBC = loadLibc().ok;
/** Requests served under the trace (about a second of load). */
const REQUESTS = 40_000;
/** Most bailouts tolerated over the whole run (startup included). */
const MAX_BAILOUTS = 60;

Deno.test({
  name: "libc backend: keep-alive load causes no FFI (BigInt) deoptimisation and no deopt loop",
  ignore: !HAS_LIBC,
  fn: async () => {
    const p = await startLsbaws(
      ["--io", "libc", "--host", "127.0.0.1", "--port", "0", "apps/hello.ts:app"],
      { env: { DENO_V8_FLAGS: "--trace-deopt" } },
    );
    try {
      const url = `http://127.0.0.1:${p.port()}/`;
      const r = await runLoad({ url, total: REQUESTS, concurrency: 16 }).done;
      assert.equal(r.ok, REQUESTS, `failed: ${r.failed} ${r.errors.join("; ")}`);
    } finally {
      await p.stop();
    }
    const bailouts = p.out.filter((l) => l.includes("[bailout"));
    Deno.stderr.writeSync(
      new TextEncoder().encode(`  ${bailouts.length} deoptimisations over ${REQUESTS} requests\n`),
    );
    const bigint = bailouts.filter((l) => l.includes("not a BigInt"));
    assert.deepEqual(bigint, [], "an FFI size_t argument was passed as a number");
    assert.ok(
      bailouts.length <= MAX_BAILOUTS,
      `${bailouts.length} deoptimisations under load (a deopt loop?):\n` +
        bailouts.slice(-10).join("\n"),
    );
  },
});

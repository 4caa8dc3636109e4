/**
 * The CI-sized fuzz run: 3,000 generated malformed and truncated requests (tests/fuzz/) against
 * lsbaws processes, per socket backend (`$LSBAWS_TEST_IO` alone when set; libc only where it
 * loads). Each run must end clean: processes alive, every oracle held, `GET /` still 200, the fd
 * count back to its baseline, nothing uncaught in stderr. The seed is fixed (1) unless
 * `$LSBAWS_FUZZ_SEED` sets one; `deno task fuzz` is the long run.
 */
import assert from "node:assert/strict";
import { formatSummary, runFuzz } from "../fuzz/runner.ts";
import { generateCase } from "../fuzz/generator.ts";
import { testIo } from "../_support/server.ts";
import { loadLibc } from "../../server/libc/ffi.ts";

const SEED = Number(Deno.env.get("LSBAWS_FUZZ_SEED") ?? "1");
const only = testIo();
const BACKENDS = only === null || only === "auto" ? (["libc", "deno"] as const) : [only];

for (const io of BACKENDS) {
  Deno.test({
    name: `[io=${io}] fuzz: 3,000 malformed and truncated requests leave the server clean`,
    ignore: io === "libc" && !loadLibc().ok,
    fn: async () => {
      const summary = await runFuzz({ cases: 3000, seed: SEED, io, timeLimitMs: 60_000 });
      const text = formatSummary(summary);
      assert.deepEqual(summary.failures, [], text);
      assert.equal(summary.skipped, 0, `the run hit its time limit:\n${text}`);
      assert.ok(summary.verdictsChecked > 500, text);
      for (const f of summary.fds) assert.ok(f.end <= f.baseline, text);
    },
  });
}

Deno.test("fuzz generator: a case depends only on (seed, id) and seeds differ", () => {
  const a = generateCase(7, 123);
  const b = generateCase(7, 123);
  assert.deepEqual(a, b);
  const kinds = new Set<string>();
  let differ = 0;
  for (let id = 0; id < 200; id++) {
    const x = generateCase(1, id);
    kinds.add(x.kind);
    if (JSON.stringify(x.bytes) !== JSON.stringify(generateCase(3, id).bytes)) differ++;
  }
  assert.ok(differ > 180, `seeds 1 and 3 share ${200 - differ} of 200 cases`);
  assert.ok(kinds.size >= 10, [...kinds].join(","));
});

/**
 * The CI-sized fuzz run: 3,000 generated malformed and truncated requests (tests/fuzz/) against
 * lsbaws processes, per socket backend (`$LSBAWS_TEST_IO` alone when set; libc only where it
 * loads). Each run must end clean: processes alive, every oracle held, `GET /` still 200, the fd
 * count back to its baseline, nothing uncaught in stderr. The seed is fixed (1) unless
 * `$LSBAWS_FUZZ_SEED` sets one; `deno task fuzz` is the long run. The per-backend tests and the
 * clean-run checks are tests/fuzz/ci.ts's.
 */
import assert from "node:assert/strict";
import { formatSummary, runFuzz } from "../fuzz/runner.ts";
import { generateCase } from "../fuzz/generator.ts";
import { assertCleanRun, CI_SEED, testEachBackend } from "../fuzz/ci.ts";

testEachBackend(
  "fuzz: 3,000 malformed and truncated requests leave the server clean",
  async (io) => {
    const summary = await runFuzz({ cases: 3000, seed: CI_SEED, io, timeLimitMs: 60_000 });
    assertCleanRun(summary, formatSummary(summary), 500);
  },
);

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

/**
 * The CI-sized fuzz runs' shared frame (tests/e2e/fuzz_test.ts, tests/e2e/ws_fuzz_test.ts): the
 * seed, one test per socket backend, and what a clean run means.
 *
 * Contract:
 * - `CI_SEED` is `$LSBAWS_FUZZ_SEED` as a number, else 1.
 * - `testEachBackend(title, fn)` registers `[io=<io>] <title>` for `$LSBAWS_TEST_IO` alone when it
 *   names one backend, else for libc and deno; the libc test is ignored where libc does not load.
 * - `assertCleanRun(summary, text, minChecked)` asserts no failures, no case skipped at the time
 *   limit, more than `minChecked` verdicts checked, and every fd count back to its baseline, with
 *   `text` (the formatted summary) as the message.
 */
import assert from "node:assert/strict";
import { testIo } from "../_support/server.ts";
import { loadLibc } from "../../server/libc/ffi.ts";
import type { RunSummary } from "./common.ts";

/** The seed of the CI-sized runs (`$LSBAWS_FUZZ_SEED`, else 1). */
export const CI_SEED = Number(Deno.env.get("LSBAWS_FUZZ_SEED") ?? "1");

/** Registers `fn` as one test per socket backend; see the module comment. */
export function testEachBackend(
  title: string,
  fn: (io: "libc" | "deno") => Promise<void>,
): void {
  const only = testIo();
  const backends = only === null || only === "auto" ? (["libc", "deno"] as const) : [only];
  for (const io of backends) {
    Deno.test({
      name: `[io=${io}] ${title}`,
      ignore: io === "libc" && !loadLibc().ok,
      fn: () => fn(io),
    });
  }
}

/** Asserts that a CI-sized run ended clean; see the module comment. */
export function assertCleanRun(summary: RunSummary, text: string, minChecked: number): void {
  assert.deepEqual(summary.failures, [], text);
  assert.equal(summary.skipped, 0, `the run hit its time limit:\n${text}`);
  assert.ok(summary.verdictsChecked > minChecked, text);
  for (const f of summary.fds) assert.ok(f.end <= f.baseline, text);
}

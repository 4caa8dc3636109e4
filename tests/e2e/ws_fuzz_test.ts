/**
 * The CI-sized WebSocket fuzz run: 2,000 generated client frame sequences (tests/fuzz/ws_*.ts)
 * against lsbaws serving apps/websocket.ts, per socket backend (`$LSBAWS_TEST_IO` alone when set;
 * libc only where it loads). Each run must end clean: the process alive, every oracle held (the
 * certain verdicts: echoes, pongs and Close replies, or exactly 1002/1007/1009), a fresh round
 * trip still works, the fd count back to its baseline, nothing uncaught in stderr. The seed is
 * fixed (1) unless `$LSBAWS_FUZZ_SEED` sets one; `deno task fuzz --mode websocket` is the long run.
 * The per-backend tests and the clean-run checks are tests/fuzz/ci.ts's. The generator's
 * determinism and coverage are checked here too.
 */
import assert from "node:assert/strict";
import { formatWsSummary, runWsFuzz } from "../fuzz/ws_runner.ts";
import { generateWsCase, WS_KINDS } from "../fuzz/ws_generator.ts";
import { assertCleanRun, CI_SEED, testEachBackend } from "../fuzz/ci.ts";

testEachBackend("websocket fuzz: 2,000 frame sequences leave the server clean", async (io) => {
  const summary = await runWsFuzz({ cases: 2000, seed: CI_SEED, io, timeLimitMs: 60_000 });
  const text = formatWsSummary(summary);
  assertCleanRun(summary, text, 1200);
  for (const v of ["echo", "close:1002", "close:1007", "close:1009"]) {
    assert.ok((summary.verdicts[v] ?? 0) >= 40, `few "${v}" verdicts:\n${text}`);
  }
});

Deno.test("websocket fuzz generator: a case depends only on (seed, id); kinds and shapes covered", () => {
  assert.deepEqual(generateWsCase(7, 123), generateWsCase(7, 123));
  const kinds = new Set<string>();
  const seen = new Set<string>();
  let differ = 0;
  for (let id = 0; id < 2000; id++) {
    const c = generateWsCase(1, id);
    kinds.add(c.kind);
    for (const m of c.mutations) kinds.add(m);
    seen.add(c.verdict).add(c.delivery).add(c.ending).add(c.eager ? "eager" : "after-101");
    for (const b of c.base.split("+")) seen.add(b);
    if (c.verdict === "any") assert.equal(c.replies.length, 0);
    if (c.delivery === "split") {
      assert.ok(c.cuts.length > 0 && c.cuts.every((x) => x > 0 && x < c.bytes.length));
    }
    const other = generateWsCase(3, id).bytes;
    if (other.length !== c.bytes.length || other.some((x, i) => x !== c.bytes[i])) differ++;
  }
  assert.ok(differ > 1950, `seeds 1 and 3 share ${2000 - differ} of 2000 cases`);
  assert.deepEqual([...kinds].sort(), [...WS_KINDS].sort());
  for (
    const s of [
      "echo",
      "close:1002",
      "close:1007",
      "close:1009",
      "any",
      "whole",
      "split",
      "bytewise",
      "halfclose",
      "close",
      "eager",
      "after-101",
      "text",
      "binary",
      "frag-text",
      "frag-binary",
      "ping",
      "pong",
    ]
  ) {
    assert.ok(seen.has(s), `never generated: ${s}`);
  }
});

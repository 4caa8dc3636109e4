/**
 * Unit tests of `bench/lib/plan.ts`: the duration estimate printed before a run counts what the
 * settings imply (servers, rounds, scenarios, the uploads the deno-backend entries skip, the
 * profile phase), and a full run of every server stays within its budget (37 minutes estimated;
 * the estimate is pessimistic: complete runs take ~30).
 */
import assert from "node:assert/strict";
import { estimateRun } from "../../bench/lib/plan.ts";
import { estimateLine, parseArgs } from "../../bench/run.ts";

Deno.test("a full run (6 servers, every scenario, 3 rounds) is estimated under 37 minutes", () => {
  const full = parseArgs([]).settings;
  assert.equal(full.servers.length, 6);
  const e = estimateRun(full);
  assert(e.totalS < 37 * 60, `estimated ${e.totalS / 60} min`);
  assert(e.totalS > 20 * 60, `estimated ${e.totalS / 60} min: too optimistic`);
  assert.equal(e.phases.profile, 0);
  const profiled = estimateRun(parseArgs(["--profile"]).settings);
  assert(profiled.phases.profile > 0 && profiled.totalS < 37 * 60);
  assert.match(estimateLine(full), /^estimated duration: \d+\.\d min \(throughput/);
});

Deno.test("the estimate follows rounds, servers and the uploads not run", () => {
  const base = parseArgs([]).settings;
  const one = estimateRun({ ...base, rounds: 1 });
  assert(Math.abs(estimateRun(base).totalS - 3 * one.totalS) < 1e-6);
  const libc = estimateRun({ ...base, servers: ["lsbaws-libc-fetch"] });
  const deno = estimateRun({ ...base, servers: ["lsbaws-deno-fetch"] });
  assert(libc.phases.upload > 0);
  assert.equal(deno.phases.upload, 0, "the deno-backend entries skip the uploads");
  assert.equal(libc.phases["throughput and fixed rate"], deno.phases["throughput and fixed rate"]);
  const staticOnly = estimateRun({ ...base, scenarios: ["static-4k"] });
  assert.deepEqual(
    Object.entries(staticOnly.phases).filter(([, v]) => v > 0).map(([k]) => k),
    ["static"],
  );
});

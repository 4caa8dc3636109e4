/**
 * Unit tests of `bench/lib/report.ts` for the capped keep-alive, keep-alive peak RSS and
 * fixed-rate CPU measurements: their targets, medians over valid runs only, a skipped scenario
 * shown as skipped (never as a miss), and results of older harness versions still rendering.
 * The targets table is the list, judged per lsbaws server (both socket backends); a
 * scenario a server does not run shows "not run" and is not judged.
 */
import assert from "node:assert/strict";
import {
  ALL_SCENARIOS,
  ALL_SERVERS,
  type BenchResults,
  type BenchSettings,
  closeConns,
  judge,
  medianOf,
  metricsOf,
  type RateRun,
  rawTables,
  scenarioLabel,
  type ServerId,
  summaryTable,
  targetsFor,
  targetsTable,
  type ThroughputRun,
  withCurrentServerIds,
} from "../../bench/lib/report.ts";

const settings: BenchSettings = {
  smoke: false,
  rounds: 1,
  durationS: 10,
  warmupS: 2,
  connections: 64,
  closeConnections: 16,
  pipelineDepth: 16,
  uploadBytes: 1 << 30,
  idleConns: 10_000,
  idleKeepAliveMs: 120_000,
  capQuotaUs: 50_000,
  capPeriodUs: 100_000,
  rate: 2000,
  rateConns: 20,
  staticConns: 64,
  staticLargeConns: 16,
  rateDurationS: 10,
  rateClient: "auto",
  quietWaitS: 20,
  maxRetries: 2,
  serverCpu: 1,
  clientCpu: 0,
  servers: ["lsbaws-libc-gateway", "lsbaws-libc-fetch", "deno-serve", "node-http"],
  scenarios: ["keepalive", "keepalive-capped", "fixed-rate"],
};

function wrkRun(
  server: ServerId,
  scenario: ThroughputRun["scenario"],
  rps: number,
  peakMiB: number,
) {
  return {
    round: 1,
    server,
    scenario,
    attempts: 1,
    wrk: {
      requests: rps * 10,
      durationS: 10,
      rps,
      bytes: 0,
      errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
      latencyMs: { p50: 1, p90: 2, p99: 3, max: 4, mean: 1, samples: rps * 10 },
      latencySource: "measured",
      wrkReportedMs: { p50: 1, p90: 2, p99: 3 },
      printedRps: rps,
    },
    serverCpuPct: 100,
    wrkCpuPct: 50,
    otherCpuPct: 0,
    serverRssAfter: peakMiB * (1 << 20),
    peakRss: peakMiB * (1 << 20),
  } satisfies ThroughputRun;
}

function rateRun(server: ServerId, round: number, cpuS: number, invalid?: string): RateRun {
  return {
    round,
    server,
    attempts: 1,
    client: "hey",
    offeredRps: 2000,
    connections: 20,
    durationS: 10,
    ok: 20_000,
    failed: 0,
    elapsedS: 10,
    achievedRps: 2000,
    serverCpuS: cpuS,
    clientCpuPct: 20,
    otherCpuPct: 0,
    ...(invalid ? { invalid } : {}),
  };
}

function results(): BenchResults {
  return {
    machine: {},
    settings: { ...settings, rounds: 2 },
    startedAt: "",
    elapsedS: 0,
    verification: {},
    throughput: [
      wrkRun("lsbaws-libc-gateway", "keepalive", 50_000, 70),
      wrkRun("lsbaws-libc-fetch", "keepalive", 60_000, 80),
      wrkRun("deno-serve", "keepalive", 70_000, 50),
      wrkRun("node-http", "keepalive", 30_000, 55),
      wrkRun("lsbaws-libc-gateway", "keepalive-capped", 36_000, 70),
      wrkRun("lsbaws-libc-fetch", "keepalive-capped", 30_000, 80),
      wrkRun("deno-serve", "keepalive-capped", 35_000, 50),
      wrkRun("node-http", "keepalive-capped", 15_000, 55),
    ],
    upload: [],
    idle: [],
    rate: [
      rateRun("lsbaws-libc-gateway", 1, 1.1),
      // An invalid round never counts, whatever its number.
      rateRun("lsbaws-libc-gateway", 2, 0.01, "achieved 1500 req/s"),
      rateRun("lsbaws-libc-fetch", 1, 1.5),
      rateRun("lsbaws-libc-fetch", 2, 1.3),
      rateRun("deno-serve", 1, 1.0),
      rateRun("deno-serve", 2, 1.0),
      rateRun("node-http", 1, 2.0),
    ],
    skipped: [],
    problems: [],
  };
}

Deno.test("targetsFor lists the capped, peak RSS and fixed-rate CPU targets", () => {
  const all = targetsFor({ ...settings, scenarios: [...ALL_SCENARIOS] });
  const byId = new Map(all.map((t) => [t.id, t]));
  for (const id of ["keepalive-rps", "pipeline-rps", "close-rps", "keepalive-p99", "idle-cost"]) {
    assert(byId.has(id), `existing target ${id} kept`);
  }
  assert.deepEqual(
    [byId.get("keepalive-capped-rps")?.kind, byId.get("keepalive-capped-rps")?.threshold],
    ["ratio-min", 1.0],
  );
  assert.match(byId.get("keepalive-capped-rps")!.label, /capped at 0\.5 core ≥ 1\.0× Deno\.serve/);
  assert.deepEqual(
    [byId.get("keepalive-rss")?.kind, byId.get("keepalive-rss")?.threshold],
    ["ratio-max", 1.5],
  );
  assert.deepEqual(
    [byId.get("fixed-rate-cpu")?.kind, byId.get("fixed-rate-cpu")?.threshold],
    ["ratio-max", 1.2],
  );
  assert.match(byId.get("fixed-rate-cpu")!.label, /2,000 req\/s ≤ 1\.2× Deno\.serve/);
  const fewer = targetsFor({ ...settings, scenarios: ["pipeline"] }).map((t) => t.id);
  assert.deepEqual(fewer, ["pipeline-rps"]);
});

Deno.test("judge: ratios to Deno.serve, invalid fixed-rate rounds left out", () => {
  const r = results();
  const cpu = metricsOf("fixed-rate").find((m) => m.key === "cpuS")!;
  assert.equal(medianOf(r, "lsbaws-libc-gateway", cpu), 1.1);
  assert.equal(medianOf(r, "lsbaws-libc-fetch", cpu), 1.4);
  const v = (target: string, server: ServerId) =>
    judge(r).find((x) => x.target === target && x.server === server)!;
  assert.equal(v("fixed-rate-cpu", "lsbaws-libc-gateway").verdict, "PASS");
  assert.equal(v("fixed-rate-cpu", "lsbaws-libc-fetch").verdict, "MISS");
  assert.equal(v("keepalive-rss", "lsbaws-libc-gateway").verdict, "PASS"); // 70 / 50 = 1.4
  assert.equal(v("keepalive-rss", "lsbaws-libc-fetch").verdict, "MISS"); // 80 / 50 = 1.6
  assert.equal(v("keepalive-capped-rps", "lsbaws-libc-gateway").verdict, "PASS");
  assert.equal(v("keepalive-capped-rps", "lsbaws-libc-fetch").verdict, "MISS");
  assert(judge(r).every((x) => x.server.startsWith("lsbaws")), "only lsbaws is judged");
  const table = summaryTable(r);
  assert.match(table, /\| {2}\| peak RSS MiB \| 70\.0 \(1\.40×\) \| 80\.0 \(1\.60×\) \| 50\.0 \|/);
  assert.match(
    table,
    /2,000 req\/s offered for 10 s, 20 conns \| server CPU s \| 1\.10 \(1\.10×\)/,
  );
  assert.match(rawTables(r), /invalid: achieved 1500 req\/s/);
});

Deno.test("a skipped scenario shows as skipped, never as a miss", () => {
  const r = results();
  r.throughput = r.throughput.filter((t) => t.scenario !== "keepalive-capped");
  r.skipped = [{ scenario: "keepalive-capped", reason: "no writable cgroup cpu controller" }];
  const capped = judge(r).filter((x) => x.target === "keepalive-capped-rps");
  assert.deepEqual(capped.map((x) => x.verdict), ["SKIP", "SKIP"]);
  assert.match(
    summaryTable(r),
    /\| keep-alive, 64 conns, server capped at 0\.5 core \| skipped \| skipped \|/,
  );
  assert.match(targetsTable(r), /capped at 0\.5 core ≥ 1\.0× Deno\.serve \| skipped \| skipped \|/);
  assert.match(rawTables(r), /Skipped: no writable cgroup cpu controller\./);
});

Deno.test("results of an older harness (no rate, skipped or peak RSS) still render", () => {
  const r = results();
  delete r.rate;
  delete r.skipped;
  for (const t of r.throughput) delete t.peakRss;
  r.settings.scenarios = ["keepalive"];
  const table = summaryTable(r);
  assert.match(table, /\| {2}\| peak RSS MiB \| – \| – \| – \| – \|/);
  assert.equal(
    judge(r).find((x) => x.target === "keepalive-rss" && x.server === "lsbaws-libc-fetch")?.verdict,
    "N/A",
  );
  assert.doesNotThrow(() => rawTables(r));
});

Deno.test("the targets are the issue's list, in its order, with its thresholds", () => {
  const all = targetsFor({ ...settings, scenarios: [...ALL_SCENARIOS] });
  assert.deepEqual(
    all.map((t) => [t.id, t.kind, t.threshold]),
    [
      ["keepalive-rps", "ratio-min", 1.0],
      ["pipeline-rps", "ratio-min", 5.0],
      ["close-rps", "ratio-min", 1.1],
      ["keepalive-capped-rps", "ratio-min", 1.0],
      ["keepalive-p99", "ratio-max", 1.2],
      ["keepalive-rss", "ratio-max", 1.5],
      ["fixed-rate-cpu", "ratio-max", 1.2],
      ["idle-cost", "abs-max", 16],
      ["static-4k-rps", "ratio-min", 2.0],
      ["static-1m-rps", "ratio-min", 2.0],
      ["static-1m-capped-rps", "ratio-min", 2.0],
      ["static-1m-efficiency", "ratio-min", 2.0],
    ],
  );
  assert.match(
    all.find((t) => t.id === "static-1m-capped-rps")!.label,
    /^static 1 MiB req\/s, servers capped at 0\.25 core ≥ 2\.0× Hono serveStatic$/,
  );
  const label = (id: string) => all.find((t) => t.id === id)!.label;
  assert.match(label("keepalive-rps"), /≥ 1\.0× Deno\.serve \(aim 1\.1×\)/);
  assert.match(label("pipeline-rps"), /pipelining req\/s ≥ 5\.0× Deno\.serve/);
  assert.match(label("close-rps"), /connection-per-request req\/s, 16 conns ≥ 1\.1× Deno\.serve/);
  assert.match(label("idle-cost"), /≤ 16 KiB \(10,000 keep-alive conns\)/);
});

Deno.test("connection per request uses its own connection count (16 by default)", () => {
  assert.equal(closeConns(settings), 16);
  assert.equal(scenarioLabel("close", settings), "connection per request, 16 conns");
  // Results of older harness versions ran it with the wrk connection count.
  const old = { ...settings };
  delete old.closeConnections;
  assert.equal(scenarioLabel("close", old), "connection per request, 64 conns");
});

Deno.test("both backends are judged, one column each; uploads not run show as such", () => {
  const r = results();
  r.settings = {
    ...r.settings,
    servers: [...ALL_SERVERS],
    scenarios: ["keepalive", "upload-length"],
  };
  r.throughput.push(
    wrkRun("lsbaws-deno-gateway", "keepalive", 40_000, 60),
    wrkRun("lsbaws-deno-fetch", "keepalive", 80_000, 60),
  );
  const upload = (server: ServerId) => ({
    round: 1,
    server,
    scenario: "upload-length" as const,
    ok: true,
    mibPerS: 900,
    ms: 1000,
    baselineRss: 50 << 20,
    peakRss: 70 << 20,
    rssGrowth: 20 << 20,
    samples: 20,
    hwmUsed: true,
    attempts: 1,
    serverCpuPct: 100,
    clientCpuPct: 50,
    otherCpuPct: 0,
  });
  r.upload = ["lsbaws-libc-gateway", "lsbaws-libc-fetch", "deno-serve", "node-http"].map((s) =>
    upload(s as ServerId)
  );
  const verdicts = judge(r);
  const rps = verdicts.filter((v) => v.target === "keepalive-rps");
  assert.deepEqual(
    rps.map((v) => [v.server, v.verdict]),
    [
      ["lsbaws-libc-gateway", "MISS"],
      ["lsbaws-libc-fetch", "MISS"],
      ["lsbaws-deno-gateway", "MISS"],
      ["lsbaws-deno-fetch", "PASS"],
    ],
  );
  const text = targetsTable(r);
  assert.match(
    text,
    /\| Target \| lsbaws libc gateway \| lsbaws libc fetch \| lsbaws deno gateway \| lsbaws deno fetch \|/,
  );
  assert.match(
    text,
    /\(aim 1\.1×\) \| 0\.71× \*\*MISS\*\* \| 0\.86× \*\*MISS\*\* \| 0\.57× \*\*MISS\*\* \| 1\.14× PASS \|/,
  );
  const table = summaryTable(r);
  assert.match(
    table,
    /\| 1 GiB upload, Content-Length \| MiB\/s \| 900 \(1\.00×\) \| 900 \(1\.00×\) \| not run \| not run \| 900 \| 900 \(1\.00×\) \|/,
  );
  const raw = rawTables(r);
  const uploadRaw = raw.slice(raw.indexOf("#### 1 GiB upload"));
  assert.doesNotMatch(uploadRaw, /lsbaws deno/);
  assert.match(uploadRaw, /lsbaws libc gateway/);
});

Deno.test("results saved with the old lsbaws ids render under the libc entries", () => {
  const old = JSON.parse(
    JSON.stringify(results()).replaceAll('"lsbaws-libc-gateway"', '"lsbaws-gateway"')
      .replaceAll('"lsbaws-libc-fetch"', '"lsbaws-fetch"'),
  ) as BenchResults;
  old.verification = {
    "lsbaws-gateway hello": { checks: ["x"], sampleHead: "", responseBytes: 1 },
  };
  assert.equal(judge(old).length, 0, "old ids are not lsbaws entries as saved");
  const r = withCurrentServerIds(old);
  assert.deepEqual(r.settings.servers, [
    "lsbaws-libc-gateway",
    "lsbaws-libc-fetch",
    "deno-serve",
    "node-http",
  ]);
  assert.deepEqual(Object.keys(r.verification), ["lsbaws-libc-gateway hello"]);
  assert.equal(
    judge(r).find((x) => x.target === "fixed-rate-cpu" && x.server === "lsbaws-libc-gateway")
      ?.verdict,
    "PASS",
  );
  assert.match(
    summaryTable(r),
    /\| Scenario \| Metric \| lsbaws libc gateway \| lsbaws libc fetch \|/,
  );
  assert.equal(old.settings.servers[0], "lsbaws-gateway", "the saved object is left as it was");
});

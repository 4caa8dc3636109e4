/**
 * Unit tests of the static-file scenarios of `deno task bench`: their servers (lsbaws
 * `--static`, nginx, Hono's `serveStatic`) and nginx's generated config, their own baseline
 * (ratios to Hono's `serveStatic` and to nginx, in their own table; the target "≥ 2.0× Hono"),
 * nginx shown as skipped when it is missing, runs that read less than the file left out, the
 * response check against a real server, readiness by port for servers that print no listening
 * line, and process-tree CPU.
 */
import assert from "node:assert/strict";
import {
  ALL_SCENARIOS,
  ALL_SERVERS,
  type BenchResults,
  type BenchSettings,
  CAPPED_SCENARIOS,
  judge,
  medianOf,
  metricsOf,
  rawTables,
  scenarioLabel,
  STATIC_FILE_BYTES,
  STATIC_SCENARIOS,
  staticConns,
  type StaticRun,
  type StaticServerId,
  staticTable,
  summaryTable,
  targetsFor,
  targetsTable,
} from "../../bench/lib/report.ts";
import {
  ALL_STATIC_SERVERS,
  nginxConfig,
  STATIC_BASELINE,
  STATIC_SERVER_DEFS,
  staticServerCommand,
  type StaticServerDef,
} from "../../bench/lib/servers.ts";
import { cpuSeconds, startServer, treeCpuSeconds } from "../../bench/lib/proc.ts";
import { VerifyError, verifyStatic } from "../../bench/lib/verify.ts";
import { parseArgs, staticFileContents } from "../../bench/run.ts";

const settings: BenchSettings = {
  ...parseArgs([]).settings,
  rounds: 1,
  servers: [...ALL_SERVERS],
  scenarios: ["static-4k", "static-1m"],
};

function staticRun(
  server: StaticServerId,
  scenario: "static-4k" | "static-1m",
  rps: number,
  bytesPerResponse?: number,
  serverCpuPct = 100,
): StaticRun {
  const fileBytes = scenario === "static-4k" ? 4096 : 1 << 20;
  const requests = rps * 10;
  return {
    round: 1,
    server,
    scenario,
    fileBytes,
    connections: scenario === "static-4k" ? 64 : 16,
    attempts: 1,
    wrk: {
      requests,
      durationS: 10,
      rps,
      bytes: requests * (bytesPerResponse ?? fileBytes + 200),
      errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
      latencyMs: { p50: 1, p90: 2, p99: 3, max: 4, mean: 1, samples: requests },
      latencySource: "measured",
      wrkReportedMs: { p50: 1, p90: 2, p99: 3 },
      printedRps: rps,
    },
    mibPerS: (rps * fileBytes) / (1 << 20),
    serverCpuPct,
    wrkCpuPct: 50,
    otherCpuPct: 0,
  };
}

function results(): BenchResults {
  return {
    machine: {},
    settings,
    startedAt: "",
    elapsedS: 0,
    verification: {},
    throughput: [],
    upload: [],
    idle: [],
    rate: [],
    skipped: [],
    static: [
      staticRun("lsbaws-static", "static-4k", 30_000),
      staticRun("nginx", "static-4k", 60_000),
      staticRun("hono-static", "static-4k", 10_000),
      staticRun("lsbaws-static", "static-1m", 900, undefined, 40),
      staticRun("nginx", "static-1m", 1800),
      staticRun("hono-static", "static-1m", 600),
    ],
    skippedServers: [],
    problems: [],
  };
}

Deno.test("the static scenarios are selectable and have their own servers and settings", () => {
  assert.deepEqual(STATIC_SCENARIOS, ["static-4k", "static-1m", "static-1m-capped"]);
  for (const s of STATIC_SCENARIOS) assert(ALL_SCENARIOS.includes(s));
  const parsed = parseArgs(["--scenarios", "static-1m,static-4k", "--static-large-conns", "8"]);
  assert.deepEqual(parsed.settings.scenarios, ["static-4k", "static-1m"]);
  assert.equal(parsed.settings.staticConns, 64);
  assert.equal(parsed.settings.staticLargeConns, 8);
  // The capped 1 MiB run: the same file size and connections, a quarter core per server.
  assert.equal(STATIC_FILE_BYTES["static-1m-capped"], 1 << 20);
  assert.equal(staticConns("static-1m-capped", parsed.settings), 8);
  assert.equal(parsed.settings.staticCapQuotaUs, 25_000);
  assert.equal(
    scenarioLabel("static-1m-capped", parsed.settings),
    "1 MiB file, keep-alive, 8 conns, servers capped at 0.25 core",
  );
  assert.deepEqual(CAPPED_SCENARIOS, ["keepalive-capped", "static-1m-capped"]);
  assert.throws(() => parseArgs(["--scenarios", "static-2m"]), /unknown scenario static-2m/);
  assert.deepEqual(ALL_STATIC_SERVERS, ["lsbaws-static", "nginx", "hono-static"]);
  assert.equal(STATIC_BASELINE, "hono-static");
  for (const id of ALL_STATIC_SERVERS) {
    assert(!(ALL_SERVERS as string[]).includes(id), `${id} is not a hello server`);
  }
});

Deno.test("static server commands: lsbaws --static, nginx with its config, Hono under the examples' config", () => {
  const def = (id: string) =>
    (STATIC_SERVER_DEFS as readonly StaticServerDef[]).find((d) => d.id === id)!;
  const paths = { dir: "/tmp/x/files", nginxPrefix: "/tmp/x/ng", nginxConf: "/tmp/x/ng/n.conf" };
  const lsbaws = staticServerCommand(def("lsbaws-static"), paths, "deno");
  assert.deepEqual(lsbaws.slice(-3), [
    "--static",
    "/static=/tmp/x/files",
    "bench/apps/hello_gateway.ts:app",
  ]);
  assert.deepEqual(staticServerCommand(def("nginx"), paths, "deno"), [
    "nginx",
    "-e",
    "stderr",
    "-p",
    "/tmp/x/ng",
    "-c",
    "/tmp/x/ng/n.conf",
  ]);
  assert.throws(() => staticServerCommand(def("nginx"), { dir: "/d" }, "deno"), /nginx needs/);
  const hono = staticServerCommand(def("hono-static"), paths, "/bin/deno");
  assert.deepEqual(hono, [
    "/bin/deno",
    "run",
    "-A",
    "--config",
    "apps/frameworks/deno.json",
    "bench/frameworks/hono_static.ts",
    "--dir",
    "/tmp/x/files",
  ]);

  const conf = nginxConfig({ dir: "/tmp/x/files", prefix: "/tmp/x/ng", port: 8123 });
  for (
    const line of [
      "worker_processes 1;",
      "daemon off;",
      "pid /tmp/x/ng/nginx.pid;",
      "access_log off;",
      "sendfile on;",
      "tcp_nopush on;",
      "listen 127.0.0.1:8123;",
      "location /static/ {",
      "alias /tmp/x/files/;",
      "client_body_temp_path /tmp/x/ng/tmp_client_body;",
    ]
  ) {
    assert(conf.split("\n").some((l) => l.trim() === line), `nginx config lacks ${line}`);
  }
});

Deno.test("static ratios are against Hono serveStatic (the target) and nginx, in their own table", () => {
  const r = results();
  const targets = targetsFor(settings);
  assert.deepEqual(targets.map((t) => [t.id, t.label, t.threshold, t.baseline]), [
    ["static-4k-rps", "static 4 KiB req/s ≥ 2.0× Hono serveStatic", 2, "hono-static"],
    ["static-1m-rps", "static 1 MiB req/s ≥ 2.0× Hono serveStatic", 2, "hono-static"],
    [
      "static-1m-efficiency",
      "static 1 MiB MiB per server CPU s ≥ 2.0× Hono serveStatic",
      2,
      "hono-static",
    ],
  ]);
  const verdicts = judge(r);
  assert.deepEqual(
    verdicts.map((v) => [v.target, v.server, v.ratio, v.verdict]),
    [
      ["static-4k-rps", "lsbaws-static", 3, "PASS"],
      ["static-1m-rps", "lsbaws-static", 1.5, "MISS"],
      // 900 MiB/s at 40 % of a core is 2,250 MiB per CPU second; Hono's 600 at 100 %: 3.75×.
      ["static-1m-efficiency", "lsbaws-static", 3.75, "PASS"],
    ],
  );
  const mib = metricsOf("static-1m").find((m) => m.key === "mibPerS")!;
  assert.equal(medianOf(r, "lsbaws-static", mib), 900);
  const perCpu = metricsOf("static-1m").find((m) => m.key === "mibPerCpuS")!;
  assert.equal(medianOf(r, "lsbaws-static", perCpu), 2250);
  assert.equal(metricsOf("static-4k").some((m) => m.key === "mibPerS"), false);

  const table = staticTable(r);
  assert.match(
    table,
    /\| Static files \| Metric \| lsbaws --static \| nginx \| Hono serveStatic \| lsbaws --static ÷ Hono serveStatic \| lsbaws --static ÷ nginx \|/,
  );
  assert.match(
    table,
    /\| 4 KiB file, keep-alive, 64 conns \| req\/s \| 30,000 \| 60,000 \| 10,000 \| 3\.00× \| 0\.50× \|/,
  );
  assert.match(table, /\| 1 MiB file, keep-alive, 16 conns \| req\/s \| 900 \| 1,800 \| 600 \|/);
  assert.match(table, /\| {2}\| MiB\/s \| 900 \| 1,800 \| 600 \| 1\.50× \| 0\.50× \|/);
  // The main table (ratios to Deno.serve) has no static rows.
  assert.doesNotMatch(summaryTable(r), /file, keep-alive/);
  const targetsText = targetsTable(r);
  assert.match(targetsText, /\| Target \| lsbaws --static \|/);
  assert.match(targetsText, /4 KiB req\/s ≥ 2\.0× Hono serveStatic \| 3\.00× PASS \|/);
  assert.match(
    targetsText,
    /1 MiB req\/s ≥ 2\.0× Hono serveStatic \| 1\.50× \(900 MiB\/s\) \*\*MISS\*\* \|/,
  );
  assert.match(rawTables(r), /\| nginx \| 1 \| 60,000 \| 234 \|/);
});

Deno.test("a run with both kinds of target shows one column per judged lsbaws server", () => {
  const r = results();
  r.settings = { ...settings, scenarios: ["keepalive", "static-4k"] };
  const text = targetsTable(r);
  assert.match(
    text,
    /\| Target \| lsbaws libc gateway \| lsbaws libc fetch \| lsbaws deno gateway \| lsbaws deno fetch \| lsbaws --static \|/,
  );
  assert.match(
    text,
    /4 KiB req\/s ≥ 2\.0× Hono serveStatic \| – \| – \| – \| – \| 3\.00× PASS \|/,
  );
  assert.match(
    text,
    /keep-alive req\/s ≥ 1\.0× Deno\.serve \(aim 1\.1×\)( \| – \*\*N\/A\*\*){4} \| – \|/,
  );
});

Deno.test("a missing nginx is shown as skipped; the Hono target is still judged", () => {
  const r = results();
  r.static = r.static!.filter((t) => t.server !== "nginx");
  r.skippedServers = [{ server: "nginx", reason: "nginx is not installed" }];
  const table = staticTable(r);
  assert.match(table, /\| req\/s \| 30,000 \| skipped \| 10,000 \| 3\.00× \| skipped \|/);
  assert.match(rawTables(r), /\| nginx \| – \| skipped: nginx is not installed \|/);
  assert.equal(judge(r)[0].verdict, "PASS");
});

Deno.test("a static run that read less than the file per response does not count", () => {
  const r = results();
  r.static = r.static!.map((t) =>
    t.server === "hono-static" && t.scenario === "static-4k" ? { ...t, wrk: { ...t.wrk } } : t
  );
  const hono = r.static.find((t) => t.server === "hono-static" && t.scenario === "static-4k")!;
  hono.wrk.bytes = hono.wrk.requests * 100;
  const rps = metricsOf("static-4k")[0];
  assert(Number.isNaN(medianOf(r, "hono-static", rps)));
  assert.equal(judge(r)[0].verdict, "N/A");
  // Results of an older harness (no static runs at all) still render.
  delete r.static;
  delete r.skippedServers;
  assert.doesNotThrow(() => staticTable(r) + rawTables(r) + targetsTable(r));
});

Deno.test("staticFileContents is deterministic, sized and incompressible-looking", () => {
  const a = staticFileContents(4096, 7);
  assert.equal(a.length, 4096);
  assert.deepEqual(a, staticFileContents(4096, 7));
  assert.notDeepEqual(a, staticFileContents(4096, 8));
  assert(new Set(a).size > 200, "bytes spread over the whole range");
});

Deno.test("verifyStatic accepts exact bytes (chunked or not) and rejects a wrong body", async () => {
  const good = staticFileContents(70_000, 1);
  let serveWrong = false;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/static/a.bin") {
      const body = serveWrong ? good.slice(0, -1) : good;
      return new Response(body);
    }
    if (path === "/static/chunked.bin") {
      return new Response(new Blob([good]).stream());
    }
    return new Response("no", { status: 404 });
  });
  try {
    const port = server.addr.port;
    const report = await verifyStatic(port, [
      { path: "/static/a.bin", bytes: good },
      { path: "/static/chunked.bin", bytes: good },
    ]);
    assert.equal(report.checks.length, 4);
    assert.match(report.sampleHead, /^HTTP\/1\.1 200 /);
    serveWrong = true;
    await assert.rejects(
      verifyStatic(port, [{ path: "/static/a.bin", bytes: good }]),
      (err) => err instanceof VerifyError && /differ/.test(err.message),
    );
    await assert.rejects(
      verifyStatic(port, [{ path: "/static/missing.bin", bytes: good }]),
      (err) => err instanceof VerifyError && /status 404/.test(err.message),
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("startServer with a port waits for it to accept; treeCpuSeconds counts children", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  // A parent that prints no listening line, listens after a while, and burns CPU in a child.
  const script = `setTimeout(() => Deno.listen({ hostname: "127.0.0.1", port: ${port} }), 300);
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "const t = Date.now(); while (Date.now() - t < 4000);"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    setInterval(() => {}, 1000);`;
  const srv = await startServer([Deno.execPath(), "eval", script], {
    cwd: ".",
    cpu: null,
    port,
    startTimeoutMs: 20_000,
  });
  try {
    assert.equal(srv.port, port);
    const deadline = Date.now() + 10_000;
    while (treeCpuSeconds(srv.pid) - cpuSeconds(srv.pid) < 0.3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert(
      treeCpuSeconds(srv.pid) - cpuSeconds(srv.pid) >= 0.3,
      "the busy child's CPU time is counted",
    );
  } finally {
    await srv.stop(500);
  }
});

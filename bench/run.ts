/**
 * `deno task bench`: lsbaws on both socket backends (`--io libc`, epoll through FFI, and
 * `--io deno`, `Deno.listen`), each with the gateway app and the fetch app, against
 * `Deno.serve` and `node:http`, all serving the same hello-world and upload-sink logic
 * (`bench/apps/`), driven by wrk (and hey or `bench/rate_client.ts` for the fixed rate). The
 * servers are the entries of `bench/lib/servers.ts` (the deno-backend entries skip the upload
 * scenarios); the estimated duration is printed before anything runs.
 *
 * What it does, in order:
 * 1. Pins itself to the client core, installs wrk (and hey) when missing (apt-get), looks for a
 *    writable cgroup cpu controller (`bench/lib/cgroup.ts`), records the machine. A scenario
 *    the machine cannot run (no cgroup for the capped one) is skipped with its reason.
 * 2. Throughput: for each round, for each server (A B C D, A B C D, ...): starts the server
 *    pinned to the server core (`taskset`), checks its responses (`bench/lib/verify.ts`), then
 *    for keep-alive, pipelining, connection-per-request (16 connections by default, the issue's
 *    figure) and keep-alive with the server capped at half a core (moved into a cgroup for that run only) runs an untimed wrk warm-up and a
 *    timed wrk run (`-t1 -cC --latency`, pinned to the client core) while sampling the
 *    server's RSS every 50 ms (and VmHWM); then offers a fixed rate (2,000 req/s over 20
 *    keep-alive connections) and reads the server's CPU seconds from /proc/PID/stat before and
 *    after (a run whose achieved rate is more than 5 % off is invalid); and stops the server.
 * 3. Upload: for each round and server, a fresh sink server per framing (Content-Length,
 *    chunked); streams the upload from `bench/upload_client.ts` while sampling the server's RSS
 *    every 50 ms (and VmHWM); reports MiB/s and peak RSS growth over the pre-upload baseline.
 * 4. Idle: for each round and server, a fresh hello server; `bench/idle_client.ts` opens N
 *    connections with one request each and holds them; RSS growth / live connections.
 * 5. Static files: writes a 4 KiB and a 1 MiB file into a temp dir (removed afterwards); for
 *    each round, for each static-file server (lsbaws `--static`, nginx, Hono's `serveStatic` on
 *    `Deno.serve`; `STATIC_SERVER_DEFS`): starts it pinned to the server core (nginx with a
 *    config generated in the temp dir; skipped with the reason when nginx is not installed),
 *    checks that it serves both files byte for byte, then per file an untimed wrk warm-up and a
 *    timed keep-alive wrk run pinned to the client core (fewer connections for the 1 MiB file),
 *    with the server's CPU summed over its process tree (nginx's worker is a child).
 * 6. With `--profile`: each lsbaws server once more, started under Deno's `--cpu-prof` (profile
 *    written to a temp dir, removed afterwards), keep-alive wrk warm-up and timed run, then the
 *    top self-time functions and categories (`bench/lib/profile.ts`).
 * 7. Medians over rounds, ratios to `Deno.serve` (static files: to Hono's `serveStatic` and to
 *    nginx), PASS/MISS per target and lsbaws server; prints the tables and
 *    writes `bench/results/latest.json` and, for a complete full run, `bench/RESULTS.md` and the
 *    README table (between `<!-- bench:table:start -->` and `<!-- bench:table:end -->`, which
 *    replace a bare `<!-- BENCH -->` placeholder the first time).
 *
 * Usage: `deno task bench [options]`, `deno task bench:smoke`, `deno task bench --help`.
 * Exit code 0 when every check passed and every scenario produced numbers (targets may still be
 * missed: that is reported, not an error); 1 otherwise; 2 for bad options.
 */
// deno-lint-ignore-file no-console
import {
  capture,
  cpuSeconds,
  cpuSnapshot,
  cpuUse,
  descendantPids,
  killAll,
  peakRssBytes,
  pinnedCommand,
  resetPeakRss,
  rssBytes,
  RssSampler,
  type ServerProcess,
  sleep,
  socketCount,
  startServer,
  steadyRss,
  track,
  treeCpuSeconds,
} from "./lib/proc.ts";
import { ensureWrk, runWrk } from "./lib/wrk.ts";
import {
  STATIC_PIPELINE,
  type StaticFile,
  verifyHello,
  verifySink,
  verifyStatic,
} from "./lib/verify.ts";
import {
  activeCaps,
  capProcess,
  type CpuCap,
  type CpuCgroupSupport,
  detectCpuCgroup,
  releaseAllCaps,
  releaseCap,
  type ThrottleStats,
  throttleStats,
} from "./lib/cgroup.ts";
import { ensureHey, type RateClient, rateProblem, runRate } from "./lib/rate.ts";
import { estimateRun } from "./lib/plan.ts";
import { profiledCommand, profileMarkdown, summarizeProfile } from "./lib/profile.ts";
import {
  type AppKind,
  isLsbaws,
  nginxConfig,
  resolveServerId,
  runsScenario,
  SERVER_ALIASES,
  serverCommand,
  serverDef,
  STATIC_PREFIX,
  STATIC_SERVER_DEFS,
  staticServerCommand,
  type StaticServerDef,
} from "./lib/servers.ts";
import {
  ALL_SCENARIOS,
  ALL_SERVERS,
  ALL_STATIC_SERVERS,
  type AnyServerId,
  BASELINE,
  type BenchResults,
  type BenchSettings,
  type CapInfo,
  CAPPED_SCENARIOS,
  capShare,
  closeConns,
  CONTAMINATED_PCT,
  fmt,
  fmtRatio,
  formatBytes,
  HELLO_SCENARIOS,
  type IdleRun,
  judge,
  machineList,
  metricsOf,
  type RateRun,
  rawTables,
  roundValues,
  type ScenarioId,
  SERVER_LABELS,
  type ServerId,
  serverLabel,
  serverSkipReason,
  STATIC_BASELINE,
  STATIC_CAP_QUOTA_US,
  STATIC_FILE_BYTES,
  STATIC_SCENARIOS,
  STATIC_SERVER_LABELS,
  staticCapShare,
  staticConns,
  type StaticRun,
  type StaticServerId,
  staticTable,
  summaryTable,
  targetsTable,
  THROUGHPUT_SCENARIOS,
  type ThroughputRun,
  type UploadRun,
  withCurrentServerIds,
} from "./lib/report.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();

const HELP = `deno task bench [options]     (or: deno run -A --unstable-net bench/run.ts [options])

  --smoke              harness check for CI: 1 round of 1 s (fixed rate: 2 s), 200 idle
                       conns, 16 MiB uploads; a fixed-rate run that stays invalid (busy
                       machine) is reported but does not fail the smoke run
  --rounds N           rounds per server and scenario (default 3; median reported)
  --duration S         seconds per timed wrk run (default 10)
  --warmup S           untimed wrk warm-up before each timed run (default 2)
  --connections N      wrk connections (default 64)
  --close-connections N  wrk connections of the connection-per-request scenario (default 16)
  --depth N            requests per pipelined write (default 16)
  --upload-bytes N     bytes per upload (default 1073741824, i.e. 1 GiB)
  --idle-conns N       idle connections (default 10000)
  --rate N             fixed-rate scenario: requests per second offered (default 2000)
  --rate-conns N       fixed-rate scenario: keep-alive connections (default 20)
  --rate-duration S    fixed-rate scenario: seconds per timed run (default 10; smoke 2)
  --rate-warmup S      fixed-rate scenario: untimed warm-up at the same rate (default 10; smoke 0)
  --rate-client C      auto (hey when installed or installable, else bench/rate_client.ts),
                       hey, or deno (default auto)
  --servers LIST       comma list of ${ALL_SERVERS.join(",")}
                       (Deno.serve is always added: every ratio is against it; the old ids
                       ${Object.keys(SERVER_ALIASES).join(", ")} name the libc entries; the
                       lsbaws-deno-* entries skip the upload scenarios)
  --scenarios LIST     comma list of ${ALL_SCENARIOS.join(",")}
                       (the static-* scenarios always compare ${ALL_STATIC_SERVERS.join(", ")};
                       ratios against ${STATIC_BASELINE}, and nginx is skipped with the
                       reason when it is not installed)
  --static-conns N     wrk connections for the 4 KiB file (default 64)
  --static-large-conns N  wrk connections for the 1 MiB file (default 16)
  --server-cpu N       core for the servers (default 1)
  --client-cpu N       core for wrk, the clients and this harness (default 0)
  --quiet-wait S       before each timed run, wait up to S seconds for other processes to
                       use < 10% of a core (default 20; smoke 0)
  --max-retries N      measure a timed run again (up to N more times) when other processes
                       used > 25% of a core during it; the cleanest attempt is kept
                       (default 2; smoke 0)
  --profile            after the measurements, run each lsbaws server of the run once more
                       under Deno's --cpu-prof during keep-alive wrk and report the functions
                       with the most self time (profiles go to a temp dir, then are removed)
  --profile-servers LIST  like --profile, for these lsbaws servers only
  --json PATH          results file (default bench/results/latest.json; smoke: smoke.json)
  --no-write           do not touch bench/RESULTS.md or README.md
  --render PATH        run nothing: print the tables of a saved results JSON and, when it is
                       a complete run, rewrite bench/RESULTS.md and the README table from it
  -h, --help           this text

A complete full run (all servers and scenarios, >= 3 rounds) rewrites the generated part of
bench/RESULTS.md and the README table; partial runs only write the JSON file. The estimated
duration is printed first (a full run: about 35 minutes, plus about a minute with --profile).`;

/** Parses the command line into settings plus output options. */
export function parseArgs(args: string[]): {
  settings: BenchSettings;
  json: string;
  write: boolean;
  help: boolean;
  render: string | null;
} {
  const smoke = args.includes("--smoke");
  const settings: BenchSettings = {
    smoke,
    rounds: smoke ? 1 : 3,
    durationS: smoke ? 1 : 10,
    warmupS: smoke ? 0 : 2,
    connections: 64,
    closeConnections: 16,
    pipelineDepth: 16,
    uploadBytes: smoke ? 16 << 20 : 1 << 30,
    idleConns: smoke ? 200 : 10_000,
    idleKeepAliveMs: 120_000,
    capQuotaUs: 50_000,
    capPeriodUs: 100_000,
    rate: 2000,
    rateConns: 20,
    staticConns: 64,
    staticLargeConns: 16,
    staticCapQuotaUs: STATIC_CAP_QUOTA_US,
    rateDurationS: smoke ? 2 : 10,
    rateWarmupS: smoke ? 0 : 10,
    rateClient: "auto",
    quietWaitS: smoke ? 0 : 20,
    maxRetries: smoke ? 0 : 2,
    serverCpu: 1,
    clientCpu: 0,
    servers: [...ALL_SERVERS],
    scenarios: [...ALL_SCENARIOS],
  };
  let json = `${ROOT}/bench/results/${smoke ? "smoke" : "latest"}.json`;
  let write = !smoke;
  let help = false;
  let render: string | null = null;
  let profile = false;
  let profileList: ServerId[] | null = null;
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) {
      throw new Error(`${flag} needs an integer >= ${min}`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    switch (a) {
      case "--smoke":
        break;
      case "-h":
      case "--help":
        help = true;
        break;
      case "--rounds":
        settings.rounds = num(a, v, 1);
        i++;
        break;
      case "--duration":
        settings.durationS = num(a, v, 1);
        i++;
        break;
      case "--warmup":
        settings.warmupS = num(a, v, 0);
        i++;
        break;
      case "--connections":
        settings.connections = num(a, v, 1);
        i++;
        break;
      case "--close-connections":
        settings.closeConnections = num(a, v, 1);
        i++;
        break;
      case "--profile":
        profile = true;
        break;
      case "--profile-servers": {
        profileList = (v ?? "").split(",").filter(Boolean).map(resolveServerId);
        for (const s of profileList) {
          if (!isLsbaws(s)) throw new Error(`--profile-servers: ${s} is not an lsbaws server`);
        }
        if (profileList.length === 0) throw new Error("--profile-servers needs a server");
        i++;
        break;
      }
      case "--depth":
        settings.pipelineDepth = num(a, v, 2);
        i++;
        break;
      case "--upload-bytes":
        settings.uploadBytes = num(a, v, 1);
        i++;
        break;
      case "--idle-conns":
        settings.idleConns = num(a, v, 1);
        i++;
        break;
      case "--rate":
        settings.rate = num(a, v, 1);
        i++;
        break;
      case "--rate-conns":
        settings.rateConns = num(a, v, 1);
        i++;
        break;
      case "--static-conns":
        settings.staticConns = num(a, v, 1);
        i++;
        break;
      case "--static-large-conns":
        settings.staticLargeConns = num(a, v, 1);
        i++;
        break;
      case "--rate-duration":
        settings.rateDurationS = num(a, v, 1);
        i++;
        break;
      case "--rate-warmup":
        settings.rateWarmupS = num(a, v, 0);
        i++;
        break;
      case "--rate-client":
        if (v !== "auto" && v !== "hey" && v !== "deno") {
          throw new Error("--rate-client needs auto, hey or deno");
        }
        settings.rateClient = v;
        i++;
        break;
      case "--server-cpu":
        settings.serverCpu = num(a, v, 0);
        i++;
        break;
      case "--quiet-wait":
        settings.quietWaitS = num(a, v, 0);
        i++;
        break;
      case "--max-retries":
        settings.maxRetries = num(a, v, 0);
        i++;
        break;
      case "--client-cpu":
        settings.clientCpu = num(a, v, 0);
        i++;
        break;
      case "--servers": {
        const list = (v ?? "").split(",").filter(Boolean).map(resolveServerId);
        if (!list.includes(BASELINE)) list.push(BASELINE);
        settings.servers = ALL_SERVERS.filter((s) => list.includes(s));
        i++;
        break;
      }
      case "--scenarios": {
        const list = (v ?? "").split(",").filter(Boolean) as ScenarioId[];
        for (const s of list) {
          if (!ALL_SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
        }
        if (list.length === 0) throw new Error("--scenarios needs at least one scenario");
        settings.scenarios = ALL_SCENARIOS.filter((s) => list.includes(s));
        i++;
        break;
      }
      case "--json":
        if (!v) throw new Error("--json needs a path");
        json = v;
        i++;
        break;
      case "--no-write":
        write = false;
        break;
      case "--render":
        if (!v) throw new Error("--render needs a results JSON path");
        render = v;
        i++;
        break;
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (profileList) {
    settings.profileServers = ALL_SERVERS.filter((s) => profileList.includes(s));
  } else if (profile) {
    settings.profileServers = settings.servers.filter(isLsbaws);
  }
  return { settings, json, write, help, render };
}

/** True when the run covers everything the issue asks for, so RESULTS.md may be rewritten. */
function isCompleteRun(s: BenchSettings): boolean {
  return !s.smoke && s.rounds >= 3 && s.servers.length === ALL_SERVERS.length &&
    s.scenarios.length === ALL_SCENARIOS.length;
}

function log(line: string): void {
  console.log(line);
}

async function machineInfo(wrkVersion: string): Promise<Record<string, string>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const nproc = (await capture("nproc", [])).stdout.trim();
  const node = (await capture("node", ["--version"])).stdout.trim() || "not found";
  const rev = (await capture("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"])).stdout.trim();
  const dirty = (await capture("git", ["-C", ROOT, "status", "--porcelain"])).stdout.trim();
  const mem = /^MemTotal:\s+(\d+) kB/m.exec(
    await Deno.readTextFile("/proc/meminfo").catch(() => ""),
  );
  return {
    date: new Date().toISOString(),
    cpus: `${nproc} (${model})`,
    memory: mem ? `${(Number(mem[1]) / (1 << 20)).toFixed(1)} GiB` : "unknown",
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    node,
    wrk: wrkVersion,
    commit: rev ? `${rev}${dirty ? " (with uncommitted changes)" : ""}` : "unknown",
  };
}

/**
 * SHA-256 (first 12 hex digits) over the lsbaws sources the servers load (main.ts, server/,
 * gateway/), so that a run can tell whether the engine changed while it was measuring.
 */
export async function engineFingerprint(): Promise<string> {
  const files: string[] = [`${ROOT}/main.ts`];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && e.name.endsWith(".ts")) files.push(p);
    }
  };
  for (const d of ["server", "gateway"]) await walk(`${ROOT}/${d}`).catch(() => {});
  files.sort();
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const f of files) {
    parts.push(enc.encode(`${f.slice(ROOT.length)}\0`));
    parts.push(await Deno.readFile(f).catch(() => new Uint8Array(0)));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Pins this process (all threads) to `cpu`; false when taskset is unavailable. */
async function pinSelf(cpu: number): Promise<boolean> {
  const r = await capture("taskset", ["-a", "-p", "-c", String(cpu), String(Deno.pid)]);
  return r.code === 0;
}

/** Reads stdout of a child line by line. */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | null> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return async () => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) {
        if (buf === "") return null;
        const rest = buf;
        buf = "";
        return rest;
      }
      buf += value;
    }
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Runs the whole benchmark; resolves to the results. */
export async function runBench(settings: BenchSettings): Promise<BenchResults> {
  const started = performance.now();
  const results: BenchResults = {
    machine: {},
    settings,
    startedAt: new Date().toISOString(),
    elapsedS: 0,
    verification: {},
    throughput: [],
    upload: [],
    idle: [],
    rate: [],
    skipped: [],
    static: [],
    skippedServers: [],
    problems: [],
  };
  const problem = (
    round: number,
    server: AnyServerId | "",
    scenario: ScenarioId | "",
    m: string,
  ) => {
    results.problems.push({ round, server, scenario, message: m });
    log(`  PROBLEM: ${server || "-"} ${scenario || "-"} round ${round}: ${m}`);
  };

  const nproc = navigator.hardwareConcurrency;
  if (
    settings.serverCpu !== null && Math.max(settings.serverCpu, settings.clientCpu ?? 0) >= nproc
  ) {
    if (!settings.smoke) {
      throw new Error(
        `pinning needs cores ${settings.clientCpu} and ${settings.serverCpu}, ` +
          `but this machine has ${nproc}; pass --server-cpu/--client-cpu`,
      );
    }
    log(`warning: ${nproc} core(s): running unpinned (smoke mode only)`);
    settings.serverCpu = null;
    settings.clientCpu = null;
  }
  const wrkVersion = await ensureWrk(log);
  results.machine = await machineInfo(wrkVersion); // before pinning: nproc honours affinity
  const skip = (scenario: ScenarioId, reason: string) => {
    results.skipped!.push({ scenario, reason });
    log(`skipping ${scenario}: ${reason}`);
  };
  const skipped = (scenario: ScenarioId) => results.skipped!.some((x) => x.scenario === scenario);
  let cgroup: CpuCgroupSupport = { ok: false, reason: "not needed" };
  const cappedScenarios = settings.scenarios.filter((s) => CAPPED_SCENARIOS.includes(s));
  if (cappedScenarios.length) {
    cgroup = detectCpuCgroup();
    if (cgroup.ok) {
      results.machine["cpu cap"] = `cgroup v${cgroup.version} at ${cgroup.root}`;
    } else {
      for (const s of cappedScenarios) {
        skip(s, `no writable cgroup cpu controller: ${cgroup.reason}`);
      }
    }
  }
  let rateClient: RateClient | null = null;
  if (settings.scenarios.includes("fixed-rate")) {
    const hey = settings.rateClient === "deno" ? null : await ensureHey(log);
    if (hey === null && settings.rateClient === "hey") {
      throw new Error("--rate-client hey: hey is not installed and apt-get could not install it");
    }
    rateClient = hey === null ? "deno" : "hey";
    results.machine["rate client"] = hey === null ? "bench/rate_client.ts" : `hey ${hey}`;
  }
  const fingerprint = await engineFingerprint();
  results.machine["engine sources"] = `sha256 ${fingerprint} (main.ts, server/, gateway/)`;
  if (settings.clientCpu !== null && !(await pinSelf(settings.clientCpu))) {
    throw new Error("taskset failed: cannot pin the harness (util-linux missing?)");
  }
  const fdLimit = Number((await capture("bash", ["-c", "ulimit -Hn"])).stdout.trim());
  if (settings.scenarios.includes("idle") && fdLimit < settings.idleConns + 256) {
    throw new Error(
      `the hard fd limit is ${fdLimit}; ${settings.idleConns} idle connections need ` +
        `${settings.idleConns + 256} (raise it, or pass --idle-conns)`,
    );
  }
  log(
    `lsbaws bench${settings.smoke ? " (smoke)" : ""}: ${settings.servers.length} servers, ` +
      `${settings.rounds} round(s), server core ${settings.serverCpu ?? "-"}, ` +
      `client core ${settings.clientCpu ?? "-"}`,
  );
  log(estimateLine(settings));
  log(machineList(results));

  const start = async (
    server: ServerId,
    app: AppKind,
    round: number,
    scenario: ScenarioId,
    idle = false,
  ): Promise<ServerProcess | null> => {
    try {
      const srv = await startServer(
        serverCommand(serverDef(server), app, idle ? settings.idleKeepAliveMs : null, DENO),
        { cwd: ROOT, cpu: settings.serverCpu },
      );
      try {
        const report = app === "hello"
          ? await verifyHello(srv.port, settings.pipelineDepth)
          : await verifySink(srv.port);
        results.verification[`${server} ${app}`] = report;
        return srv;
      } catch (err) {
        await srv.stop();
        throw new Error(`response check failed: ${err instanceof Error ? err.message : err}`);
      }
    } catch (err) {
      problem(round, server, scenario, err instanceof Error ? err.message : String(err));
      return null;
    }
  };

  // 1. Throughput (wrk), capped keep-alive and fixed rate: one hello server per round and server.
  const hellos = settings.scenarios.filter((s) => HELLO_SCENARIOS.includes(s));
  if (hellos.length) log("\n== throughput (wrk) and fixed rate");
  for (let round = 1; round <= settings.rounds && hellos.length; round++) {
    for (const server of settings.servers) {
      const srv = await start(server, "hello", round, hellos[0]);
      if (!srv) continue;
      try {
        for (const scenario of hellos) {
          if (skipped(scenario) || !runsScenario(server, scenario)) continue;
          try {
            if (scenario === "fixed-rate") {
              const run = await measureRate(srv, settings, round, server, rateClient!);
              results.rate!.push(run);
              log(
                `  [${round}/${settings.rounds}] ${SERVER_LABELS[server].padEnd(14)} ` +
                  `${scenario.padEnd(16)} server CPU ${fmt(run.serverCpuS, 2)} s  ` +
                  `${fmt(run.achievedRps, 0)} of ${run.offeredRps} req/s (${run.client})` +
                  (run.invalid ? `  INVALID: ${run.invalid}` : ""),
              );
            } else {
              const run = await measureThroughput(srv, settings, round, server, scenario, cgroup);
              results.throughput.push(run);
              logThroughput(run, round, settings, problem);
            }
          } catch (err) {
            problem(round, server, scenario, err instanceof Error ? err.message : String(err));
          }
        }
      } finally {
        await srv.stop();
      }
    }
  }

  // 2. Uploads.
  const ups = settings.scenarios.filter((s) => s.startsWith("upload"));
  if (ups.length) log(`\n== upload (${formatBytes(settings.uploadBytes)} streamed POST to a sink)`);
  for (let round = 1; round <= settings.rounds && ups.length; round++) {
    for (const server of settings.servers) {
      for (const scenario of ups.filter((x) => runsScenario(server, x))) {
        let best: UploadRun | undefined;
        for (let attempt = 1;; attempt++) {
          // A fresh server per attempt: an upload leaves its mark on the RSS baseline.
          const srv = await start(server, "sink", round, scenario);
          if (!srv) break;
          try {
            await waitForQuiet(srv.pid, settings);
            const run = await measureUpload(srv, settings, round, server, scenario);
            if (!best || !best.ok || (run.ok && run.otherCpuPct < best.otherCpuPct)) {
              best = { ...run };
            }
            best.attempts = attempt;
            if (!run.ok || !shouldRetry(run.otherCpuPct, attempt, settings)) break;
          } catch (err) {
            problem(round, server, scenario, err instanceof Error ? err.message : String(err));
            break;
          } finally {
            await srv.stop();
          }
        }
        if (best) {
          const run = best;
          results.upload.push(run);
          log(
            `  [${round}/${settings.rounds}] ${SERVER_LABELS[server].padEnd(14)} ` +
              `${scenario.padEnd(14)} ${run.ok ? `${fmt(run.mibPerS, 0)} MiB/s` : "FAILED"}  ` +
              `RSS growth ${fmt(run.rssGrowth / (1 << 20), 1)} MiB  ` +
              `CPU: server ${fmt(run.serverCpuPct, 0)}% client ${fmt(run.clientCpuPct, 0)}%`,
          );
          if (!run.ok) problem(round, server, scenario, run.error ?? "upload failed");
        }
      }
    }
  }

  // 3. Idle connections.
  if (settings.scenarios.includes("idle")) {
    log(`\n== idle (${settings.idleConns} keep-alive connections, one request each)`);
  }
  for (let round = 1; round <= settings.rounds && settings.scenarios.includes("idle"); round++) {
    for (const server of settings.servers) {
      const srv = await start(server, "hello", round, "idle", true);
      if (!srv) continue;
      try {
        const run = await measureIdle(srv, settings, round, server);
        results.idle.push(run);
        log(
          `  [${round}/${settings.rounds}] ${SERVER_LABELS[server].padEnd(14)} ` +
            `${fmt(run.bytesPerConn / 1024, 2)} KiB/conn  ` +
            `(${run.alive}/${run.wanted} alive, server holds ${run.serverSockets} sockets, ` +
            `RSS ${fmt(run.baselineRss / (1 << 20), 1)} → ${fmt(run.idleRss / (1 << 20), 1)} MiB)`,
        );
        if (run.opened !== run.wanted || run.alive < run.wanted * 0.99) {
          problem(
            round,
            server,
            "idle",
            `only ${run.opened} opened / ${run.alive} alive ` +
              `of ${run.wanted}`,
          );
        }
      } catch (err) {
        problem(round, server, "idle", err instanceof Error ? err.message : String(err));
      } finally {
        await srv.stop();
      }
    }
  }

  // 4. Static files.
  const statics = settings.scenarios.filter((s) => STATIC_SCENARIOS.includes(s) && !skipped(s));
  if (statics.length) {
    log(
      `\n== static files (${
        statics.map((s) => formatBytes(STATIC_FILE_BYTES[s])).join(" and ")
      }, keep-alive wrk)`,
    );
    await runStatic(results, settings, statics, cgroup, problem);
  }

  // 5. Profiles (opt-in).
  if (settings.profileServers?.length) {
    log(`\n== CPU profiles (keep-alive, ${settings.connections} conns, --cpu-prof)`);
    await runProfiles(results, settings, settings.profileServers, problem);
  }

  // Every requested server and scenario must have produced a number (unless skipped here).
  for (const server of settings.servers) {
    for (
      const scenario of settings.scenarios.filter((s) =>
        !skipped(s) && !STATIC_SCENARIOS.includes(s) && runsScenario(server, s)
      )
    ) {
      const n = THROUGHPUT_SCENARIOS.includes(scenario)
        ? results.throughput.filter((t) => t.server === server && t.scenario === scenario).length
        : scenario === "fixed-rate"
        // Smoke mode checks the harness, not the machine: an invalid run (a busy machine could
        // not hold the rate) is reported in the tables but is not a failure there.
        ? results.rate!.filter((t) => t.server === server && (settings.smoke || !t.invalid))
          .length
        : scenario === "idle"
        ? results.idle.filter((t) => t.server === server).length
        : results.upload.filter((t) => t.server === server && t.scenario === scenario && t.ok)
          .length;
      if (n === 0) problem(0, server, scenario, "no measurement");
    }
  }
  for (const server of ALL_STATIC_SERVERS.filter((s) => serverSkipReason(results, s) === null)) {
    for (const scenario of statics) {
      const n = results.static!.filter((t) => t.server === server && t.scenario === scenario)
        .length;
      if (n === 0) problem(0, server, scenario, "no measurement");
    }
  }
  releaseAllCaps();
  for (const dir of activeCaps()) problem(0, "", "keepalive-capped", `could not remove ${dir}`);
  const after = await engineFingerprint();
  if (after !== fingerprint) {
    results.machine["engine sources"] += `; CHANGED during the run (now ${after})`;
    log(
      `\nwarning: the lsbaws sources changed while the bench ran (${fingerprint} → ${after}); ` +
        "later rounds measured different code than earlier ones. Rerun on a quiet tree.",
    );
  }
  results.elapsedS = (performance.now() - started) / 1000;
  return results;
}

/** The estimate printed before a run starts. */
export function estimateLine(settings: BenchSettings): string {
  const e = estimateRun(settings);
  const parts = Object.entries(e.phases)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${fmt(v / 60, 1)}`);
  return `estimated duration: ${fmt(e.totalS / 60, 1)} min (${parts.join(", ")} min; ` +
    "longer when other processes make runs repeat)";
}

/**
 * The profile phase: each of `servers` (lsbaws entries) started once more under Deno's
 * `--cpu-prof` with its profile directory in a fresh temp dir, its responses checked, then the
 * keep-alive wrk warm-up and timed run; stopping it (SIGTERM) makes Deno write the profile,
 * which is summarised into `results.profiles`. The temp dir is removed whatever happens.
 */
async function runProfiles(
  results: BenchResults,
  settings: BenchSettings,
  servers: ServerId[],
  problem: ProblemFn,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "lsbaws-bench-profile-" });
  results.profiles = [];
  try {
    for (const server of servers) {
      const dir = `${tmp}/${server}`;
      let srv: ServerProcess | null = null;
      try {
        srv = await startServer(
          profiledCommand(serverCommand(serverDef(server), "hello", null, DENO), dir),
          { cwd: ROOT, cpu: settings.serverCpu },
        );
        await verifyHello(srv.port, settings.pipelineDepth);
        const wrkOpts = {
          url: `${srv.url}/`,
          connections: settings.connections,
          cpu: settings.clientCpu,
          cwd: ROOT,
          script: "bench/wrk/report.lua",
        };
        if (settings.warmupS > 0) await runWrk({ ...wrkOpts, durationS: settings.warmupS });
        const wrk = await runWrk({ ...wrkOpts, durationS: settings.durationS });
        // Deno writes the profile as the process exits: give a graceful stop time for that.
        await srv.stop(15_000);
        srv = null;
        const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"));
        if (!file) throw new Error(`no .cpuprofile written to ${dir}`);
        const summary = summarizeProfile(
          JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)),
          {
            root: ROOT,
            server,
            scenario: "keepalive",
            rps: wrk.rps,
          },
        );
        results.profiles.push(summary);
        const top = summary.top.slice(0, 3).map((e) => `${e.name} ${fmt(e.pct, 1)}%`);
        log(
          `  ${SERVER_LABELS[server].padEnd(20)} ${fmt(wrk.rps, 0)} req/s under the profiler; ` +
            `top self time: ${top.join(", ")}`,
        );
      } catch (err) {
        problem(0, server, "keepalive", `profile: ${err instanceof Error ? err.message : err}`);
      } finally {
        await srv?.stop();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch((err) => {
      problem(0, "", "keepalive", `could not remove ${tmp}: ${err}`);
    });
  }
}

/** The profiles of a run as Markdown (empty when the run made none). */
export function profilesMarkdown(r: BenchResults): string {
  return (r.profiles ?? [])
    .map((p) => profileMarkdown(p, SERVER_LABELS[p.server as ServerId] ?? p.server))
    .join("\n\n");
}

/** Deterministic bytes that no content coding would shrink (xorshift32 from `seed`). */
export function staticFileContents(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A free TCP port on 127.0.0.1 (for nginx, which cannot be told to pick one). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * The static-file scenarios: writes the files into a fresh temp dir (readable by nginx's
 * unprivileged worker), then per round and static-file server one fresh server process, its
 * response check, and one timed wrk run per file; removes the temp dir whatever happens.
 */
async function runStatic(
  results: BenchResults,
  settings: BenchSettings,
  statics: ScenarioId[],
  cgroup: CpuCgroupSupport,
  problem: ProblemFn,
): Promise<void> {
  const nginx = await capture("bash", ["-c", "command -v nginx"]);
  if (nginx.code !== 0) {
    const reason = "nginx is not installed (Debian package nginx; .ci/run installs it)";
    results.skippedServers!.push({ server: "nginx", reason });
    log(`skipping nginx: ${reason}`);
  } else {
    const v = await capture("nginx", ["-v"]);
    results.machine.nginx = (v.stderr + v.stdout).trim().replace(/^nginx version:\s*/, "");
  }
  const tmp = await Deno.makeTempDir({ prefix: "lsbaws-bench-static-" });
  try {
    const dir = `${tmp}/files`;
    await Deno.mkdir(dir);
    const files = new Map<ScenarioId, StaticFile>();
    for (const [i, s] of statics.entries()) {
      const name = `${s.replace("static-", "")}.bin`;
      const bytes = staticFileContents(STATIC_FILE_BYTES[s], 0x9e3779b9 + i);
      await Deno.writeFile(`${dir}/${name}`, bytes, { mode: 0o644 });
      await Deno.chmod(`${dir}/${name}`, 0o644);
      files.set(s, { path: `${STATIC_PREFIX}/${name}`, bytes });
    }
    // nginx's worker runs as an unprivileged user (when started as root): let it read the files.
    await Deno.chmod(tmp, 0o755);
    await Deno.chmod(dir, 0o755);
    const defs = (STATIC_SERVER_DEFS as readonly StaticServerDef[])
      .filter((d) => serverSkipReason(results, d.id as StaticServerId) === null);
    for (let round = 1; round <= settings.rounds; round++) {
      for (const def of defs) {
        const server = def.id as StaticServerId;
        let srv: ServerProcess | null = null;
        try {
          let port: number | undefined;
          let nginxPrefix: string | undefined;
          let nginxConf: string | undefined;
          if (def.kind === "nginx") {
            nginxPrefix = `${tmp}/nginx-${round}`;
            await Deno.mkdir(nginxPrefix);
            nginxConf = `${nginxPrefix}/nginx.conf`;
            port = freePort();
            await Deno.writeTextFile(nginxConf, nginxConfig({ dir, prefix: nginxPrefix, port }));
          }
          srv = await startServer(
            staticServerCommand(def, { dir, nginxPrefix, nginxConf }, DENO),
            { cwd: ROOT, cpu: settings.serverCpu, port },
          );
          results.verification[`${server} static`] = await verifyStatic(srv.port, [
            ...files.values(),
          ]).catch((err) => {
            throw new Error(`response check failed: ${err instanceof Error ? err.message : err}`);
          });
        } catch (err) {
          problem(round, server, statics[0], err instanceof Error ? err.message : String(err));
          await srv?.stop();
          continue;
        }
        try {
          for (const scenario of statics) {
            try {
              const job = { srv, settings, round, server, scenario, files };
              const run = await measureStatic(job, cgroup);
              results.static!.push(run);
              logStatic(run, settings, problem);
            } catch (err) {
              problem(round, server, scenario, err instanceof Error ? err.message : String(err));
            }
          }
        } finally {
          await srv.stop();
        }
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch((err) => {
      problem(0, "", statics[0], `could not remove ${tmp}: ${err}`);
    });
  }
}

/**
 * One static-file scenario against a running static-file server: an untimed wrk warm-up, then
 * the timed keep-alive run (again while other processes disturbed it, see `shouldRetry`). The
 * server's CPU is that of its whole process tree (nginx serves from a child of the process
 * `startServer` holds). For static-1m-capped the whole tree is first moved into one cgroup
 * limited to `staticCapQuotaUs` per `capPeriodUs` and moved back (the group removed) afterwards,
 * also on failure.
 */
async function measureStatic(job: StaticJob, cgroup: CpuCgroupSupport): Promise<StaticRun> {
  const { srv, settings, scenario } = job;
  const cap = scenario === "static-1m-capped"
    ? capProcess(
      cgroup,
      srv.pid,
      settings.staticCapQuotaUs ?? STATIC_CAP_QUOTA_US,
      settings.capPeriodUs,
      descendantPids(srv.pid),
    )
    : null;
  try {
    return await measureStaticRun(job, cap);
  } finally {
    if (cap && !(await releaseCap(cap))) {
      log(`  warning: could not remove ${cap.dir} yet (retried when the run ends)`);
    }
  }
}

/** What one static-file measurement runs against. */
interface StaticJob {
  srv: ServerProcess;
  settings: BenchSettings;
  round: number;
  server: StaticServerId;
  scenario: ScenarioId;
  files: Map<ScenarioId, StaticFile>;
}

async function measureStaticRun(job: StaticJob, cap: CpuCap | null): Promise<StaticRun> {
  const { srv, settings, round, server, scenario, files } = job;
  const file = files.get(scenario)!;
  const connections = staticConns(scenario, settings);
  const wrkOpts = {
    url: `${srv.url}${file.path}`,
    connections,
    cpu: settings.clientCpu,
    cwd: ROOT,
    script: "bench/wrk/report.lua",
  };
  if (settings.warmupS > 0) await runWrk({ ...wrkOpts, durationS: settings.warmupS });
  let best: StaticRun | undefined;
  for (let attempt = 1;; attempt++) {
    await waitForQuiet(srv.pid, settings);
    const throttle0 = cap ? throttleStats(cap) : null;
    const snap0 = cpuSnapshot();
    const cpu0 = treeCpuSeconds(srv.pid);
    const wrk = await runWrk({ ...wrkOpts, durationS: settings.durationS });
    const use = cpuUse(snap0, cpuSnapshot());
    const serverCpuPct = ((treeCpuSeconds(srv.pid) - cpu0) / use.wallS) * 100;
    const throttle1 = cap ? throttleStats(cap) : null;
    const run: StaticRun = {
      round,
      server,
      scenario,
      fileBytes: file.bytes.length,
      connections,
      attempts: attempt,
      wrk,
      mibPerS: (wrk.rps * file.bytes.length) / (1 << 20),
      serverCpuPct,
      wrkCpuPct: use.childrenPct,
      otherCpuPct: use.machinePct - serverCpuPct - use.childrenPct - use.selfPct,
      ...capInfo(cap, throttle0, throttle1),
    };
    if (isEmptyRun(wrk.requests, attempt)) continue;
    if (!best || run.otherCpuPct < best.otherCpuPct) best = { ...run };
    best.attempts = attempt;
    if (!shouldRetry(run.otherCpuPct, attempt, settings)) return best;
  }
}

/** The `cap` field of a capped run (the limit and its throttling over the timed run), else none. */
function capInfo(
  cap: CpuCap | null,
  before: ThrottleStats | null,
  after: ThrottleStats | null,
): { cap?: CapInfo } {
  if (!cap || !before || !after) return {};
  return {
    cap: {
      version: cap.version,
      quotaUs: cap.quotaUs,
      periodUs: cap.periodUs,
      throttledPeriods: after.throttled - before.throttled,
      periods: after.periods - before.periods,
    },
  };
}

/** Logs one static-file run and records what makes its numbers untrustworthy. */
function logStatic(run: StaticRun, settings: BenchSettings, problem: ProblemFn): void {
  const { wrk, round, server, scenario } = run;
  const e = wrk.errors;
  const socketErrors = e.connect + e.read + e.write + e.timeout;
  log(
    `  [${round}/${settings.rounds}] ${STATIC_SERVER_LABELS[server].padEnd(16)} ` +
      `${scenario.padEnd(10)} ${fmt(wrk.rps, 0).padStart(9)} req/s  ` +
      `${fmt(run.mibPerS, 0).padStart(6)} MiB/s  ` +
      `p50 ${fmt(wrk.latencyMs.p50, 2)} ms  p99 ${fmt(wrk.latencyMs.p99, 2)} ms  ` +
      `CPU: server ${fmt(run.serverCpuPct, 0)}% wrk ${fmt(run.wrkCpuPct, 0)}%` +
      (socketErrors ? `  socket errors ${socketErrors}` : ""),
  );
  if (wrk.requests === 0) reportEmptyRun(round, server, scenario, settings, problem);
  if (e.status > 0) problem(round, server, scenario, `${e.status} responses with status >= 400`);
  if (wrk.requests > 0 && wrk.bytes < wrk.requests * run.fileBytes) {
    problem(
      round,
      server,
      scenario,
      `wrk read ${wrk.bytes} bytes for ${wrk.requests} responses of a ${run.fileBytes}-byte file`,
    );
  }
}

/**
 * Waits (at most `settings.quietWaitS`) until processes outside the benchmark use less than
 * `QUIET_PCT` of a core, so that timed runs do not share the machine with, say, a test suite.
 */
async function waitForQuiet(serverPid: number, settings: BenchSettings): Promise<void> {
  if (settings.quietWaitS <= 0) return;
  // After repeated fruitless waits, only look once (so that a quiet spell re-arms the wait).
  const deadline = performance.now() +
    (quietGaveUp >= QUIET_GIVE_UP ? 0 : settings.quietWaitS * 1000);
  let warned = false;
  for (;;) {
    const a = cpuSnapshot();
    const s0 = cpuSeconds(serverPid);
    await sleep(500);
    const use = cpuUse(a, cpuSnapshot());
    const serverPct = ((cpuSeconds(serverPid) - s0) / use.wallS) * 100;
    const other = use.machinePct - serverPct - use.selfPct - use.childrenPct;
    if (other < QUIET_PCT) {
      quietGaveUp = 0;
      return;
    }
    if (performance.now() > deadline) {
      quietGaveUp++;
      if (quietGaveUp <= QUIET_GIVE_UP) {
        log(
          `  (machine still busy: ${fmt(other, 0)}% of a core used by other processes; going on` +
            (quietGaveUp === QUIET_GIVE_UP ? "; not waiting again until it quietens)" : ")"),
        );
      }
      return;
    }
    if (!warned) {
      log(
        `  (waiting for the machine to quieten: other processes use ${fmt(other, 0)}% of a core)`,
      );
      warned = true;
    }
  }
}

/**
 * A timed run that still completed no request after its retries: a problem in a real run; in
 * smoke mode (a harness check on a possibly starved CI machine, whose responses were already
 * verified before timing) it is reported but does not fail the run, like an invalid fixed-rate run.
 */
function reportEmptyRun(
  round: number,
  server: AnyServerId,
  scenario: ScenarioId,
  settings: BenchSettings,
  problem: ProblemFn,
): void {
  const m = "wrk completed no request";
  if (!settings.smoke) problem(round, server, scenario, m);
  else {log(
      `  note: ${server} ${scenario} round ${round}: ${m} (smoke: a starved machine, not a failure)`,
    );}
}

/** How many more times a timed run that completed no request at all is measured again. */
const EMPTY_RUN_RETRIES = 2;

/**
 * A timed run that completed no request (a starved machine, even in smoke mode) is no
 * measurement: it is measured again, up to `EMPTY_RUN_RETRIES` more times, before it counts
 * (and is then reported as a problem).
 */
function isEmptyRun(requests: number, attempt: number): boolean {
  if (requests > 0 || attempt > EMPTY_RUN_RETRIES) return false;
  log("  (wrk completed no request in that run; measuring again)");
  return true;
}

/**
 * Whether a timed run that saw `otherPct` of foreign CPU should be measured again (the attempt
 * with the least foreign CPU is kept; the choice never looks at the measured value itself).
 */
function shouldRetry(otherPct: number, attempt: number, settings: BenchSettings): boolean {
  if (otherPct <= CONTAMINATED_PCT) {
    busyStreak = 0;
    return false;
  }
  busyStreak++;
  if (attempt > settings.maxRetries || busyStreak > RETRY_GIVE_UP) return false;
  if (busyStreak === RETRY_GIVE_UP) {
    log(
      `  (the machine stays busy: ${RETRY_GIVE_UP} contaminated runs in a row; ` +
        "measuring once more, then no more retries in this run)",
    );
  } else {
    log(`  (other processes used ${fmt(otherPct, 0)}% of a core during that run; measuring again)`);
  }
  return true;
}

const RETRY_GIVE_UP = 4;
let busyStreak = 0;

/** Foreign CPU use (percent of one core) below which the machine counts as quiet. */
const QUIET_PCT = 10;
/** After this many fruitless waits in a row, `waitForQuiet` stops waiting for the run. */
const QUIET_GIVE_UP = 3;
let quietGaveUp = 0;

/** Records a problem of one round, server and scenario. */
type ProblemFn = (
  round: number,
  server: AnyServerId | "",
  scenario: ScenarioId | "",
  m: string,
) => void;

/**
 * One wrk scenario against a running hello server: untimed warm-up, then the timed run (again
 * while other processes disturbed it, see `shouldRetry`), sampling the server's RSS every 50 ms
 * and its VmHWM. For keepalive-capped the server is first moved into a cgroup limited to
 * `capQuotaUs` per `capPeriodUs` and moved back (the group removed) afterwards, also on failure.
 */
async function measureThroughput(
  srv: ServerProcess,
  settings: BenchSettings,
  round: number,
  server: ServerId,
  scenario: ScenarioId,
  cgroup: CpuCgroupSupport,
): Promise<ThroughputRun> {
  const wrkOpts = {
    url: `${srv.url}/`,
    connections: settings.connections,
    cpu: settings.clientCpu,
    cwd: ROOT,
    script: scenario === "pipeline" ? "bench/wrk/pipeline.lua" : "bench/wrk/report.lua",
    scriptArgs: scenario === "pipeline" ? [String(settings.pipelineDepth)] : [],
    headers: scenario === "close" ? ["Connection: close"] : [],
  };
  if (scenario === "close") wrkOpts.connections = closeConns(settings);
  const cap = scenario === "keepalive-capped"
    ? capProcess(cgroup, srv.pid, settings.capQuotaUs, settings.capPeriodUs)
    : null;
  try {
    if (settings.warmupS > 0) await runWrk({ ...wrkOpts, durationS: settings.warmupS });
    let best: ThroughputRun | undefined;
    for (let attempt = 1;; attempt++) {
      await waitForQuiet(srv.pid, settings);
      const hwmUsed = resetPeakRss(srv.pid);
      const sampler = new RssSampler(srv.pid, 50);
      const throttle0 = cap ? throttleStats(cap) : null;
      const snap0 = cpuSnapshot();
      const cpu0 = cpuSeconds(srv.pid);
      let wrk;
      let peak = 0;
      try {
        wrk = await runWrk({ ...wrkOpts, durationS: settings.durationS });
      } finally {
        peak = sampler.stop().peak;
      }
      const use = cpuUse(snap0, cpuSnapshot());
      const serverCpuPct = ((cpuSeconds(srv.pid) - cpu0) / use.wallS) * 100;
      const hwm = hwmUsed ? peakRssBytes(srv.pid) : NaN;
      const throttle1 = cap ? throttleStats(cap) : null;
      const wrkCpuPct = use.childrenPct;
      const run: ThroughputRun = {
        round,
        server,
        scenario,
        attempts: attempt,
        wrk,
        serverCpuPct,
        wrkCpuPct,
        otherCpuPct: use.machinePct - serverCpuPct - wrkCpuPct - use.selfPct,
        serverRssAfter: rssBytes(srv.pid),
        peakRss: Math.max(peak, Number.isFinite(hwm) ? hwm : 0),
        ...capInfo(cap, throttle0, throttle1),
      };
      if (isEmptyRun(wrk.requests, attempt)) continue;
      if (!best || run.otherCpuPct < best.otherCpuPct) best = { ...run };
      best.attempts = attempt;
      if (!shouldRetry(run.otherCpuPct, attempt, settings)) return best;
    }
  } finally {
    if (cap && !(await releaseCap(cap))) {
      log(`  warning: could not remove ${cap.dir} yet (retried when the run ends)`);
    }
  }
}

/** Logs one wrk run and records what makes its numbers untrustworthy. */
function logThroughput(
  run: ThroughputRun,
  round: number,
  settings: BenchSettings,
  problem: ProblemFn,
): void {
  const { wrk, serverCpuPct, wrkCpuPct, server, scenario } = run;
  const e = wrk.errors;
  const socketErrors = e.connect + e.read + e.write + e.timeout;
  log(
    `  [${round}/${settings.rounds}] ${SERVER_LABELS[server].padEnd(14)} ` +
      `${scenario.padEnd(16)} ${fmt(wrk.rps, 0).padStart(9)} req/s  ` +
      `p50 ${fmt(wrk.latencyMs.p50, 2)} ms  p99 ${fmt(wrk.latencyMs.p99, 2)} ms  ` +
      `CPU: server ${fmt(serverCpuPct, 0)}% wrk ${fmt(wrkCpuPct, 0)}%  ` +
      `peak RSS ${fmt((run.peakRss ?? NaN) / (1 << 20), 1)} MiB` +
      (run.cap ? `  throttled ${run.cap.throttledPeriods}/${run.cap.periods} periods` : "") +
      (socketErrors ? `  socket errors ${socketErrors}` : ""),
  );
  if (wrk.requests === 0) reportEmptyRun(round, server, scenario, settings, problem);
  if (wrk.latencySource !== "measured") {
    log(
      "  warning: wrk's latency histogram was unavailable or did not invert; " +
        "latency is wrk's coordinated-omission-corrected estimate (NaN when pipelining)",
    );
  }
  if (e.status > 0) {
    problem(round, server, scenario, `${e.status} responses with status >= 400`);
  }
  if (Math.abs(wrk.printedRps - wrk.rps) > Math.max(1, wrk.rps * 0.01)) {
    problem(
      round,
      server,
      scenario,
      `wrk printed ${wrk.printedRps} req/s, ` +
        `summary says ${wrk.rps.toFixed(2)}`,
    );
  }
  if (run.cap) {
    // The cap must have held: CPU use at most the quota (plus one tick of /proc granularity).
    const capPct = (run.cap.quotaUs / run.cap.periodUs) * 100;
    if (serverCpuPct > capPct * 1.1 + 1 / settings.durationS) {
      problem(
        round,
        server,
        scenario,
        `the server used ${fmt(serverCpuPct, 0)}% of a core under a ${fmt(capPct, 0)}% cap`,
      );
    }
  }
}

/**
 * The fixed-rate scenario against a running hello server: an untimed warm-up at the same rate,
 * then the timed run; the server's utime + stime (/proc/PID/stat) before and after. A run whose
 * achieved rate is more than 5 % off the offered one (or that had failures) is kept but marked
 * invalid, and measured again while attempts remain (at least once, even in smoke mode).
 */
async function measureRate(
  srv: ServerProcess,
  settings: BenchSettings,
  round: number,
  server: ServerId,
  client: RateClient,
): Promise<RateRun> {
  const opts = {
    client,
    port: srv.port,
    rate: settings.rate,
    connections: settings.rateConns,
    durationS: settings.rateDurationS,
    cpu: settings.clientCpu,
    cwd: ROOT,
    deno: DENO,
  };
  const warmupS = settings.rateWarmupS ?? settings.warmupS;
  if (warmupS > 0) await runRate({ ...opts, durationS: warmupS });
  let best: RateRun | undefined;
  for (let attempt = 1;; attempt++) {
    await waitForQuiet(srv.pid, settings);
    const snap0 = cpuSnapshot();
    const cpu0 = cpuSeconds(srv.pid);
    const res = await runRate(opts);
    const serverCpuS = cpuSeconds(srv.pid) - cpu0;
    const use = cpuUse(snap0, cpuSnapshot());
    const invalid = rateProblem(res, settings.rate);
    const run: RateRun = {
      round,
      server,
      attempts: attempt,
      client: res.client,
      offeredRps: settings.rate,
      connections: settings.rateConns,
      durationS: settings.rateDurationS,
      ok: res.ok,
      failed: res.failed,
      elapsedS: res.elapsedS,
      achievedRps: res.achievedRps,
      serverCpuS,
      clientCpuPct: use.childrenPct,
      otherCpuPct: use.machinePct - (serverCpuS / use.wallS) * 100 - use.childrenPct -
        use.selfPct,
      ...(invalid ? { invalid } : {}),
    };
    const better = !best || (best.invalid && !run.invalid) ||
      (!best.invalid === !run.invalid && run.otherCpuPct < best.otherCpuPct);
    if (better) best = { ...run };
    best!.attempts = attempt;
    if (run.invalid) {
      // An invalid run is always measured once more (smoke mode included).
      if (attempt > Math.max(1, settings.maxRetries)) return best!;
      log(`  (fixed-rate run invalid: ${run.invalid}; measuring again)`);
    } else if (!shouldRetry(run.otherCpuPct, attempt, settings)) {
      return best!;
    }
  }
}

async function measureUpload(
  srv: ServerProcess,
  settings: BenchSettings,
  round: number,
  server: ServerId,
  scenario: ScenarioId,
): Promise<UploadRun> {
  // Smoke mode checks the harness, not memory: shorter settling keeps it within CI's budget.
  await sleep(settings.smoke ? 100 : 300);
  const baselineRss = await steadyRss(srv.pid, settings.smoke ? 3 : 5, 60);
  const hwmUsed = resetPeakRss(srv.pid);
  const sampler = new RssSampler(srv.pid, 50);
  const snap0 = cpuSnapshot();
  const cpu0 = cpuSeconds(srv.pid);
  const [bin, ...args] = pinnedCommand(settings.clientCpu, [
    DENO,
    "run",
    "-A",
    "bench/upload_client.ts",
    "--port",
    String(srv.port),
    "--bytes",
    String(settings.uploadBytes),
    "--mode",
    scenario === "upload-length" ? "length" : "chunked",
  ]);
  const child = track(
    new Deno.Command(bin, { args, cwd: ROOT, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn(),
  );
  const out = await withTimeout(child.output(), 300_000, "upload client").catch((err) => {
    child.kill("SIGKILL");
    throw err;
  });
  const { peak: sampledPeak, samples } = sampler.stop();
  const use = cpuUse(snap0, cpuSnapshot());
  const serverCpuPct = ((cpuSeconds(srv.pid) - cpu0) / use.wallS) * 100;
  const hwm = hwmUsed ? peakRssBytes(srv.pid) : NaN;
  const peakRss = Math.max(sampledPeak, Number.isFinite(hwm) ? hwm : 0);
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  let parsed: { ok?: boolean; mibPerS?: number; ms?: number; error?: string; body?: string };
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { ok: false, error: `upload client: ${new TextDecoder().decode(out.stderr)}` };
  }
  return {
    round,
    server,
    scenario,
    ok: parsed.ok === true,
    mibPerS: parsed.mibPerS ?? NaN,
    ms: parsed.ms ?? NaN,
    baselineRss,
    peakRss,
    rssGrowth: peakRss - baselineRss,
    samples,
    hwmUsed,
    attempts: 1,
    serverCpuPct,
    clientCpuPct: use.childrenPct,
    otherCpuPct: use.machinePct - serverCpuPct - use.childrenPct - use.selfPct,
    ...(parsed.ok ? {} : {
      error: parsed.error ?? `unexpected answer ${JSON.stringify(parsed.body ?? "")}`,
    }),
  };
}

async function measureIdle(
  srv: ServerProcess,
  settings: BenchSettings,
  round: number,
  server: ServerId,
): Promise<IdleRun> {
  // Warm the request path up (JIT, buffers) so the baseline is not a cold process.
  const settleMs = settings.smoke ? 100 : 1000;
  const samples = settings.smoke ? 3 : 10;
  if (!settings.smoke) {
    await runWrk({
      url: `${srv.url}/`,
      connections: 16,
      durationS: 1,
      cpu: settings.clientCpu,
      cwd: ROOT,
      script: "bench/wrk/report.lua",
    });
  }
  await sleep(settleMs);
  const baselineRss = await steadyRss(srv.pid, samples, settings.smoke ? 50 : 100);
  const sockets0 = socketCount(srv.pid);
  const [bin, ...args] = pinnedCommand(settings.clientCpu, [
    DENO,
    "run",
    "-A",
    "bench/idle_client.ts",
    "--port",
    String(srv.port),
    "--conns",
    String(settings.idleConns),
  ]);
  const child = track(
    new Deno.Command(bin, {
      args,
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
  const stderr = new Response(child.stderr).text();
  const next = lineReader(child.stdout);
  const writer = child.stdin.getWriter();
  try {
    const first = await withTimeout(next(), 300_000, "idle client");
    if (first === null) throw new Error(`idle client died: ${await stderr}`);
    const opened = JSON.parse(first) as { opened: number; failed: number; ms: number; errors: [] };
    await sleep(settleMs);
    const idleRss = await steadyRss(srv.pid, samples, settings.smoke ? 50 : 100);
    const serverSockets = socketCount(srv.pid) - sockets0;
    await writer.write(new TextEncoder().encode("report\n"));
    const rep = await withTimeout(next(), 30_000, "idle client report");
    const alive = rep ? (JSON.parse(rep) as { alive: number }).alive : 0;
    if (opened.failed) {
      log(`  idle client: ${opened.failed} connections failed: ${opened.errors.join("; ")}`);
    }
    return {
      round,
      server,
      wanted: settings.idleConns,
      opened: opened.opened,
      alive,
      serverSockets,
      openMs: opened.ms,
      baselineRss,
      idleRss,
      bytesPerConn: alive > 0 ? (idleRss - baselineRss) / alive : NaN,
    };
  } finally {
    await writer.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 10_000);
    await child.status;
    clearTimeout(timer);
    await stderr.catch(() => "");
  }
}

/** Which servers leave scenarios out, and why (part of a Method bullet). */
function notRunNote(s: BenchSettings): string {
  const partial = s.servers.filter((x) => s.scenarios.some((sc) => !runsScenario(x, sc)));
  if (partial.length === 0) return "";
  const left = [
    ...new Set(partial.flatMap((x) => s.scenarios.filter((sc) => !runsScenario(x, sc)))),
  ];
  return `${partial.map((x) => SERVER_LABELS[x]).join(" and ")} ` +
    `${partial.length === 1 ? "leaves" : "leave"} out ${left.join(" and ")} ("not run"): the ` +
    `upload path does not depend on the socket backend, and leaving ` +
    `${left.length === 1 ? "it" : "them"} out keeps a full run within about 35 minutes.`;
}

/** The Method bullet of the capped keep-alive scenario (with its skip reason, if skipped). */
function capNote(r: BenchResults): string {
  const s = r.settings;
  const share = capShare(s);
  const reason = (r.skipped ?? []).find((x) => x.scenario === "keepalive-capped")?.reason;
  return `- Keep-alive with the server capped at ${share} core: the keep-alive wrk run again ` +
    `(on the same server process, after connection per request), with the ` +
    `server process moved (every thread, \`cgroup.procs\`) into a fresh cgroup limited to ` +
    `${s.capQuotaUs} µs of CPU per ${s.capPeriodUs} µs (v1 \`cpu.cfs_quota_us\` / ` +
    `\`cpu.cfs_period_us\`, or v2 \`cpu.max\`) for its warm-up and timed run, then moved back ` +
    `and the group removed. With the server held to ${share} core wrk is no longer the ` +
    `bottleneck, so the ratio shows the server's own cost per request; the raw table counts ` +
    `the periods in which the cap throttled the server.` +
    (reason ? ` **Skipped on this machine**: ${reason}.` : "");
}

/** The Method bullet of the static-file scenarios. */
function staticNote(r: BenchResults): string {
  const s = r.settings;
  const nginxSkip = serverSkipReason(r, "nginx");
  const sizes = s.scenarios.filter((x) => STATIC_SCENARIOS.includes(x))
    .map((x) => `${formatBytes(STATIC_FILE_BYTES[x])} (${staticConns(x, s)} connections)`);
  return `- Static files: the harness writes a file of ${sizes.join(" and ")} of ` +
    `incompressible bytes into a temp dir (removed afterwards) and runs the keep-alive wrk ` +
    `scenario (\`-t1\`, same duration and warm-up) against \`${STATIC_PREFIX}/<file>\` of three ` +
    `servers: lsbaws (\`main.ts --static ${STATIC_PREFIX}=DIR\` with the gateway hello app), ` +
    `nginx (${r.machine.nginx ?? "Debian package"}; one worker, \`sendfile on\`, ` +
    `\`tcp_nopush on\`, \`access_log off\`, \`daemon off\`, config generated in the temp dir) ` +
    `and Hono's \`serveStatic\` (\`hono/deno\`) on \`Deno.serve\` ` +
    `(\`bench/frameworks/hono_static.ts\`, run under \`apps/frameworks/deno.json\`). Each is a ` +
    `fresh process per round pinned to the server core (nginx's master and worker alike); ` +
    `before timing, each file is fetched once and ${STATIC_PIPELINE} times pipelined on one connection and ` +
    `compared byte for byte. The server's CPU is summed over its process tree; MiB/s is file ` +
    `bytes (req/s × file size). The target is lsbaws ≥ 2.0× Hono's req/s; the ratio to nginx is ` +
    `reported, not judged.` +
    (s.scenarios.includes("static-1m-capped")
      ? ` With 1 MiB responses the single wrk core is the limit (wrk at ~100 % CPU, the servers ` +
        `below it), so req/s there compares how fast wrk takes bytes in; the 1 MiB file is ` +
        `therefore also measured with each server's whole process tree (nginx's master and ` +
        `worker together) moved into one cgroup limited to ` +
        `${s.staticCapQuotaUs ?? STATIC_CAP_QUOTA_US} µs of CPU per ${s.capPeriodUs} µs ` +
        `(${staticCapShare(s)} core) for its warm-up and timed run, which makes the server the ` +
        `limit, as in the capped keep-alive scenario.`
      : "") +
    (nginxSkip ? ` **nginx was skipped on this machine**: ${nginxSkip}.` : "");
}

/** The Markdown block written between the generated markers of bench/RESULTS.md. */
export function resultsMarkdown(r: BenchResults): string {
  const s = r.settings;
  const notes = [
    `- Servers are pinned to core ${s.serverCpu ?? "-"} and wrk, the clients and the harness to ` +
    `core ${s.clientCpu ?? "-"} with \`taskset\`; every server is a fresh process per round ` +
    `(and per upload / idle measurement), rounds visit the servers in turn ` +
    `(${s.servers.map((x) => SERVER_LABELS[x]).join(", ")}, then again).`,
    s.servers.some(isLsbaws) &&
    `- lsbaws runs on each socket backend, named explicitly: \`--io libc\` (epoll through FFI; ` +
      `what \`--io auto\` picks on Linux) and \`--io deno\` (\`Deno.listen\`), each with the ` +
      `gateway and the fetch hello app; every lsbaws server is judged against the targets (one ` +
      `column each). ${notRunNote(s)}`,
    `- wrk: \`-t1 -c${s.connections} -d${s.durationS}s --latency\`, after an untimed ` +
    `${s.warmupS} s warm-up with the same settings; pipelining writes ${s.pipelineDepth} ` +
    `requests at a time (\`bench/wrk/pipeline.lua\`); connection per request sends ` +
    `\`Connection: close\` over ${closeConns(s)} connections (\`-c${closeConns(s)}\`, the ` +
    `issue's figure). Each cell is the median of ${s.rounds} round(s); the ratio in ` +
    `brackets is against Deno.serve in the same run.`,
    `- Latency percentiles are the latencies wrk actually measured: wrk applies a ` +
    `coordinated-omission correction to its histogram before printing it (synthetic samples; ` +
    `with pipelining it prints 0 for p75 and above), which \`bench/lib/wrk.ts\` undoes exactly. ` +
    `wrk's printed numbers are kept in the raw tables. With pipelining wrk records one sample ` +
    `per batch of ${s.pipelineDepth}: the time from the write to the batch's last response.`,
    s.scenarios.includes("keepalive") &&
    `- Keep-alive peak RSS: the highest resident set size of the whole server process during ` +
      `the timed keep-alive run: VmRSS sampled every 50 ms, and VmHWM reset (\`clear_refs\`) ` +
      `just before the run; the raw tables also list it for the other wrk scenarios.`,
    s.scenarios.includes("keepalive-capped") && capNote(r),
    s.scenarios.includes("fixed-rate") &&
    `- Fixed rate: ${fmt(s.rate, 0)} req/s offered for ${s.rateDurationS} s over ` +
      `${s.rateConns} keep-alive connections by ${
        r.machine["rate client"]?.startsWith("hey")
          ? `hey (\`hey -z ${s.rateDurationS}s -c ${s.rateConns} -q ${
            Number((s.rate / s.rateConns).toFixed(3))
          }\`; hey's \`-q\` is per worker)`
          : "`bench/rate_client.ts` (each connection sends on a fixed schedule, one request at a " +
            "time)"
      }, pinned to the client core, after the wrk scenarios on the same server process and an ` +
      `untimed warm-up of ${s.rateWarmupS ?? s.warmupS} s at the same rate (at 2,000 req/s, 2 s ` +
      `left V8's background compilers of the lsbaws servers busy during the timed run). The ` +
      `metric is the server's CPU time (utime + stime from /proc/PID/stat, before and after), ` +
      `which shows a server that burns CPU (e.g. polls) to look fast; the achieved rate is ` +
      `2xx responses / elapsed time. A run with any failed request or an achieved rate more than ` +
      `5 % away from the offered one is invalid: it is measured again (at least once) and left ` +
      `out of the medians (column "counted").`,
    `- Upload: ${formatBytes(s.uploadBytes)} of zeros streamed by \`bench/upload_client.ts\` ` +
    `to a sink app that reads and discards the body and answers with the byte count; ` +
    `throughput is bytes / (first byte sent → response complete); RSS growth is the peak ` +
    `(VmRSS sampled every 50 ms, and VmHWM) minus the RSS before the upload.`,
    `- Idle: \`bench/idle_client.ts\` opens ${s.idleConns.toLocaleString("en-US")} ` +
    `connections, sends one request on each and reads the response, then holds them idle; the ` +
    `cost is (RSS with all open − RSS before) / connections alive (checked from both ends). ` +
    `lsbaws and node:http get a ${s.idleKeepAliveMs / 1000} s keep-alive timeout for this ` +
    `scenario only (their 5 s default would close the connections while they are opened); ` +
    `Deno.serve has no idle timeout.`,
    s.scenarios.some((x) => STATIC_SCENARIOS.includes(x)) && staticNote(r),
    `- Before anything is timed, every server's responses are checked (status, exact body, ` +
    `Content-Type) via fetch, 16 pipelined requests in one write, and Connection: close; ` +
    `sinks with Content-Length, chunked and empty bodies. Logging is left at each server's ` +
    `default (lsbaws: no access log).`,
  ].filter((x): x is string => typeof x === "string");
  const timed = [...r.throughput, ...r.upload, ...(r.rate ?? []), ...(r.static ?? [])];
  const busy = timed.filter((t) => t.otherCpuPct > CONTAMINATED_PCT);
  const retried = timed.filter((t) => t.attempts > 1);
  notes.push(
    `- Other processes on the machine: before each timed run the harness waits up to ` +
      `${s.quietWaitS} s for them to use < ${QUIET_PCT}% of a core, and a run during which ` +
      `they used > ${CONTAMINATED_PCT}% is measured again (up to ${s.maxRetries} more times; ` +
      `the attempt with the least foreign CPU is kept, whatever its result). ` +
      `${retried.length} of ${timed.length} timed runs were repeated; ` +
      `${busy.length} still shared the machine (column "other" in the raw tables). ` +
      `Medians leave such rounds out when the same server and scenario has an undisturbed ` +
      `round: a cell marked [n=k] is the median of its k undisturbed rounds, one marked [busy] ` +
      `had none and uses every round.`,
  );
  const wrkBound = r.throughput.filter((t) => t.wrkCpuPct >= 90);
  notes.push(
    `- CPU columns are percent of one core. A server near 100% was the bottleneck; wrk near ` +
      `100% means the single wrk thread was, so the server's number is a lower bound` +
      (wrkBound.length
        ? ` (${
          [...new Set(wrkBound.map((t) => `${SERVER_LABELS[t.server]} ${t.scenario}`))].join(
            ", ",
          )
        }).`
        : ".") +
      ` In that case a ratio against Deno.serve above ~1.0× cannot be shown on this machine.`,
  );
  if (r.machine["engine sources"]?.includes("CHANGED")) {
    notes.unshift(
      "- **The lsbaws sources changed while this run was measuring** (see Machine): rounds may " +
        "have measured different code. Rerun on a quiet tree before drawing conclusions.",
    );
  }
  const noisy: string[] = [];
  for (const sc of s.scenarios) {
    const servers: AnyServerId[] = STATIC_SCENARIOS.includes(sc) ? ALL_STATIC_SERVERS : s.servers;
    for (const m of metricsOf(sc).filter((x) => x.higherIsBetter)) {
      for (const srv of servers) {
        const xs = roundValues(r, srv, m);
        const spread = Math.max(...xs) / Math.min(...xs);
        if (xs.length > 1 && spread > 1.5) {
          noisy.push(`${serverLabel(srv)} ${sc} ${m.label} ${fmtRatio(spread)}`);
        }
      }
    }
  }
  if (noisy.length) {
    notes.push(
      `- Series whose best round is more than 1.5× their worst (max/min): ${noisy.join("; ")}. ` +
        "Their medians deserve more rounds (`--rounds 5`) before conclusions are drawn.",
    );
  }
  const verdicts = judge(r);
  const missed = verdicts.filter((v) => v.verdict === "MISS" || v.verdict === "N/A");
  const skippedChecks = verdicts.filter((v) => v.verdict === "SKIP").length;
  const passed = verdicts.length - missed.length - skippedChecks;
  const sizes = Object.entries(r.verification)
    .filter(([k]) => k.endsWith(" hello"))
    .map(([k, v]) => {
      const server = k.replace(/ hello$/, "") as ServerId;
      return `| ${SERVER_LABELS[server]} | ${v.responseBytes} | \`${
        v.sampleHead.trim().split("\r\n").slice(1).map((l) => l.split(":")[0]).join(", ")
      }\` |`;
    });
  return [
    `Generated by \`deno task bench\` on ${r.machine.date} (${fmt(r.elapsedS / 60, 1)} min).`,
    "",
    "### Machine",
    "",
    machineList(r),
    "",
    "### Results (medians)",
    "",
    summaryTable(r),
    "",
    ...(staticTable(r) ? [staticTable(r), ""] : []),
    "### Targets",
    "",
    targetsTable(r),
    "",
    (missed.length
      ? `${passed} of ${verdicts.length} target checks pass; ${missed.length} miss or have no ` +
        "number (bold)."
      : skippedChecks
      ? `Every target that could be measured is met.`
      : "Every target is met.") +
    (skippedChecks
      ? ` ${skippedChecks} could not be measured on this machine (skipped; see Method).`
      : ""),
    "",
    "### Method",
    "",
    ...notes,
    "",
    "Hello-world response on the wire (head + body bytes) and its header fields:",
    "",
    "| Server | bytes | header fields |",
    "| --- | --- | --- |",
    ...sizes,
    "",
    ...(r.profiles?.length
      ? [
        "### Profiles: where the time goes",
        "",
        `The profiled lsbaws servers, each once more after the measurements, under Deno's ` +
        `\`--cpu-prof\` ` +
        `(V8's sampling profiler; it slows the server down) during the keep-alive wrk run ` +
        `(${s.warmupS} s warm-up + ${s.durationS} s, ${s.connections} conns). Self time ` +
        `per category and the functions with the most self time, as a share of the ` +
        `server's busy (non-idle) time; "native" is time outside JS (the runtime's ops, ` +
        `FFI calls, the kernel). Profile files are written to a temp dir and removed.`,
        "",
        profilesMarkdown(r),
        "",
      ]
      : missed.length
      ? [
        "### Profiles: where the time goes",
        "",
        "This run made no profiles; `deno task bench --profile` adds the functions with the " +
        "most self time of each lsbaws server under keep-alive load here.",
        "",
      ]
      : []),
    "### Raw numbers per round",
    "",
    rawTables(r),
    "",
    r.problems.length
      ? "### Problems\n\n" +
        r.problems.map((p) => `- round ${p.round} ${p.server} ${p.scenario}: ${p.message}`).join(
          "\n",
        )
      : "No problems: every response check passed and every run produced numbers.",
  ].join("\n");
}

const GEN_START = "<!-- bench:generated:start -->";
const GEN_END = "<!-- bench:generated:end -->";
const README_START = "<!-- bench:table:start -->";
const README_END = "<!-- bench:table:end -->";
/** A bare placeholder the README may hold instead of the start/end pair (replaced by them). */
const README_PLACEHOLDER = "<!-- BENCH -->";

const RESULTS_TEMPLATE = `# Benchmark results

How to run: \`deno task bench --profile\` (about 35 minutes, the estimate is printed first;
\`--profile\` adds CPU profiles of the lsbaws servers; needs 2 cores, installs wrk and hey with
apt-get when missing; the capped scenarios (keep-alive, static 1 MiB) need a writable cgroup cpu
controller, usually root, and are skipped with the reason otherwise; the static-file scenarios compare lsbaws \`--static\`
with nginx, skipped with the reason when nginx is not installed, and with Hono's \`serveStatic\` on
\`Deno.serve\`), \`deno task bench:smoke\` (harness check, seconds), \`deno task bench --help\`.
A quicker loop while working on the engine:
\`deno task bench --servers lsbaws-libc-fetch --scenarios keepalive,pipeline --rounds 1 --duration 5\`
(writes only \`bench/results/latest.json\`); for static files:
\`deno task bench --scenarios static-4k,static-1m,static-1m-capped --rounds 1\`.

The section between the markers below is rewritten by every complete \`deno task bench\` run;
everything outside them is kept.

${GEN_START}
${GEN_END}

## Engine optimisation log

What was tried against the targets above and what each change bought (newest first). Quote the
medians of a complete run (or of a targeted run, e.g. \`--servers lsbaws-libc-fetch --scenarios
keepalive --rounds 5\`) before and after each change.
`;

function replaceBetween(text: string, start: string, end: string, body: string): string | null {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return null;
  return `${text.slice(0, a + start.length)}\n\n${body}\n\n${text.slice(b)}`;
}

async function writeMarkdown(r: BenchResults): Promise<void> {
  const path = `${ROOT}/bench/RESULTS.md`;
  let text = await Deno.readTextFile(path).catch(() => RESULTS_TEMPLATE);
  if (!text.includes(GEN_START)) text = RESULTS_TEMPLATE;
  await Deno.writeTextFile(path, replaceBetween(text, GEN_START, GEN_END, resultsMarkdown(r))!);
  const fmtFiles = [path];
  const readme = `${ROOT}/README.md`;
  const readmeText = await Deno.readTextFile(readme).catch(() => null);
  const table = "`deno task bench --profile` (about 35 minutes; lsbaws on both socket " +
    "backends, `--io libc` and `--io deno`, with the gateway and the fetch app, " +
    "`Deno.serve` and `node:http` serving the same apps, and lsbaws `--static`, nginx and " +
    "Hono's `serveStatic` serving the same files, server and load generators pinned to " +
    "separate cores) writes these tables and " +
    "[bench/RESULTS.md](bench/RESULTS.md) (method, raw numbers per round, CPU profiles of " +
    "the lsbaws servers, optimisation log); `deno task bench:smoke` checks the harness in " +
    "seconds.\n\n" +
    `${summaryTable(r)}\n\n${staticTable(r) ? `${staticTable(r)}\n\n` : ""}` +
    `${targetsTable(r)}\n\n` +
    `Medians of ${r.settings.rounds} rounds ([n=k]: of its k rounds undisturbed by other ` +
    `processes), ratio to Deno.serve in brackets (static files: lsbaws over Hono's ` +
    `\`serveStatic\` and over nginx); cpus: ${r.machine.cpus}, ` +
    `${r.machine.date.slice(0, 10)}, engine ${r.machine["engine sources"] ?? "?"}.`;
  let updated = readmeText === null
    ? null
    : replaceBetween(readmeText, README_START, README_END, table);
  if (updated === null && readmeText?.includes(README_PLACEHOLDER)) {
    updated = readmeText.replace(
      README_PLACEHOLDER,
      `${README_START}\n\n${table}\n\n${README_END}`,
    );
  }
  if (updated !== null) {
    await Deno.writeTextFile(readme, updated);
    fmtFiles.push(readme);
    log(`updated the README table (${readme})`);
  } else {
    log(
      `README.md: no ${README_PLACEHOLDER} or ${README_START} ... ${README_END} markers; ` +
        "README table not written",
    );
  }
  await capture(DENO, ["fmt", "--quiet", ...fmtFiles]);
  log(`wrote ${path}`);
}

function printTables(r: BenchResults): void {
  log("\n== results (medians; ratio to Deno.serve in brackets)\n");
  if (r.settings.scenarios.some((s) => !STATIC_SCENARIOS.includes(s))) {
    log(summaryTable(r));
    log("");
  }
  if (staticTable(r)) {
    log(staticTable(r));
    log("");
  }
  log(targetsTable(r));
  log("");
  if (r.profiles?.length) {
    log("== CPU profiles (keep-alive; self time, share of the busy time)\n");
    log(profilesMarkdown(r));
    log("");
  }
  log("== raw numbers per round\n");
  log(rawTables(r));
}

if (import.meta.main) {
  let opts;
  try {
    opts = parseArgs(Deno.args);
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : err}\n\n${HELP}`);
    Deno.exit(2);
  }
  if (opts.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  if (opts.render) {
    const saved = withCurrentServerIds(
      JSON.parse(await Deno.readTextFile(opts.render)) as BenchResults,
    );
    printTables(saved);
    if (opts.write && isCompleteRun(saved.settings)) await writeMarkdown(saved);
    else log("not a complete full run (or --no-write): bench/RESULTS.md left as it is");
    Deno.exit(0);
  }
  const onSignal = () => {
    releaseAllCaps();
    killAll();
    console.error("bench: interrupted; stopped every server and client it had started");
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let results: BenchResults;
  try {
    results = await runBench(opts.settings);
  } catch (err) {
    releaseAllCaps();
    killAll();
    console.error(`bench: ${err instanceof Error ? err.stack ?? err.message : err}`);
    Deno.exit(1);
  }
  printTables(results);
  await Deno.mkdir(opts.json.replace(/\/[^/]*$/, ""), { recursive: true });
  const json = JSON.stringify({ ...results, verdicts: judge(results) }, null, 2);
  await Deno.writeTextFile(opts.json, json + "\n");
  log(`\nwrote ${opts.json}`);
  if (opts.write && isCompleteRun(opts.settings)) {
    const stamp = results.startedAt.replace(/[:.]/g, "-");
    await Deno.writeTextFile(`${ROOT}/bench/results/${stamp}.json`, json + "\n");
    await writeMarkdown(results);
  } else if (!opts.settings.smoke) {
    log("partial run: bench/RESULTS.md and README.md left as they are");
  }
  if (results.problems.length) {
    log(`\n${results.problems.length} problem(s):`);
    for (const p of results.problems) {
      log(`  round ${p.round} ${p.server} ${p.scenario}: ${p.message}`);
    }
    Deno.exit(1);
  }
  log(`\nall checks passed (${fmt(results.elapsedS, 1)} s)`);
}

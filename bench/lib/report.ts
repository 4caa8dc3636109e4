/**
 * Turning benchmark runs into medians, ratios to `Deno.serve`, target verdicts and Markdown.
 *
 * Contract:
 * - Pure functions over the records `bench/run.ts` collects; no I/O here.
 * - Every median is over the valid rounds of one server and one scenario; a missing value is
 *   `NaN` and renders as "–".
 * - Ratios are always "lsbaws value / Deno.serve value in the same run", for throughput and
 *   latency alike; a target says whether higher or lower is better. The static-file scenarios
 *   have their own servers and baseline: their ratios are lsbaws `--static` over Hono's
 *   `serveStatic` (`STATIC_BASELINE`, the target) and over nginx (`STATIC_REFERENCE`), shown in
 *   their own table (`staticTable`), never in the main one.
 * - The targets are the issue's list (keep-alive, pipelining, connection per request with
 *   `closeConnections` connections, capped keep-alive, keep-alive p99 and peak RSS, CPU at a
 *   fixed rate, idle cost) plus the static-file ones, judged for every lsbaws server of the run
 *   (one column per backend and app); a server that does not run a scenario (`runsScenario`)
 *   shows "not run" there and is not judged on it.
 */
import type { WrkResult } from "./wrk.ts";
import type { RateClient } from "./rate.ts";
import { median } from "./proc.ts";
import type { ProfileSummary } from "./profile.ts";
import {
  ALL_STATIC_SERVERS,
  BASELINE,
  isLsbaws,
  runsScenario,
  SERVER_ALIASES,
  SERVER_LABELS,
  type ServerId,
  STATIC_BASELINE,
  STATIC_LSBAWS,
  STATIC_REFERENCE,
  STATIC_SERVER_LABELS,
  type StaticServerId,
} from "./servers.ts";

export {
  ALL_SERVERS,
  ALL_STATIC_SERVERS,
  BASELINE,
  SERVER_LABELS,
  type ServerId,
  STATIC_BASELINE,
  STATIC_SERVER_LABELS,
  type StaticServerId,
} from "./servers.ts";

/** A server of either comparison (the hello/upload/idle servers or the static-file ones). */
export type AnyServerId = ServerId | StaticServerId;

/** Display name of any server. */
export function serverLabel(id: AnyServerId): string {
  return (SERVER_LABELS as Record<string, string>)[id] ??
    (STATIC_SERVER_LABELS as Record<string, string>)[id] ?? id;
}

/** Scenario identifiers. */
export type ScenarioId =
  | "keepalive"
  | "pipeline"
  | "close"
  | "keepalive-capped"
  | "fixed-rate"
  | "upload-length"
  | "upload-chunked"
  | "idle"
  | "static-4k"
  | "static-1m"
  | "static-1m-capped";

/** Every scenario id, in run order. */
export const ALL_SCENARIOS: ScenarioId[] = [
  "keepalive",
  "pipeline",
  "close",
  "keepalive-capped",
  "fixed-rate",
  "upload-length",
  "upload-chunked",
  "idle",
  "static-4k",
  "static-1m",
  "static-1m-capped",
];

/** The scenarios driven by wrk. */
export const THROUGHPUT_SCENARIOS: ScenarioId[] = [
  "keepalive",
  "pipeline",
  "close",
  "keepalive-capped",
];

/** The scenarios run against one hello server per round and server, in this order. */
export const HELLO_SCENARIOS: ScenarioId[] = [...THROUGHPUT_SCENARIOS, "fixed-rate"];

/** The static-file scenarios (wrk against the `STATIC_SERVER_DEFS` servers), in run order. */
export const STATIC_SCENARIOS: ScenarioId[] = ["static-4k", "static-1m", "static-1m-capped"];

/** The scenarios that run the server in a CPU-capped cgroup (skipped together without one). */
export const CAPPED_SCENARIOS: ScenarioId[] = ["keepalive-capped", "static-1m-capped"];

/**
 * CPU a static-file server may use in `static-1m-capped` when the settings do not say (results
 * of older harness versions): a quarter of a core per `capPeriodUs`.
 */
export const STATIC_CAP_QUOTA_US = 25_000;

/** The hello server's CPU cap of `keepalive-capped`, as a share of one core. */
export function capShare(settings: BenchSettings): number {
  return Number((settings.capQuotaUs / settings.capPeriodUs).toFixed(2));
}

/** The static-file server's CPU cap of `static-1m-capped`, as a share of one core. */
export function staticCapShare(settings: BenchSettings): number {
  const quota = settings.staticCapQuotaUs ?? STATIC_CAP_QUOTA_US;
  return capShare({ ...settings, capQuotaUs: quota });
}

/** Size of the file each static-file scenario fetches, bytes. */
export const STATIC_FILE_BYTES: Record<string, number> = {
  "static-4k": 4 << 10,
  "static-1m": 1 << 20,
  "static-1m-capped": 1 << 20,
};

/** wrk connections of a static-file scenario. */
export function staticConns(s: ScenarioId, settings: BenchSettings): number {
  return s === "static-4k" ? settings.staticConns : settings.staticLargeConns;
}

/** The settings a run used (also written to the JSON results). */
export interface BenchSettings {
  /** Smoke mode (tiny durations, harness check only). */
  smoke: boolean;
  /** Rounds per server and scenario. */
  rounds: number;
  /** wrk measurement time per run, seconds. */
  durationS: number;
  /** Untimed wrk warm-up before each measured run, seconds. */
  warmupS: number;
  /** wrk connections. */
  connections: number;
  /**
   * wrk connections of the connection-per-request scenario (the issue's target uses 16); absent
   * in results of older harness versions, which used `connections`.
   */
  closeConnections?: number;
  /** Requests per pipelined write. */
  pipelineDepth: number;
  /** Bytes per upload. */
  uploadBytes: number;
  /** Idle connections opened. */
  idleConns: number;
  /** Keep-alive timeout given to lsbaws and node:http in the idle scenario, ms. */
  idleKeepAliveMs: number;
  /** CPU time the server may use per `capPeriodUs` in the capped keep-alive scenario, µs. */
  capQuotaUs: number;
  /** cgroup enforcement period of the capped keep-alive scenario, µs. */
  capPeriodUs: number;
  /** Requests per second offered in the fixed-rate scenario. */
  rate: number;
  /** Keep-alive connections the fixed-rate load is spread over. */
  rateConns: number;
  /** wrk connections of the 4 KiB static-file scenario. */
  staticConns: number;
  /** wrk connections of the 1 MiB static-file scenarios (fewer: each response is 1 MiB). */
  staticLargeConns: number;
  /**
   * CPU time each static-file server may use per `capPeriodUs` in `static-1m-capped`, µs
   * (absent in results of older harness versions: `STATIC_CAP_QUOTA_US`).
   */
  staticCapQuotaUs?: number;
  /** Seconds the fixed rate is offered per timed run. */
  rateDurationS: number;
  /**
   * Seconds of untimed warm-up at the fixed rate before its timed runs (absent in results of
   * older harness versions, which warmed up for `warmupS`).
   */
  rateWarmupS?: number;
  /** Fixed-rate client: hey when available ("auto"), or forced. */
  rateClient: "auto" | RateClient;
  /** Longest wait for a quiet machine before each timed run, seconds (0: no wait). */
  quietWaitS: number;
  /** Extra attempts for a timed run that shared the machine with other processes. */
  maxRetries: number;
  /** Core the servers run on (null: not pinned). */
  serverCpu: number | null;
  /** Core wrk, the clients and the harness run on (null: not pinned). */
  clientCpu: number | null;
  /** Servers measured. */
  servers: ServerId[];
  /** Scenarios measured. */
  scenarios: ScenarioId[];
  /**
   * lsbaws servers run once more under the V8 CPU profiler during the keep-alive scenario, after
   * the measurements (`--profile`); absent or empty: none.
   */
  profileServers?: ServerId[];
}

/** One wrk measurement. */
export interface ThroughputRun {
  /** Round number, from 1. */
  round: number;
  /** Server measured. */
  server: ServerId;
  /** keepalive, pipeline, close or keepalive-capped. */
  scenario: ScenarioId;
  /** Attempts made (more than 1 when other processes disturbed a run). */
  attempts: number;
  /** Parsed wrk output. */
  wrk: WrkResult;
  /** Server CPU use during the run, percent of one core. */
  serverCpuPct: number;
  /** wrk's CPU use during the run, percent of one core (100 means wrk was the limit). */
  wrkCpuPct: number;
  /** CPU used by processes outside the benchmark during the run, percent of one core. */
  otherCpuPct: number;
  /** Server RSS right after the run, bytes. */
  serverRssAfter: number;
  /**
   * Highest server RSS during the timed run (VmRSS sampled every 50 ms, and VmHWM reset just
   * before it), bytes; absent in results of older harness versions.
   */
  peakRss?: number;
  /** keepalive-capped only: the cgroup limit and how often it throttled the server. */
  cap?: CapInfo;
}

/** The CPU cap of a capped run and how often it throttled the server. */
export interface CapInfo {
  /** cgroup version used. */
  version: 1 | 2;
  /** CPU time allowed per period, µs. */
  quotaUs: number;
  /** Period, µs. */
  periodUs: number;
  /** Periods during the timed run in which the server ran out of quota. */
  throttledPeriods: number;
  /** Periods during the timed run in which the server had work. */
  periods: number;
}

/** One fixed-rate measurement: server CPU time while a client offers a fixed request rate. */
export interface RateRun {
  /** Round number, from 1. */
  round: number;
  /** Server measured. */
  server: ServerId;
  /** Attempts made (more than 1 when other processes disturbed a run). */
  attempts: number;
  /** Client that offered the load. */
  client: RateClient;
  /** Offered requests per second. */
  offeredRps: number;
  /** Keep-alive connections used. */
  connections: number;
  /** Seconds the load was offered. */
  durationS: number;
  /** 2xx responses. */
  ok: number;
  /** Non-2xx responses and failed requests. */
  failed: number;
  /** Seconds from the start of the load to the last response. */
  elapsedS: number;
  /** Achieved rate, 2xx responses per second. */
  achievedRps: number;
  /** Server user + system CPU time during the run (/proc/PID/stat), seconds. */
  serverCpuS: number;
  /** Client CPU use during the run, percent of one core. */
  clientCpuPct: number;
  /** CPU used by processes outside the benchmark during the run, percent of one core. */
  otherCpuPct: number;
  /** Why the run does not count (achieved rate off by more than 5 %, failures); absent if valid. */
  invalid?: string;
}

/** One wrk measurement of a static-file server. */
export interface StaticRun {
  /** Round number, from 1. */
  round: number;
  /** Server measured. */
  server: StaticServerId;
  /** static-4k, static-1m or static-1m-capped. */
  scenario: ScenarioId;
  /** Size of the file fetched, bytes. */
  fileBytes: number;
  /** wrk connections. */
  connections: number;
  /** Attempts made (more than 1 when other processes disturbed a run). */
  attempts: number;
  /** Parsed wrk output. */
  wrk: WrkResult;
  /** File bytes served per second (`rps × fileBytes`), MiB/s. */
  mibPerS: number;
  /** Server CPU use during the run (the process and its children), percent of one core. */
  serverCpuPct: number;
  /** wrk's CPU use during the run, percent of one core (100 means wrk was the limit). */
  wrkCpuPct: number;
  /** CPU used by processes outside the benchmark during the run, percent of one core. */
  otherCpuPct: number;
  /** static-1m-capped only: the cgroup limit and how often it throttled the server. */
  cap?: CapInfo;
}

/** A server that could not run on this machine (e.g. nginx not installed), and why. */
export interface SkippedServer {
  /** The server. */
  server: AnyServerId;
  /** What is missing. */
  reason: string;
}

/** A scenario that could not run on this machine, and why. */
export interface SkippedScenario {
  /** The scenario. */
  scenario: ScenarioId;
  /** What is missing. */
  reason: string;
}

/** One upload measurement. */
export interface UploadRun {
  /** Round number, from 1. */
  round: number;
  /** Server measured. */
  server: ServerId;
  /** upload-length or upload-chunked. */
  scenario: ScenarioId;
  /** Status 200 and the exact byte count came back. */
  ok: boolean;
  /** Throughput, MiB/s. */
  mibPerS: number;
  /** Time from first byte sent to complete response, ms. */
  ms: number;
  /** Server RSS before the upload, bytes. */
  baselineRss: number;
  /** Highest server RSS during the upload (sampled every 50 ms, and VmHWM), bytes. */
  peakRss: number;
  /** `peakRss - baselineRss`, bytes. */
  rssGrowth: number;
  /** Number of RSS samples taken. */
  samples: number;
  /** Whether VmHWM could be reset and used. */
  hwmUsed: boolean;
  /** Attempts made (more than 1 when other processes disturbed a run). */
  attempts: number;
  /** Server CPU use during the upload, percent of one core. */
  serverCpuPct: number;
  /** Upload client CPU use, percent of one core. */
  clientCpuPct: number;
  /** CPU used by processes outside the benchmark, percent of one core. */
  otherCpuPct: number;
  /** What went wrong, when `ok` is false. */
  error?: string;
}

/** One idle-connections measurement. */
export interface IdleRun {
  /** Round number, from 1. */
  round: number;
  /** Server measured. */
  server: ServerId;
  /** Connections asked for. */
  wanted: number;
  /** Connections that got their response. */
  opened: number;
  /** Connections the server had not closed when memory was measured. */
  alive: number;
  /** Socket fds held by the server when memory was measured (minus the listener's baseline). */
  serverSockets: number;
  /** Time to open all connections, ms. */
  openMs: number;
  /** Server RSS before, bytes (median of samples). */
  baselineRss: number;
  /** Server RSS with every connection open and idle, bytes (median of samples). */
  idleRss: number;
  /** `(idleRss - baselineRss) / alive`, bytes. */
  bytesPerConn: number;
}

/** A failed check or a run whose numbers cannot be trusted. */
export interface Problem {
  /** Round number (0 when not tied to a round). */
  round: number;
  /** Server concerned. */
  server: AnyServerId | "";
  /** Scenario concerned. */
  scenario: ScenarioId | "";
  /** What happened. */
  message: string;
}

/** Everything one bench run produced. */
export interface BenchResults {
  /** Machine and software description. */
  machine: Record<string, string>;
  /** Settings of the run. */
  settings: BenchSettings;
  /** ISO start time. */
  startedAt: string;
  /** Wall time of the whole run, seconds. */
  elapsedS: number;
  /** What the correctness checks saw per server and app. */
  verification: Record<string, { checks: string[]; sampleHead: string; responseBytes: number }>;
  /** wrk runs. */
  throughput: ThroughputRun[];
  /** Upload runs. */
  upload: UploadRun[];
  /** Idle-connection runs. */
  idle: IdleRun[];
  /** Fixed-rate runs (absent in results of older harness versions). */
  rate?: RateRun[];
  /** Scenarios skipped on this machine (absent in results of older harness versions). */
  skipped?: SkippedScenario[];
  /** Static-file runs (absent in results of older harness versions). */
  static?: StaticRun[];
  /** Servers skipped on this machine (absent in results of older harness versions). */
  skippedServers?: SkippedServer[];
  /** CPU profiles of lsbaws servers under keep-alive load (`--profile` runs only). */
  profiles?: ProfileSummary[];
  /** Problems found. */
  problems: Problem[];
}

/** A metric of one scenario. */
export interface MetricDef {
  /** Scenario. */
  scenario: ScenarioId;
  /** Metric key. */
  key:
    | "rps"
    | "p50"
    | "p99"
    | "peakRssMiB"
    | "cpuS"
    | "achievedRps"
    | "mibPerS"
    | "mibPerCpuS"
    | "rssGrowthMiB"
    | "kibPerConn";
  /** Column label with unit. */
  label: string;
  /** Whether larger is better (for the reader). */
  higherIsBetter: boolean;
  /** Decimal places when printed. */
  digits: number;
}

/** wrk connections of the connection-per-request scenario. */
export function closeConns(settings: BenchSettings): number {
  return settings.closeConnections ?? settings.connections;
}

/** Scenario display names (idle and upload names include the sizes used). */
export function scenarioLabel(s: ScenarioId, settings: BenchSettings): string {
  const c = settings.connections;
  switch (s) {
    case "keepalive":
      return `keep-alive, ${c} conns`;
    case "pipeline":
      return `pipelining ${settings.pipelineDepth} deep, ${c} conns`;
    case "close":
      return `connection per request, ${closeConns(settings)} conns`;
    case "keepalive-capped":
      return `keep-alive, ${c} conns, server capped at ${capShare(settings)} core`;
    case "fixed-rate":
      return `${fmt(settings.rate, 0)} req/s offered for ${settings.rateDurationS} s, ` +
        `${settings.rateConns} conns`;
    case "upload-length":
      return `${formatBytes(settings.uploadBytes)} upload, Content-Length`;
    case "upload-chunked":
      return `${formatBytes(settings.uploadBytes)} upload, chunked`;
    case "idle":
      return `${settings.idleConns.toLocaleString("en-US")} idle keep-alive conns`;
    case "static-4k":
    case "static-1m":
      return `${formatBytes(STATIC_FILE_BYTES[s])} file, keep-alive, ${
        staticConns(s, settings)
      } conns`;
    case "static-1m-capped":
      return `${formatBytes(STATIC_FILE_BYTES[s])} file, keep-alive, ${
        staticConns(s, settings)
      } conns, servers capped at ${staticCapShare(settings)} core`;
  }
}

/** The metrics reported for each scenario. */
export function metricsOf(s: ScenarioId): MetricDef[] {
  if (STATIC_SCENARIOS.includes(s)) {
    return [
      { scenario: s, key: "rps", label: "req/s", higherIsBetter: true, digits: 0 },
      ...(s === "static-4k" ? [] : [{
        scenario: s,
        key: "mibPerS",
        label: "MiB/s",
        higherIsBetter: true,
        digits: 0,
      }]) as MetricDef[],
      ...(s === "static-1m"
        ? [{
          scenario: s,
          key: "mibPerCpuS",
          label: "MiB per server CPU s",
          higherIsBetter: true,
          digits: 0,
        }]
        : []) as MetricDef[],
      { scenario: s, key: "p50", label: "p50 ms", higherIsBetter: false, digits: 2 },
      { scenario: s, key: "p99", label: "p99 ms", higherIsBetter: false, digits: 2 },
    ];
  }
  if (THROUGHPUT_SCENARIOS.includes(s)) {
    const out: MetricDef[] = [
      { scenario: s, key: "rps", label: "req/s", higherIsBetter: true, digits: 0 },
      { scenario: s, key: "p50", label: "p50 ms", higherIsBetter: false, digits: 2 },
      { scenario: s, key: "p99", label: "p99 ms", higherIsBetter: false, digits: 2 },
    ];
    if (s === "keepalive") {
      out.push({
        scenario: s,
        key: "peakRssMiB",
        label: "peak RSS MiB",
        higherIsBetter: false,
        digits: 1,
      });
    }
    return out;
  }
  if (s === "fixed-rate") {
    return [
      { scenario: s, key: "cpuS", label: "server CPU s", higherIsBetter: false, digits: 2 },
      {
        scenario: s,
        key: "achievedRps",
        label: "achieved req/s",
        higherIsBetter: true,
        digits: 0,
      },
    ];
  }
  if (s === "idle") {
    return [{
      scenario: s,
      key: "kibPerConn",
      label: "KiB/conn",
      higherIsBetter: false,
      digits: 1,
    }];
  }
  return [
    { scenario: s, key: "mibPerS", label: "MiB/s", higherIsBetter: true, digits: 0 },
    {
      scenario: s,
      key: "rssGrowthMiB",
      label: "peak RSS growth MiB",
      higherIsBetter: false,
      digits: 1,
    },
  ];
}

/**
 * CPU used by processes outside the benchmark (percent of one core) above which a timed run
 * counts as disturbed: it is measured again, and left out of medians when a clean round exists.
 */
export const CONTAMINATED_PCT = 25;

/** The rounds a median is taken over. */
export interface RoundSelection {
  /** Values of the rounds used. */
  values: number[];
  /** Valid rounds during which other processes used at most `CONTAMINATED_PCT`. */
  clean: number;
  /** Valid rounds. */
  total: number;
}

/**
 * The rounds of one metric for one server that its median uses: the valid rounds, restricted to
 * the undisturbed ones when there is at least one. The choice looks at the machine's load during
 * each round, never at the measured value. Idle-connection runs (memory only) are all used.
 */
export function selectRounds(r: BenchResults, server: AnyServerId, m: MetricDef): RoundSelection {
  let runs: Array<{ v: number; other: number }>;
  if (STATIC_SCENARIOS.includes(m.scenario)) {
    runs = (r.static ?? [])
      .filter((t) => t.server === server && t.scenario === m.scenario && validStatic(t))
      .map((t) => ({
        v: m.key === "rps"
          ? t.wrk.rps
          : m.key === "mibPerS"
          ? t.mibPerS
          : m.key === "mibPerCpuS"
          ? (t.serverCpuPct > 0 ? t.mibPerS / (t.serverCpuPct / 100) : NaN)
          : m.key === "p50"
          ? t.wrk.latencyMs.p50
          : t.wrk.latencyMs.p99,
        other: t.otherCpuPct,
      }));
  } else if (THROUGHPUT_SCENARIOS.includes(m.scenario)) {
    runs = r.throughput
      .filter((t) => t.server === server && t.scenario === m.scenario && validThroughput(t))
      .map((t) => ({
        v: m.key === "rps"
          ? t.wrk.rps
          : m.key === "p50"
          ? t.wrk.latencyMs.p50
          : m.key === "peakRssMiB"
          ? (t.peakRss ?? NaN) / (1 << 20)
          : t.wrk.latencyMs.p99,
        other: t.otherCpuPct,
      }))
      // Older results have no peak RSS: no value rather than a NaN round.
      .filter((x) => m.key !== "peakRssMiB" || Number.isFinite(x.v));
  } else if (m.scenario === "fixed-rate") {
    runs = (r.rate ?? [])
      .filter((t) => t.server === server && !t.invalid)
      .map((t) => ({ v: m.key === "cpuS" ? t.serverCpuS : t.achievedRps, other: t.otherCpuPct }));
  } else if (m.scenario === "idle") {
    runs = r.idle
      .filter((t) => t.server === server && validIdle(t))
      .map((t) => ({ v: t.bytesPerConn / 1024, other: 0 }));
  } else {
    runs = r.upload
      .filter((t) => t.server === server && t.scenario === m.scenario && t.ok)
      .map((t) => ({
        v: m.key === "mibPerS" ? t.mibPerS : t.rssGrowth / (1 << 20),
        other: t.otherCpuPct,
      }));
  }
  const clean = runs.filter((x) => !(x.other > CONTAMINATED_PCT));
  return {
    values: (clean.length ? clean : runs).map((x) => x.v),
    clean: clean.length,
    total: runs.length,
  };
}

/** Values of the rounds the median of one metric for one server uses (see `selectRounds`). */
export function roundValues(r: BenchResults, server: AnyServerId, m: MetricDef): number[] {
  return selectRounds(r, server, m).values;
}

/** Median over rounds of one metric for one server. */
export function medianOf(r: BenchResults, server: AnyServerId, m: MetricDef): number {
  return median(roundValues(r, server, m));
}

/** Whether a wrk run produced trustworthy numbers (unknown latencies are NaN and skipped). */
export function validThroughput(t: ThroughputRun): boolean {
  return t.wrk.requests > 0 && t.wrk.errors.status === 0;
}

/**
 * Whether a static-file run produced trustworthy numbers: requests, no error status, and at
 * least the file's bytes read per response.
 */
export function validStatic(t: StaticRun): boolean {
  return t.wrk.requests > 0 && t.wrk.errors.status === 0 &&
    t.wrk.bytes >= t.wrk.requests * t.fileBytes;
}

/** Whether an idle run kept (almost) every connection open while memory was measured. */
export function validIdle(t: IdleRun): boolean {
  return t.opened === t.wanted && t.alive >= t.wanted * 0.99;
}

/** A performance target from the issue. */
export interface TargetDef {
  /** Stable id. */
  id: string;
  /** Human description. */
  label: string;
  /** The metric it judges. */
  metric: MetricDef;
  /** "ratio-min": value/baseline >= threshold; "ratio-max": <=; "abs-max": value <= threshold. */
  kind: "ratio-min" | "ratio-max" | "abs-max";
  /** The bound (a ratio, or in the metric's unit for abs-max). */
  threshold: number;
  /** The server ratios are against (default `BASELINE`, i.e. Deno.serve). */
  baseline?: AnyServerId;
  /** The servers judged (default: the lsbaws entries of the run's servers). */
  judged?: AnyServerId[];
  /** A second metric whose median is shown next to the verdict (e.g. MiB/s). */
  detail?: MetricDef;
}

/**
 * The issue's targets that apply to the scenarios of this run (lsbaws over `Deno.serve` in the
 * same run, judged for every lsbaws server), then the static-file targets.
 */
export function targetsFor(settings: BenchSettings): TargetDef[] {
  const out: TargetDef[] = [];
  const m = (s: ScenarioId, key: MetricDef["key"]) => metricsOf(s).find((x) => x.key === key)!;
  const has = (s: ScenarioId) => settings.scenarios.includes(s);
  const cap = capShare(settings);
  const issue: Array<
    [ScenarioId, MetricDef["key"], TargetDef["kind"], number, string]
  > = [
    ["keepalive", "rps", "ratio-min", 1.0, "keep-alive req/s ≥ 1.0× Deno.serve (aim 1.1×)"],
    ["pipeline", "rps", "ratio-min", 5.0, "pipelining req/s ≥ 5.0× Deno.serve"],
    [
      "close",
      "rps",
      "ratio-min",
      1.1,
      `connection-per-request req/s, ${closeConns(settings)} conns ≥ 1.1× Deno.serve`,
    ],
    [
      "keepalive-capped",
      "rps",
      "ratio-min",
      1.0,
      `keep-alive req/s, server capped at ${cap} core ≥ 1.0× Deno.serve`,
    ],
    ["keepalive", "p99", "ratio-max", 1.2, "keep-alive p99 latency ≤ 1.2× Deno.serve"],
    ["keepalive", "peakRssMiB", "ratio-max", 1.5, "keep-alive peak RSS ≤ 1.5× Deno.serve"],
    [
      "fixed-rate",
      "cpuS",
      "ratio-max",
      1.2,
      `server CPU at ${fmt(settings.rate, 0)} req/s ≤ 1.2× Deno.serve`,
    ],
  ];
  const ids: Record<string, string> = { rps: "rps", p99: "p99", peakRssMiB: "rss", cpuS: "cpu" };
  for (const [s, key, kind, threshold, label] of issue) {
    if (has(s)) {
      out.push({ id: `${s}-${ids[key]}`, label, metric: m(s, key), kind, threshold });
    }
  }
  if (has("idle")) {
    out.push({
      id: "idle-cost",
      label: `idle connection cost ≤ 16 KiB (${
        settings.idleConns.toLocaleString("en-US")
      } keep-alive conns)`,
      metric: m("idle", "kibPerConn"),
      kind: "abs-max",
      threshold: 16,
    });
  }
  for (const s of STATIC_SCENARIOS.filter(has)) {
    const capped = s === "static-1m-capped"
      ? `, servers capped at ${staticCapShare(settings)} core`
      : "";
    out.push({
      id: `${s}-rps`,
      label: `static ${formatBytes(STATIC_FILE_BYTES[s])} req/s${capped} ≥ 2.0× Hono serveStatic`,
      metric: m(s, "rps"),
      kind: "ratio-min",
      threshold: 2.0,
      baseline: STATIC_BASELINE,
      judged: [STATIC_LSBAWS],
      ...(s === "static-4k" ? {} : { detail: m(s, "mibPerS") }),
    });
  }
  if (has("static-1m")) {
    // 1 MiB responses saturate the single wrk core (it shows 100 % CPU) before the servers, so
    // req/s compares the client; bytes per server CPU second compares the servers.
    out.push({
      id: "static-1m-efficiency",
      label: "static 1 MiB MiB per server CPU s ≥ 2.0× Hono serveStatic",
      metric: m("static-1m", "mibPerCpuS"),
      kind: "ratio-min",
      threshold: 2.0,
      baseline: STATIC_BASELINE,
      judged: [STATIC_LSBAWS],
    });
  }
  return out;
}

/** The verdict of one target for one server. */
export interface Verdict {
  /** Target id. */
  target: string;
  /** Server judged. */
  server: AnyServerId;
  /** Median value in the metric's unit. */
  value: number;
  /** `value / baseline value` (Deno.serve unless the target names another baseline). */
  ratio: number;
  /** PASS, MISS, N/A when a number is missing, SKIP when the scenario could not run here. */
  verdict: "PASS" | "MISS" | "N/A" | "SKIP";
}

/** Why `scenario` was skipped in this run, or null when it was not. */
export function skipReason(r: BenchResults, scenario: ScenarioId): string | null {
  return (r.skipped ?? []).find((x) => x.scenario === scenario)?.reason ?? null;
}

/** Judges every target for every lsbaws server of the run. */
export function judge(r: BenchResults): Verdict[] {
  const out: Verdict[] = [];
  for (const t of targetsFor(r.settings)) {
    const skipped = skipReason(r, t.metric.scenario) !== null;
    for (const server of t.judged ?? r.settings.servers.filter(isLsbaws)) {
      if (!runsScenario(server, t.metric.scenario)) continue;
      const value = medianOf(r, server, t.metric);
      const base = medianOf(r, t.baseline ?? BASELINE, t.metric);
      const ratio = value / base;
      if (skipped) {
        out.push({ target: t.id, server, value, ratio, verdict: "SKIP" });
        continue;
      }
      let ok: boolean | null;
      if (t.kind === "abs-max") ok = Number.isFinite(value) ? value <= t.threshold : null;
      else if (!Number.isFinite(ratio)) ok = null;
      else ok = t.kind === "ratio-min" ? ratio >= t.threshold : ratio <= t.threshold;
      out.push({
        target: t.id,
        server,
        value,
        ratio,
        verdict: ok === null ? "N/A" : ok ? "PASS" : "MISS",
      });
    }
  }
  return out;
}

/**
 * Saved results of an older harness version with its lsbaws ids (`lsbaws-gateway`,
 * `lsbaws-fetch`, which ran `--io auto`, i.e. libc on Linux) renamed to the entries
 * `SERVER_ALIASES` maps them to, so that `--render` labels and judges them; a copy.
 */
export function withCurrentServerIds(r: BenchResults): BenchResults {
  const id = <T extends string>(x: T): T => (SERVER_ALIASES[x] ?? x) as T;
  const runs = <T extends { server: string }>(xs: T[] | undefined) =>
    xs?.map((x) => ({ ...x, server: id(x.server) }));
  return {
    ...r,
    settings: { ...r.settings, servers: r.settings.servers.map(id) },
    verification: Object.fromEntries(
      Object.entries(r.verification).map(([k, v]) => {
        const [server, ...rest] = k.split(" ");
        return [[id(server), ...rest].join(" "), v];
      }),
    ),
    throughput: runs(r.throughput)!,
    upload: runs(r.upload)!,
    idle: runs(r.idle)!,
    ...(r.rate ? { rate: runs(r.rate) } : {}),
    problems: r.problems.map((p) => ({ ...p, server: id(p.server) })),
  };
}

/** Formats a number with `digits` decimals and thousands separators; "–" when not finite. */
export function fmt(x: number, digits: number): string {
  if (!Number.isFinite(x)) return "–";
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Formats a ratio as "1.23×"; "–" when not finite. */
export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "–";
}

/** "1 GiB", "16 MiB", "1000 B". */
export function formatBytes(n: number): string {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return `${n / (1 << 30)} GiB`;
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} B`;
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const pad = (cells: string[]) => [...cells, ...head.slice(cells.length).map(() => "–")];
  return [line(head), line(head.map(() => "---")), ...rows.map((r) => line(pad(r)))].join("\n");
}

/** The main table: median per server, with the ratio to Deno.serve. */
export function summaryTable(r: BenchResults): string {
  const servers = r.settings.servers;
  const rows: string[][] = [];
  for (const s of r.settings.scenarios.filter((x) => !STATIC_SCENARIOS.includes(x))) {
    const skipped = skipReason(r, s);
    if (skipped !== null) {
      rows.push([scenarioLabel(s, r.settings), "skipped", ...servers.map(() => "skipped")]);
      continue;
    }
    metricsOf(s).forEach((m, i) => {
      const base = medianOf(r, BASELINE, m);
      const cells = servers.map((srv) => {
        if (!runsScenario(srv, s)) return "not run";
        const v = medianOf(r, srv, m);
        const ratio = srv === BASELINE ? "" : ` (${fmtRatio(v / base)})`;
        const sel = selectRounds(r, srv, m);
        const mark = sel.total > 0 && sel.clean === 0
          ? " [busy]"
          : sel.clean < sel.total
          ? ` [n=${sel.clean}]`
          : "";
        return Number.isFinite(v) ? `${fmt(v, m.digits)}${ratio}${mark}` : "–";
      });
      rows.push([i === 0 ? scenarioLabel(s, r.settings) : "", m.label, ...cells]);
    });
  }
  return table(["Scenario", "Metric", ...servers.map((s) => SERVER_LABELS[s])], rows);
}

/**
 * The targets table: value, ratio and PASS/MISS per judged lsbaws server (one column each; a
 * target that does not judge a column's server shows "–" there).
 */
export function targetsTable(r: BenchResults): string {
  const verdicts = judge(r);
  const targets = targetsFor(r.settings);
  const columns = [...new Set(verdicts.map((v) => v.server))];
  const rows = targets.map((t) => {
    const cells = columns.map((srv) => {
      const v = verdicts.find((x) => x.target === t.id && x.server === srv);
      if (!v) return !t.judged && !runsScenario(srv, t.metric.scenario) ? "not run" : "–";
      if (v.verdict === "SKIP") return "skipped";
      const detail = t.detail
        ? ` (${fmt(medianOf(r, srv, t.detail), t.detail.digits)} ${t.detail.label})`
        : "";
      const shown = t.kind === "abs-max"
        ? `${fmt(v.value, t.metric.digits)} ${t.metric.label.split(" ").pop()} (${
          fmtRatio(v.ratio)
        })`
        : `${fmtRatio(v.ratio)}${detail}`;
      return `${shown} ${v.verdict === "PASS" ? "PASS" : `**${v.verdict}**`}`;
    });
    return [t.label, ...cells];
  });
  return table(["Target", ...columns.map(serverLabel)], rows);
}

/** Why static-file server `server` was skipped in this run, or null when it ran. */
export function serverSkipReason(r: BenchResults, server: AnyServerId): string | null {
  return (r.skippedServers ?? []).find((x) => x.server === server)?.reason ?? null;
}

/**
 * The static-file table: median per static-file server, then lsbaws `--static` over Hono's
 * `serveStatic` (the target's baseline) and over nginx. Empty when the run had no static-file
 * scenario.
 */
export function staticTable(r: BenchResults): string {
  const scenarios = r.settings.scenarios.filter((s) => STATIC_SCENARIOS.includes(s));
  if (scenarios.length === 0) return "";
  const ratioTo = (m: MetricDef, base: StaticServerId) => {
    if (serverSkipReason(r, base) !== null) return "skipped";
    return fmtRatio(medianOf(r, STATIC_LSBAWS, m) / medianOf(r, base, m));
  };
  const rows: string[][] = [];
  for (const s of scenarios) {
    metricsOf(s).forEach((m, i) => {
      const cells = ALL_STATIC_SERVERS.map((srv) => {
        if (serverSkipReason(r, srv) !== null) return "skipped";
        const v = medianOf(r, srv, m);
        const sel = selectRounds(r, srv, m);
        const mark = sel.total > 0 && sel.clean === 0
          ? " [busy]"
          : sel.clean < sel.total
          ? ` [n=${sel.clean}]`
          : "";
        return Number.isFinite(v) ? `${fmt(v, m.digits)}${mark}` : "–";
      });
      rows.push([
        i === 0 ? scenarioLabel(s, r.settings) : "",
        m.label,
        ...cells,
        ratioTo(m, STATIC_BASELINE),
        ratioTo(m, STATIC_REFERENCE),
      ]);
    });
  }
  const label = (id: StaticServerId) => STATIC_SERVER_LABELS[id];
  return table([
    "Static files",
    "Metric",
    ...ALL_STATIC_SERVERS.map(label),
    `${label(STATIC_LSBAWS)} ÷ ${label(STATIC_BASELINE)}`,
    `${label(STATIC_LSBAWS)} ÷ ${label(STATIC_REFERENCE)}`,
  ], rows);
}

/** Per-round raw numbers, one table per scenario. */
export function rawTables(r: BenchResults): string {
  const parts: string[] = [];
  const rounds = Array.from({ length: r.settings.rounds }, (_, i) => i + 1);
  for (const s of r.settings.scenarios) {
    parts.push(`#### ${scenarioLabel(s, r.settings)}`);
    const skipped = skipReason(r, s);
    if (skipped !== null) {
      parts.push(`Skipped: ${skipped}.`);
      continue;
    }
    if (STATIC_SCENARIOS.includes(s)) {
      parts.push(staticRawTable(r, s, rounds));
      continue;
    }
    const rows: string[][] = [];
    for (const srv of r.settings.servers.filter((x) => runsScenario(x, s))) {
      for (const round of rounds) {
        if (THROUGHPUT_SCENARIOS.includes(s)) {
          const t = r.throughput.find((x) =>
            x.server === srv && x.scenario === s && x.round === round
          );
          if (!t) {
            rows.push([SERVER_LABELS[srv], String(round)]);
            continue;
          }
          const e = t.wrk.errors;
          const errs = [
            e.connect && `connect ${e.connect}`,
            e.read && `read ${e.read}`,
            e.write && `write ${e.write}`,
            e.timeout && `timeout ${e.timeout}`,
            e.status && `status ${e.status}`,
          ].filter(Boolean).join(", ") || "0";
          rows.push([
            SERVER_LABELS[srv],
            String(round),
            fmt(t.wrk.rps, 0),
            fmt(t.wrk.latencyMs.p50, 2),
            fmt(t.wrk.latencyMs.p99, 2),
            `${fmt(t.wrk.wrkReportedMs.p50, 2)} / ${fmt(t.wrk.wrkReportedMs.p99, 2)}`,
            errs,
            `${fmt(t.serverCpuPct, 0)} / ${fmt(t.wrkCpuPct, 0)} / ${
              fmt(Math.max(0, t.otherCpuPct), 0)
            }`,
            String(t.attempts),
            `${fmt((t.peakRss ?? NaN) / (1 << 20), 1)} / ${fmt(t.serverRssAfter / (1 << 20), 1)}`,
            ...(s === "keepalive-capped"
              ? [t.cap ? `${t.cap.throttledPeriods} / ${t.cap.periods}` : "–"]
              : []),
          ]);
        } else if (s === "fixed-rate") {
          const t = (r.rate ?? []).find((x) => x.server === srv && x.round === round);
          rows.push(
            t
              ? [
                SERVER_LABELS[srv],
                String(round),
                fmt(t.serverCpuS, 2),
                fmt(t.achievedRps, 0),
                `${t.ok} / ${t.failed}`,
                fmt(t.elapsedS, 2),
                t.client,
                `${fmt(t.clientCpuPct, 0)} / ${fmt(Math.max(0, t.otherCpuPct), 0)}`,
                String(t.attempts),
                t.invalid ? `invalid: ${t.invalid}` : "valid",
              ]
              : [SERVER_LABELS[srv], String(round)],
          );
        } else if (s === "idle") {
          const t = r.idle.find((x) => x.server === srv && x.round === round);
          rows.push(
            t
              ? [
                SERVER_LABELS[srv],
                String(round),
                fmt(t.bytesPerConn / 1024, 2),
                `${t.opened} / ${t.alive} / ${t.serverSockets}`,
                fmt(t.baselineRss / (1 << 20), 1),
                fmt(t.idleRss / (1 << 20), 1),
                fmt(t.openMs / 1000, 1),
              ]
              : [SERVER_LABELS[srv], String(round)],
          );
        } else {
          const t = r.upload.find((x) => x.server === srv && x.scenario === s && x.round === round);
          rows.push(
            t
              ? [
                SERVER_LABELS[srv],
                String(round),
                t.ok ? fmt(t.mibPerS, 0) : `failed: ${t.error ?? ""}`,
                fmt(t.rssGrowth / (1 << 20), 1),
                fmt(t.baselineRss / (1 << 20), 1),
                fmt(t.peakRss / (1 << 20), 1),
                String(t.samples),
                `${fmt(t.serverCpuPct, 0)} / ${fmt(t.clientCpuPct, 0)} / ${
                  fmt(Math.max(0, t.otherCpuPct), 0)
                }`,
                String(t.attempts),
              ]
              : [SERVER_LABELS[srv], String(round)],
          );
        }
      }
    }
    const head = THROUGHPUT_SCENARIOS.includes(s)
      ? [
        "Server",
        "Round",
        "req/s",
        "p50 ms",
        "p99 ms",
        "wrk-printed p50 / p99 ms",
        "socket errors",
        "CPU % server / wrk / other",
        "attempts",
        "server RSS MiB peak / after",
        ...(s === "keepalive-capped" ? ["throttled periods"] : []),
      ]
      : s === "fixed-rate"
      ? [
        "Server",
        "Round",
        "server CPU s",
        "achieved req/s",
        "2xx / failed",
        "elapsed s",
        "client",
        "CPU % client / other",
        "attempts",
        "counted",
      ]
      : s === "idle"
      ? [
        "Server",
        "Round",
        "KiB/conn",
        "opened / alive / server sockets",
        "RSS before MiB",
        "RSS idle MiB",
        "open time s",
      ]
      : [
        "Server",
        "Round",
        "MiB/s",
        "RSS growth MiB",
        "RSS before MiB",
        "RSS peak MiB",
        "RSS samples",
        "CPU % server / client / other",
        "attempts",
      ];
    parts.push(table(head, rows));
  }
  return parts.join("\n\n");
}

function errorText(e: WrkResult["errors"]): string {
  return [
    e.connect && `connect ${e.connect}`,
    e.read && `read ${e.read}`,
    e.write && `write ${e.write}`,
    e.timeout && `timeout ${e.timeout}`,
    e.status && `status ${e.status}`,
  ].filter(Boolean).join(", ") || "0";
}

/** The per-round table of one static-file scenario. */
function staticRawTable(r: BenchResults, s: ScenarioId, rounds: number[]): string {
  const rows: string[][] = [];
  for (const srv of ALL_STATIC_SERVERS) {
    const skipped = serverSkipReason(r, srv);
    if (skipped !== null) {
      rows.push([STATIC_SERVER_LABELS[srv], "–", `skipped: ${skipped}`]);
      continue;
    }
    for (const round of rounds) {
      const t = (r.static ?? []).find((x) =>
        x.server === srv && x.scenario === s && x.round === round
      );
      rows.push(
        t
          ? [
            STATIC_SERVER_LABELS[srv],
            String(round),
            fmt(t.wrk.rps, 0),
            fmt(t.mibPerS, 0),
            fmt(t.wrk.latencyMs.p50, 2),
            fmt(t.wrk.latencyMs.p99, 2),
            `${fmt(t.wrk.wrkReportedMs.p50, 2)} / ${fmt(t.wrk.wrkReportedMs.p99, 2)}`,
            errorText(t.wrk.errors),
            `${fmt(t.serverCpuPct, 0)} / ${fmt(t.wrkCpuPct, 0)} / ${
              fmt(Math.max(0, t.otherCpuPct), 0)
            }`,
            String(t.attempts),
            ...(t.cap ? [`${t.cap.throttledPeriods} / ${t.cap.periods}`] : []),
          ]
          : [STATIC_SERVER_LABELS[srv], String(round)],
      );
    }
  }
  return table([
    "Server",
    "Round",
    "req/s",
    "MiB/s",
    "p50 ms",
    "p99 ms",
    "wrk-printed p50 / p99 ms",
    "socket errors",
    "CPU % server / wrk / other",
    "attempts",
    ...(s === "static-1m-capped" ? ["throttled periods"] : []),
  ], rows);
}

/** The machine description as a bullet list. */
export function machineList(r: BenchResults): string {
  return Object.entries(r.machine).map(([k, v]) => `- ${k}: ${v}`).join("\n");
}

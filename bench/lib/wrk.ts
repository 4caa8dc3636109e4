/**
 * Driving wrk: installing it when missing, running it pinned to the client core, and turning its
 * output into numbers.
 *
 * Contract:
 * - `ensureWrk()` returns wrk's version line, installing the Debian package with apt-get first
 *   when `wrk` is not on PATH; it throws (never pretends) when that is impossible.
 * - `runWrk()` always uses one wrk thread, the `--latency` flag and a script from `bench/wrk/`
 *   whose `done()` prints `BENCH_JSON` (wrk's summary) and `BENCH_HIST` (its latency histogram).
 * - Latency: wrk "corrects" its histogram for coordinated omission before `done()` runs, adding
 *   samples that were never measured (and, with pipelining, making percentiles 0). That
 *   correction is deterministic, so `uncorrectHistogram` undoes it exactly; the latencies this
 *   module reports as `latencyMs` are the observed ones, and wrk's own printed numbers are kept
 *   in `wrkReportedMs` for reference.
 */
import { capture, ensureDebianCommand, track } from "./proc.ts";

/** Socket and status error counts as wrk reports them. */
export interface WrkErrors {
  /** Failed connects. */
  connect: number;
  /** Read errors (includes resets). */
  read: number;
  /** Write errors. */
  write: number;
  /** Responses with a status above 399. */
  status: number;
  /** Requests that exceeded wrk's timeout. */
  timeout: number;
}

/** Latency percentiles in milliseconds. */
export interface LatencyMs {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Largest sample. */
  max: number;
  /** Mean. */
  mean: number;
  /** Number of samples behind these numbers. */
  samples: number;
}

/** One wrk run, parsed. */
export interface WrkResult {
  /** Completed requests (pipelined responses count one each). */
  requests: number;
  /** Measured run time in seconds. */
  durationS: number;
  /** Requests per second (`requests / durationS`). */
  rps: number;
  /** Response bytes read. */
  bytes: number;
  /** Error counts. */
  errors: WrkErrors;
  /** Observed latency (wrk's histogram with its correction undone), or wrk's own when unavailable. */
  latencyMs: LatencyMs;
  /**
   * Where `latencyMs` comes from: "measured" (wrk's histogram with its correction undone and
   * checked to hold one sample per response, or per batch when pipelining), or wrk's own
   * corrected numbers when the histogram was unavailable (NaN when pipelining).
   */
  latencySource: "measured" | "wrk-corrected";
  /** wrk's own printed percentiles (after its coordinated-omission correction). */
  wrkReportedMs: { p50: number; p90: number; p99: number };
  /** The `Requests/sec:` value wrk printed (cross-check of `rps`). */
  printedRps: number;
}

/** Options of one wrk run. */
export interface WrkOptions {
  /** Target URL. */
  url: string;
  /** Open connections. */
  connections: number;
  /** Run time in seconds. */
  durationS: number;
  /** Lua script path (`bench/wrk/report.lua` or `bench/wrk/pipeline.lua`). */
  script: string;
  /** Arguments passed to the script after `--`. */
  scriptArgs?: string[];
  /** Extra request headers ("Name: value"). */
  headers?: string[];
  /** Core to pin wrk to (null: no pinning). */
  cpu: number | null;
  /** Working directory. */
  cwd: string;
}

/** Returns wrk's version line, installing the Debian package when wrk is missing. */
export async function ensureWrk(log: (s: string) => void): Promise<string> {
  const installed = await ensureDebianCommand("wrk", "wrk", log);
  if (!installed.present) {
    throw new Error(
      "wrk is required and could not be installed with apt-get " +
        `(exit ${installed.code}):\n${installed.output}`,
    );
  }
  const v = await capture("wrk", ["-v"]);
  const line = (v.stdout + v.stderr).split("\n").find((l) => l.startsWith("wrk")) ?? "wrk";
  return line.replace(/\s*Copyright.*$/, "").trim();
}

/** Runs wrk once and parses its output; throws if wrk fails or prints no summary. */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const args = [
    "-t1",
    `-c${opts.connections}`,
    `-d${opts.durationS}s`,
    "--latency",
    "--timeout",
    "2s",
    "-s",
    opts.script,
  ];
  for (const h of opts.headers ?? []) args.push("-H", h);
  args.push(opts.url);
  if (opts.scriptArgs?.length) args.push("--", ...opts.scriptArgs);
  const cmd = opts.cpu === null ? "wrk" : "taskset";
  const full = opts.cpu === null ? args : ["-c", String(opts.cpu), "wrk", ...args];
  const child = track(
    new Deno.Command(cmd, {
      args: full,
      cwd: opts.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, (opts.durationS + 60) * 1000);
  const out = await child.output();
  clearTimeout(killer);
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) {
    throw new Error(`wrk exited with ${out.code}: ${stderr.slice(-1000)}${stdout.slice(-1000)}`);
  }
  return parseWrkOutput(stdout, opts.connections, opts.scriptArgs?.[0]);
}

/**
 * Parses the output of a wrk run that used one of the `bench/wrk/` scripts. `depth` is the
 * pipelining depth given to `pipeline.lua` (wrk records one latency sample per batch).
 */
export function parseWrkOutput(stdout: string, connections: number, depth?: string): WrkResult {
  const jsonLine = stdout.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!jsonLine) throw new Error(`wrk printed no BENCH_JSON line:\n${stdout.slice(-2000)}`);
  const j = JSON.parse(jsonLine.slice("BENCH_JSON ".length));
  const printed = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const durationS = j.duration_us / 1e6;
  const wrkReportedMs = {
    p50: j.latency_us.p50 / 1000,
    p90: j.latency_us.p90 / 1000,
    p99: j.latency_us.p99 / 1000,
  };
  const histLine = stdout.split("\n").find((l) => l.startsWith("BENCH_HIST "));
  let latencyMs: LatencyMs;
  let latencySource: WrkResult["latencySource"] = "measured";
  const hist = histLine ? parseHistogram(histLine.slice("BENCH_HIST ".length)) : null;
  const perSample = depth ? Number(depth) : 1;
  const wantSamples = (j.requests - (depth ? 0 : j.errors.timeout)) / perSample;
  let measured: LatencyMs | null = null;
  if (hist && j.requests > 0) {
    const expected = wrkCorrectionInterval(j.duration_us, j.requests, connections);
    measured = histogramStats(uncorrectHistogram(hist, expected));
    // Self-check: the inverted histogram must hold exactly one sample per recorded response
    // (per batch when pipelining); otherwise fall back to wrk's own numbers.
    if (Math.abs(measured.samples - wantSamples) > Math.max(connections, wantSamples * 0.01)) {
      measured = null;
    }
  }
  if (measured) {
    latencyMs = measured;
  } else {
    // wrk's corrected numbers are usable without pipelining; with it they are meaningless
    // (often 0), so the latency is reported as unknown rather than wrong.
    latencySource = "wrk-corrected";
    latencyMs = depth ? { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN, samples: 0 } : {
      ...wrkReportedMs,
      max: j.latency_us.max / 1000,
      mean: j.latency_us.mean / 1000,
      samples: j.requests,
    };
  }
  return {
    requests: j.requests,
    durationS,
    rps: durationS > 0 ? j.requests / durationS : 0,
    bytes: j.bytes,
    errors: j.errors,
    latencyMs,
    latencySource,
    wrkReportedMs,
    printedRps: printed ? Number(printed[1]) : NaN,
  };
}

/** A sparse latency histogram: microsecond value to count. */
export type Histogram = Map<number, number>;

/** Parses `v:c,v:c,...`; null for "unavailable" or an empty histogram. */
export function parseHistogram(text: string): Histogram | null {
  const t = text.trim();
  if (t === "" || t === "unavailable") return null;
  const h: Histogram = new Map();
  for (const part of t.split(",")) {
    const [v, c] = part.split(":");
    h.set(Number(v), Number(c));
  }
  return h;
}

/** The `expected` interval wrk passes to `stats_correct` (integer maths, as wrk.c does). */
export function wrkCorrectionInterval(
  durationUs: number,
  requests: number,
  connections: number,
): number {
  const perConn = Math.floor(requests / connections);
  return perConn > 0 ? Math.floor(durationUs / perConn) : Infinity;
}

/**
 * Inverts wrk's `stats_correct(stats, e)`, which for every value n >= 2e adds data[n] synthetic
 * samples at n-e, n-2e, ... while the value stays above e. Walking down from the largest value,
 * the original count at m > e is the corrected count minus the originals at m+e, m+2e, ...
 */
export function uncorrectHistogram(corrected: Histogram, expected: number): Histogram {
  let max = 0;
  for (const v of corrected.keys()) if (v > max) max = v;
  if (!Number.isFinite(expected) || expected <= 0 || 2 * expected > max) {
    return new Map(corrected);
  }
  const dense = new Float64Array(max + 1);
  for (const [v, c] of corrected) dense[v] = c;
  const suffix = new Float64Array(expected); // per residue class: originals above the cursor
  for (let m = max; m > expected; m--) {
    const r = m % expected;
    const orig = dense[m] - suffix[r];
    dense[m] = orig;
    suffix[r] += orig;
  }
  const out: Histogram = new Map();
  for (let v = 0; v <= max; v++) {
    if (dense[v] < 0) throw new Error(`wrk histogram does not invert at ${v} us (${dense[v]})`);
    if (dense[v] > 0) out.set(v, dense[v]);
  }
  return out;
}

/** Percentiles as wrk computes them (rank = round(p% * count + 0.5)), in milliseconds. */
export function histogramStats(h: Histogram): LatencyMs {
  const values = [...h.keys()].sort((a, b) => a - b);
  let count = 0;
  let sum = 0;
  for (const v of values) {
    count += h.get(v)!;
    sum += v * h.get(v)!;
  }
  const pct = (p: number) => {
    const rank = Math.round((p / 100) * count + 0.5);
    let total = 0;
    for (const v of values) {
      total += h.get(v)!;
      if (total >= rank) return v / 1000;
    }
    return NaN;
  };
  return {
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    max: values.length ? values[values.length - 1] / 1000 : NaN,
    mean: count ? sum / count / 1000 : NaN,
    samples: count,
  };
}

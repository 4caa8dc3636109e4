/**
 * Offering a fixed request rate to a server: with Debian's `hey` when it is installed (or can be
 * installed with apt-get), otherwise with `bench/rate_client.ts`; both keep their connections
 * alive and never exceed the offered rate.
 *
 * Contract:
 * - `ensureHey()` resolves to hey's package version, installing the Debian package first when
 *   `hey` is not on PATH; it resolves to null (never throws) when that is impossible, and the
 *   caller falls back to the Deno client.
 * - `runRate()` runs one client pinned to the client core for `durationS` seconds and resolves
 *   to what came back: 2xx responses, failures, the elapsed time and the achieved rate. hey's
 *   `-q` is per worker, so R requests per second over C connections is `-c C -q R/C`.
 * - `rateProblem()` says why a run does not count (achieved rate more than `tolerance` away from
 *   the offered one, or any failed request); null when it is valid.
 */
import { capture, ensureDebianCommand, track } from "./proc.ts";

/** Which client offers the load. */
export type RateClient = "hey" | "deno";

/** Options of one fixed-rate run. */
export interface RateOptions {
  /** Client to use. */
  client: RateClient;
  /** Server port on 127.0.0.1. */
  port: number;
  /** Offered requests per second, all connections together. */
  rate: number;
  /** Keep-alive connections (hey workers). */
  connections: number;
  /** Seconds to offer the load. */
  durationS: number;
  /** Core to pin the client to (null: no pinning). */
  cpu: number | null;
  /** Working directory (the repository root). */
  cwd: string;
  /** The Deno binary (for the Deno client). */
  deno: string;
}

/** What one fixed-rate run produced. */
export interface RateResult {
  /** Client used. */
  client: RateClient;
  /** 2xx responses. */
  ok: number;
  /** Non-2xx responses and failed requests. */
  failed: number;
  /** Seconds from the start of the load to the last response. */
  elapsedS: number;
  /** `ok / elapsedS`. */
  achievedRps: number;
  /** The first few error messages. */
  errors: string[];
}

/** hey's package version (e.g. "0.1.4-2+b4"), installing it when missing; null when impossible. */
export async function ensureHey(log: (s: string) => void): Promise<string | null> {
  const installed = await ensureDebianCommand("hey", "hey", log);
  if (!installed.present) {
    log(`  could not install hey (exit ${installed.code}); using bench/rate_client.ts instead`);
    return null;
  }
  const v = await capture("dpkg-query", ["-W", "-f", "${Version}", "hey"]);
  return v.code === 0 && v.stdout.trim() ? v.stdout.trim() : "unknown version";
}

/** hey's arguments for `opts` (`-q` is per worker). */
export function heyArgs(opts: RateOptions): string[] {
  const perWorker = opts.rate / opts.connections;
  return [
    "-z",
    `${opts.durationS}s`,
    "-c",
    String(opts.connections),
    "-q",
    String(Number(perWorker.toFixed(3))),
    "-t",
    "10",
    `http://127.0.0.1:${opts.port}/`,
  ];
}

/** Parses hey's summary: total time, status code distribution and error distribution. */
export function parseHeyOutput(stdout: string): RateResult {
  const total = /^\s*Total:\s+([\d.]+) secs/m.exec(stdout);
  if (!total) throw new Error(`hey printed no summary:\n${stdout.slice(-2000)}`);
  const elapsedS = Number(total[1]);
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const section = (title: string) => {
    const at = stdout.indexOf(title);
    if (at < 0) return [];
    const lines: string[] = [];
    for (const line of stdout.slice(at + title.length).split("\n").slice(1)) {
      if (line.trim() === "") break;
      lines.push(line);
    }
    return lines;
  };
  for (const line of section("Status code distribution:")) {
    const m = /\[(\d+)\]\s+(\d+) responses/.exec(line);
    if (!m) continue;
    const status = Number(m[1]);
    const n = Number(m[2]);
    if (status >= 200 && status < 300) ok += n;
    else {
      failed += n;
      errors.push(`${n} responses with status ${status}`);
    }
  }
  for (const line of section("Error distribution:")) {
    const m = /\[(\d+)\]\s+(.*)$/.exec(line);
    if (!m) continue;
    failed += Number(m[1]);
    if (errors.length < 5) errors.push(`${m[1]}× ${m[2].trim()}`);
  }
  return {
    client: "hey",
    ok,
    failed,
    elapsedS,
    achievedRps: elapsedS > 0 ? ok / elapsedS : 0,
    errors,
  };
}

/** Runs the client once; throws when it fails to run or prints nothing usable. */
export async function runRate(opts: RateOptions): Promise<RateResult> {
  const cmd = opts.client === "hey" ? ["hey", ...heyArgs(opts)] : [
    opts.deno,
    "run",
    "-A",
    "bench/rate_client.ts",
    "--port",
    String(opts.port),
    "--rate",
    String(opts.rate),
    "--conns",
    String(opts.connections),
    "--duration",
    String(opts.durationS),
  ];
  const [bin, ...args] = opts.cpu === null ? cmd : ["taskset", "-c", String(opts.cpu), ...cmd];
  const child = track(
    new Deno.Command(bin, { args, cwd: opts.cwd, stdin: "null", stdout: "piped", stderr: "piped" })
      .spawn(),
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
  if (opts.client === "hey") {
    if (out.code !== 0) throw new Error(`hey exited with ${out.code}: ${stderr.slice(-1000)}`);
    return parseHeyOutput(stdout);
  }
  const line = stdout.trim().split("\n").pop() ?? "";
  let j: { ok: number; failed: number; elapsedS: number; errors: string[] };
  try {
    j = JSON.parse(line);
  } catch {
    throw new Error(`rate client exited with ${out.code}: ${stderr.slice(-1000)}`);
  }
  return {
    client: "deno",
    ok: j.ok,
    failed: j.failed,
    elapsedS: j.elapsedS,
    achievedRps: j.elapsedS > 0 ? j.ok / j.elapsedS : 0,
    errors: j.errors,
  };
}

/** Why a run at `offered` requests per second does not count; null when it does. */
export function rateProblem(r: RateResult, offered: number, tolerance = 0.05): string | null {
  if (r.failed > 0) return `${r.failed} failed requests (${r.errors.slice(0, 2).join("; ")})`;
  const off = r.achievedRps / offered - 1;
  if (!(Math.abs(r.achievedRps - offered) <= offered * tolerance)) {
    return `achieved ${r.achievedRps.toFixed(0)} req/s, ` +
      `${(off * 100).toFixed(1)}% away from the offered ${offered} (limit ±${tolerance * 100}%)`;
  }
  return null;
}

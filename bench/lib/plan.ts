/**
 * How long a bench run will take, printed before it starts (a full run is budgeted at about 35
 * minutes on the reference 2-core machine).
 *
 * Contract:
 * - `estimateRun` is pure: it counts the server processes and timed runs the settings imply
 *   (the same loops as `bench/run.ts`: hello scenarios per round and server, uploads and idle
 *   per round and server that runs them, static files per round and static-file server, one
 *   profiled keep-alive run per profiled server) and prices each with fixed costs measured on
 *   that machine. It is an estimate: retries of disturbed runs and a busy machine make a run
 *   longer, and it does not know whether nginx or a cgroup is available (it counts both).
 */
import {
  type BenchSettings,
  HELLO_SCENARIOS,
  STATIC_SCENARIOS,
  THROUGHPUT_SCENARIOS,
} from "./report.ts";
import { ALL_STATIC_SERVERS, runsScenario } from "./servers.ts";

/** Seconds to start a server process and check its responses. */
const START_S = 2.5;
/** Seconds around one timed run (quiet check, process start of the client, RSS reads). */
const RUN_OVERHEAD_S = 1;
/**
 * Seconds of one upload besides moving the bytes (fresh server, settling, baseline RSS); smoke
 * mode settles for less.
 */
const UPLOAD_OVERHEAD_S = { full: 3.5, smoke: 1 };
/** Upload throughput assumed for the estimate, bytes per second (the slowest servers' rate). */
const UPLOAD_BYTES_PER_S = 400 * (1 << 20);
/**
 * Seconds of one idle measurement besides opening the connections (warm-up, settling, RSS);
 * smoke mode has no warm-up and settles for less.
 */
const IDLE_OVERHEAD_S = { full: 6, smoke: 1 };
/** Idle connections opened per second. */
const IDLE_CONNS_PER_S = 5000;

/** The estimated duration of a run, in seconds, in total and per phase. */
export interface RunEstimate {
  /** Whole run, seconds. */
  totalS: number;
  /** Seconds per phase (throughput and fixed rate, upload, idle, static, profile). */
  phases: Record<string, number>;
}

/** The estimated duration of a run with `settings`. */
export function estimateRun(s: BenchSettings): RunEstimate {
  const mode = s.smoke ? "smoke" : "full";
  const timed = s.warmupS + s.durationS + RUN_OVERHEAD_S;
  const has = (x: string) => (s.scenarios as string[]).includes(x);
  let hello = 0;
  let upload = 0;
  let idle = 0;
  for (const server of s.servers) {
    const hellos = HELLO_SCENARIOS.filter((x) => has(x) && runsScenario(server, x));
    if (hellos.length) {
      hello += START_S +
        hellos.filter((x) => THROUGHPUT_SCENARIOS.includes(x)).length * timed +
        (hellos.includes("fixed-rate")
          ? (s.rateWarmupS ?? s.warmupS) + s.rateDurationS + RUN_OVERHEAD_S
          : 0);
    }
    for (const x of ["upload-length", "upload-chunked"]) {
      if (has(x) && runsScenario(server, x)) {
        upload += START_S + UPLOAD_OVERHEAD_S[mode] + s.uploadBytes / UPLOAD_BYTES_PER_S;
      }
    }
    if (has("idle")) idle += START_S + IDLE_OVERHEAD_S[mode] + s.idleConns / IDLE_CONNS_PER_S;
  }
  const statics = STATIC_SCENARIOS.filter(has).length;
  const phases: Record<string, number> = {
    "throughput and fixed rate": hello * s.rounds,
    upload: upload * s.rounds,
    idle: idle * s.rounds,
    static: statics ? ALL_STATIC_SERVERS.length * (START_S + statics * timed) * s.rounds : 0,
    profile: (s.profileServers ?? []).length * (START_S + timed + 2),
  };
  const totalS = Object.values(phases).reduce((a, b) => a + b, 0);
  return { totalS, phases };
}

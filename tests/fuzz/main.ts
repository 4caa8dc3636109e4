/**
 * `deno task fuzz`: the long fuzz run against lsbaws processes (HTTP: `tests/fuzz/runner.ts`;
 * WebSocket: `tests/fuzz/ws_runner.ts`; PROXY protocol: `tests/fuzz/proxy_runner.ts`).
 *
 * Contract: `deno run -A --unstable-net tests/fuzz/main.ts [--mode http|websocket|proxy]
 * [--cases N] [--seed S] [--io libc|deno] [--concurrency C] [--time-limit-ms MS] [--only
 * ID,ID...]` runs N cases (default 50,000) of the mode's generator (default `http`: malformed
 * requests against two apps; `websocket`: client frame sequences against apps/websocket.ts;
 * `proxy`: PROXY protocol headers, valid and damaged, before `GET /env` requests, against a
 * server that requires them from loopback (even case ids) and one that refuses them (odd ids),
 * C split between the two) with seed S (default `$LSBAWS_FUZZ_SEED`, else a random one; always
 * printed first), prints progress and then the summary to stdout, and exits 0 when the run found
 * nothing, 1 otherwise (2 on a usage error, such as a mode other than `http`, `websocket` or
 * `proxy`). It stops by itself at the time limit (default 15 minutes).
 */
import { formatSummary, runFuzz } from "./runner.ts";
import { formatWsSummary, runWsFuzz } from "./ws_runner.ts";
import { formatProxySummary, runProxyFuzz } from "./proxy_runner.ts";

const out = new TextEncoder();

function print(line: string): void {
  Deno.stdout.writeSync(out.encode(`${line}\n`));
}

/** Parsed command line of the fuzz CLI. */
export interface FuzzArgs {
  /** What is fuzzed: HTTP/1.1 requests, WebSocket frames or PROXY protocol headers. */
  mode: "http" | "websocket" | "proxy";
  /** Number of cases. */
  cases: number;
  /** Run seed. */
  seed: number;
  /** Socket backend. */
  io: "libc" | "deno";
  /** Concurrent connections. */
  concurrency: number;
  /** Overall time limit. */
  timeLimitMs: number;
  /** Case ids to run alone. */
  only?: number[];
}

/** Parses the CLI arguments (throws an Error with a usage message on bad input). */
export function parseFuzzArgs(args: readonly string[], env: Record<string, string>): FuzzArgs {
  const envSeed = env.LSBAWS_FUZZ_SEED;
  const parsed: FuzzArgs = {
    mode: "http",
    cases: 50_000,
    seed: envSeed ? Number(envSeed) : Math.floor(Math.random() * 2 ** 31),
    io: "libc",
    concurrency: 8,
    timeLimitMs: 15 * 60_000,
  };
  const int = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < 0) {
      throw new Error(`${flag} needs a non-negative integer`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--cases") parsed.cases = int(a, args[++i]);
    else if (a === "--seed") parsed.seed = int(a, args[++i]);
    else if (a === "--concurrency") parsed.concurrency = Math.max(1, int(a, args[++i]));
    else if (a === "--time-limit-ms") parsed.timeLimitMs = int(a, args[++i]);
    else if (a === "--only") {
      parsed.only = (args[++i] ?? "").split(",").map((s) => int(a, s));
    } else if (a === "--mode") {
      const v = args[++i];
      if (v !== "http" && v !== "websocket" && v !== "proxy") {
        throw new Error("--mode must be http, websocket or proxy");
      }
      parsed.mode = v;
    } else if (a === "--io") {
      const v = args[++i];
      if (v !== "libc" && v !== "deno") throw new Error("--io must be libc or deno");
      parsed.io = v;
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isSafeInteger(parsed.seed) || parsed.seed < 0) {
    throw new Error("LSBAWS_FUZZ_SEED must be a non-negative integer");
  }
  return parsed;
}

if (import.meta.main) {
  let args: FuzzArgs;
  try {
    args = parseFuzzArgs(Deno.args, Deno.env.toObject());
  } catch (err) {
    print(`fuzz: ${(err as Error).message}`);
    Deno.exit(2);
  }
  print(`fuzz: seed ${args.seed} (reproduce with --seed ${args.seed} or LSBAWS_FUZZ_SEED)`);
  if (args.mode === "websocket") {
    const summary = await runWsFuzz({ ...args, progress: print });
    print(formatWsSummary(summary));
    Deno.exit(summary.failures.length === 0 ? 0 : 1);
  }
  if (args.mode === "proxy") {
    const summary = await runProxyFuzz({ ...args, progress: print });
    print(formatProxySummary(summary));
    Deno.exit(summary.failures.length === 0 ? 0 : 1);
  }
  const summary = await runFuzz({ ...args, progress: print });
  print(formatSummary(summary));
  Deno.exit(summary.failures.length === 0 ? 0 : 1);
}

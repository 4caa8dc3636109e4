/**
 * What the HTTP fuzz (`tests/fuzz/generator.ts`, `runner.ts`) and the WebSocket fuzz
 * (`tests/fuzz/ws_generator.ts`, `ws_runner.ts`) share: seeded randomness for the generators, and
 * for the runners byte previews, a client connection and the campaign itself (server processes,
 * warm-up, worker pool, liveness checks, end-of-run checks, summary text).
 *
 * Contract:
 * - `caseSeed(seed, id)`, `Rng` (mulberry32) and the draws built on it (`pickWeighted`,
 *   `pickDelivery`) are deterministic: the same seed gives the same numbers, so a generator built
 *   on them depends only on (seed, id).
 * - `connectClient(port, onData)` opens a loopback connection and reads it in the background
 *   (unless `onData` is null), handing every chunk to `onData` and noticing the server's EOF or
 *   reset (`closed`, `closedAt`) until `finish()` closes the client side.
 * - `runCampaign(options, mode)` starts one `main.ts` process per `mode.apps` entry with `--io
 *   <io> -p 0`, warning logs, short timeouts (`SERVER_FLAGS`) and `mode.flags`; warms each up (20
 *   cases of seed `seed ^ 0x5eed`, then `mode.health` must pass, else it rejects), waits 300 ms
 *   and records its baseline `/proc/PID/fd` count; then plays cases `0..cases-1` (or `only`) of
 *   `mode.generate(seed, id)`, case `id` on server `id % apps.length`, with `concurrency`
 *   workers, each case bounded by `caseTimeoutMs`. Every `checkEvery` cases: the processes are
 *   alive (a dead one is a finding and stops the run) and, with `mode.probeEveryCheck`, healthy.
 *   The run stops by itself at `timeLimitMs` (cases not started are skipped and counted). At the
 *   end, per server: it has not exited, `mode.health` passes, the fd count returns to its
 *   baseline within `fdWaitMs`, and stderr has no "uncaught" / "panic" line and no ERROR or
 *   CRITICAL log line (the fuzz apps never fail, so such a line blames lsbaws). It never throws
 *   for a finding: it resolves with a `RunSummary` whose `failures` lists them, and stops every
 *   process it started before it settles.
 * - `formatRunSummary` lays out the lines both summaries share around a mode's own lines.
 */
import { mulberry32 } from "../server/http/_helpers.ts";
import { delay, type Proc, startLsbaws } from "../_support/proc.ts";

// ---- Seeded randomness and bytes (generators) --------------------------------------------------

/** Mixes the run seed and the case id into one 32-bit seed (murmur3's finalizer, twice). */
export function caseSeed(seed: number, id: number): number {
  const mix = (x: number) => {
    let h = x >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  };
  return mix(mix(seed) + Math.imul(id + 1, 0x9e3779b9));
}

/** A small PRNG wrapper (mulberry32) with the helpers the generators need. */
export class Rng {
  readonly #next: () => number;
  /** A stream seeded with `seed` (a case's own: `caseSeed(seed, id)`). */
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** Float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#next() < p;
  }
  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/**
 * The first entry of `entries` (name, weight, ...) whose cumulative weight exceeds one draw of
 * `r.int(total weight)`.
 */
export function pickWeighted<T extends readonly [string, number, ...unknown[]]>(
  r: Rng,
  entries: readonly T[],
): T {
  let roll = r.int(entries.reduce((n, e) => n + e[1], 0));
  for (const e of entries) {
    if (roll < e[1]) return e;
    roll -= e[1];
  }
  return entries[0];
}

/**
 * How a case's `length` bytes go out, drawn from `r`: byte by byte for short inputs (at most 400
 * bytes) with probability `bytewise`; else, with probability `split`, split at 1 to `maxCuts`
 * draws of `cut()` (those outside 1..length-1 dropped; none left: whole); else whole.
 */
export function pickDelivery(
  r: Rng,
  length: number,
  p: { readonly bytewise: number; readonly split: number; readonly maxCuts: number },
  cut: () => number,
): { delivery: "whole" | "split" | "bytewise"; cuts: number[] } {
  if (length > 1 && length <= 400 && r.chance(p.bytewise)) {
    return { delivery: "bytewise", cuts: [] };
  }
  if (length > 1 && r.chance(p.split)) {
    const set = new Set<number>();
    for (let n = r.range(1, p.maxCuts); n > 0; n--) {
      const at = cut();
      if (at > 0 && at < length) set.add(at);
    }
    const cuts = [...set].sort((a, b) => a - b);
    if (cuts.length > 0) return { delivery: "split", cuts };
  }
  return { delivery: "whole", cuts: [] };
}

/** The pieces a delivery sends `bytes` in: all at once, cut at `cuts`, or one byte each. */
export function deliveryParts(
  bytes: Uint8Array,
  delivery: "whole" | "split" | "bytewise",
  cuts: readonly number[],
): Uint8Array[] {
  if (delivery === "whole") return [bytes];
  const parts: Uint8Array[] = [];
  if (delivery === "split") {
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      parts.push(bytes.subarray(at, cut));
      at = cut;
    }
  } else for (let i = 0; i < bytes.length; i++) parts.push(bytes.subarray(i, i + 1));
  return parts;
}

/**
 * Sends `parts` in order with a pause between them (1 ms between single bytes, else 2 ms), until
 * the server closed or `deadline` (`Date.now()` ms) passed. Rejects if a write fails.
 */
export async function sendParts(
  client: ClientConn,
  parts: readonly Uint8Array[],
  deadline: number,
): Promise<void> {
  for (let i = 0; i < parts.length && !client.closed && Date.now() < deadline; i++) {
    await client.send(parts[i]);
    if (i + 1 < parts.length) await delay(parts[i].length === 1 ? 1 : 2);
  }
}

/** Bytes as a latin-1 string (one character per byte). */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** A short printable preview of bytes (JSON-escaped, cut at `max` characters). */
export function preview(text: string, max = 160): string {
  const t = text.length > max ? `${text.slice(0, max)}…(${text.length} bytes)` : text;
  return JSON.stringify(t);
}

// ---- The client connection ---------------------------------------------------------------------

/** A fuzz client's connection (see the module comment). */
export interface ClientConn {
  /** Whether the server closed (EOF or reset) before `finish()`. */
  readonly closed: boolean;
  /** When (`Date.now()`) the server closed; -1 while it has not. */
  readonly closedAt: number;
  /** Writes all of `b`. */
  send(b: Uint8Array): Promise<void>;
  /** Waits until `pred()` holds, the server closed or `until` passed, re-checking after each
   * chunk and at least every `sliceMs`. */
  waitUntil(pred: () => boolean, until: number, sliceMs?: number): Promise<void>;
  /** Half-closes the client side (errors ignored). */
  closeWrite(): Promise<void>;
  /** Closes the connection and waits for the reader to end. */
  finish(): Promise<void>;
}

class Client implements ClientConn {
  readonly #conn: Deno.TcpConn;
  #reading: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #done = false;
  #closedAt = -1;

  constructor(conn: Deno.TcpConn, onData: ((chunk: Uint8Array) => void) | null) {
    this.#conn = conn;
    if (onData !== null) this.#reading = this.#read(onData);
  }

  get closed(): boolean {
    return this.#closedAt >= 0;
  }

  get closedAt(): number {
    return this.#closedAt;
  }

  async #read(onData: (chunk: Uint8Array) => void): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        onData(buf.slice(0, n));
        this.#wake?.();
      }
    } catch {
      // A reset by the server ends the stream too.
    }
    if (!this.#done) this.#closedAt = Date.now();
    this.#wake?.();
  }

  async send(b: Uint8Array): Promise<void> {
    let off = 0;
    while (off < b.length) off += await this.#conn.write(b.subarray(off));
  }

  async waitUntil(pred: () => boolean, until: number, sliceMs = Infinity): Promise<void> {
    while (!pred() && !this.closed && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => resolve(), Math.max(1, Math.min(sliceMs, until - Date.now())));
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite().catch(() => {});
  }

  async finish(): Promise<void> {
    this.#done = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await this.#reading;
  }
}

/** Connects to 127.0.0.1:`port` (no delay) and reads in the background unless `onData` is null. */
export async function connectClient(
  port: number,
  onData: ((chunk: Uint8Array) => void) | null,
): Promise<ClientConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return new Client(conn, onData);
}

// ---- The campaign (runners) --------------------------------------------------------------------

/** Options of a fuzz run (`runFuzz`, `runWsFuzz`). */
export interface FuzzOptions {
  /** Number of cases. */
  readonly cases: number;
  /** Run seed (printed in every failure). */
  readonly seed: number;
  /** Socket backend of the spawned servers. */
  readonly io: "libc" | "deno";
  /** Concurrent client connections. */
  readonly concurrency?: number;
  /** Per-case limit in ms. */
  readonly caseTimeoutMs?: number;
  /** Overall limit in ms. */
  readonly timeLimitMs?: number;
  /** How long the fd count may take to return to its baseline. */
  readonly fdWaitMs?: number;
  /** Check the processes (alive; healthy with `probeEveryCheck`) every this many cases. */
  readonly checkEvery?: number;
  /** Run only these case ids (reproduction). */
  readonly only?: readonly number[];
  /** Called with progress lines (the CLI prints them; tests ignore them). */
  readonly progress?: (line: string) => void;
}

/** One finding. */
export interface Failure {
  /** Case id (-1 for process-level and end-of-run checks). */
  readonly id: number;
  /** The case's label (mutation, base, transport), or the process / check concerned. */
  readonly what: string;
  /** What went wrong. */
  readonly message: string;
}

/** Baseline and final fd counts of one server (`end` -1: the process had exited). */
export interface FdRecord {
  /** The app spec served. */
  readonly app: string;
  /** After the warm-up. */
  readonly baseline: number;
  /** After the run (once settled within `fdWaitMs`). */
  readonly end: number;
}

/** What every fuzz run reports (each mode adds its own tallies). */
export interface RunSummary {
  /** Run seed. */
  readonly seed: number;
  /** Socket backend. */
  readonly io: string;
  /** Cases run. */
  readonly cases: number;
  /** Cases not started because the time limit passed or a server died. */
  readonly skipped: number;
  /** Cases that reached the per-case limit while the client waited. */
  readonly caseTimeouts: number;
  /** Cases by kind (the mutation, or the first one). */
  readonly kinds: Record<string, number>;
  /** Cases with a known verdict that was checked. */
  readonly verdictsChecked: number;
  /** Baseline and final fd counts, per server. */
  readonly fds: readonly FdRecord[];
  /** Wall time in ms. */
  readonly durationMs: number;
  /** Findings (empty when the run is clean). */
  readonly failures: Failure[];
}

/** What a case must carry for `runCampaign`. */
export interface CampaignCase {
  /** The summary groups cases by it. */
  readonly kind: string;
  /** Everything the client sends (shown in failure lines). */
  readonly bytes: Uint8Array;
}

/** What a fuzz mode plugs into `runCampaign`: its apps, flags, generator, client and oracle. */
export interface FuzzMode<C extends CampaignCase, O extends { readonly timedOut: boolean }> {
  /** App specs served, one process each. */
  readonly apps: readonly string[];
  /** Server flags after `SERVER_FLAGS`. */
  readonly flags: readonly string[];
  /** Whether the periodic checks also run `health` (the end of the run always does). */
  readonly probeEveryCheck: boolean;
  /** Builds case `id` of the run seeded with `seed`. */
  generate(seed: number, id: number): C;
  /** Called once per case before it is played (for the mode's own tallies). */
  started?(c: C): void;
  /** The case's label in failure lines. */
  label(c: C, app: string): string;
  /** Plays one case on a fresh connection (may reject on a client error). */
  play(port: number, c: C, timeoutMs: number): Promise<O>;
  /** The oracle (and the mode's own tallies): problems, and whether a known verdict was checked. */
  judge(c: C, o: O): { problems: string[]; checked: boolean };
  /** What the client received, as latin-1 text for failure lines. */
  received(o: O): string;
  /** A health check on a fresh connection: what is wrong, or null when healthy. */
  health(port: number): Promise<string | null>;
}

/** Server flags every fuzz run uses (after `--io <io> -p 0`): quiet logs, short timeouts. */
const SERVER_FLAGS: readonly string[] = [
  "--log-level",
  "warning",
  "--keep-alive-timeout-ms",
  "2000",
  "--headers-timeout-ms",
  "3000",
  "--shutdown-grace-ms",
  "1000",
];

const STDERR_BAD = /uncaught|panic|\[(?:ERROR|CRITICAL)\]/i;

/** `/proc/PID/fd` entry count, or -1 when the process is gone. */
function fdCount(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return -1;
  }
}

/** Waits until `pid`'s fd count is at most `target`; returns the last count. */
async function settleFds(pid: number, target: number, waitMs: number): Promise<number> {
  const end = Date.now() + waitMs;
  let n = fdCount(pid);
  while (n > target && Date.now() < end) {
    await delay(50);
    n = fdCount(pid);
  }
  return n;
}

async function isExited(p: Proc): Promise<boolean> {
  return await Promise.race([p.status.then(() => true), delay(0).then(() => false)]);
}

interface Server {
  readonly app: string;
  readonly proc: Proc;
  readonly port: number;
  baseline: number;
}

async function startServer(app: string, io: string, flags: readonly string[]): Promise<Server> {
  const args = ["--io", io, "-p", "0", ...SERVER_FLAGS, ...flags, app];
  const proc = await startLsbaws(args, { env: { LSBAWS_IO: io } });
  return { app, proc, port: proc.port(), baseline: -1 };
}

/** The end-of-run checks of one server; pushes its findings and returns its fd record. */
async function endChecks<C extends CampaignCase, O extends { readonly timedOut: boolean }>(
  s: Server,
  mode: FuzzMode<C, O>,
  fdWaitMs: number,
  failures: Failure[],
): Promise<FdRecord> {
  let end = -1;
  if (await isExited(s.proc)) {
    const st = await s.proc.status;
    const how = st.signal ? `signal ${st.signal}` : `code ${st.code}`;
    const tail = s.proc.err.slice(-15).join("\n");
    failures.push({
      id: -1,
      what: s.app,
      message: `process exited during the run (${how}); last stderr lines:\n${tail}`,
    });
  } else {
    const problem = await mode.health(s.port);
    if (problem !== null) {
      failures.push({ id: -1, what: s.app, message: `${problem} after the run` });
    }
    end = await settleFds(s.proc.pid, s.baseline, fdWaitMs);
    if (end > s.baseline) {
      failures.push({
        id: -1,
        what: s.app,
        message: `fd count ${end} still above the baseline ${s.baseline} after ${fdWaitMs} ms`,
      });
    }
  }
  const bad = s.proc.err.filter((l) => STDERR_BAD.test(l));
  if (bad.length > 0) {
    failures.push({ id: -1, what: s.app, message: `stderr: ${bad.slice(0, 5).join("\n")}` });
  }
  return { app: s.app, baseline: s.baseline, end };
}

/** Runs a fuzz campaign of `mode`; see the module comment. */
export async function runCampaign<C extends CampaignCase, O extends { readonly timedOut: boolean }>(
  opts: FuzzOptions,
  mode: FuzzMode<C, O>,
): Promise<RunSummary> {
  const t0 = Date.now();
  const concurrency = opts.concurrency ?? 8;
  const caseTimeoutMs = opts.caseTimeoutMs ?? 4000;
  const timeLimitMs = opts.timeLimitMs ?? 60_000;
  const checkEvery = opts.checkEvery ?? 250;
  const fdWaitMs = opts.fdWaitMs ?? 10_000;
  const say = opts.progress ?? (() => {});
  const failures: Failure[] = [];
  const kinds: Record<string, number> = {};
  let caseTimeouts = 0;
  let verdictsChecked = 0;
  let ran = 0;
  const servers: Server[] = [];
  try {
    for (const app of mode.apps) servers.push(await startServer(app, opts.io, mode.flags));
    // Warm-up: a few cases of each shape so lazily opened descriptors exist before counting.
    for (const s of servers) {
      for (let i = 0; i < 20; i++) {
        await mode.play(s.port, mode.generate(opts.seed ^ 0x5eed, i), caseTimeoutMs)
          .catch(() => {});
      }
      const problem = await mode.health(s.port);
      if (problem !== null) throw new Error(`${s.app}: ${problem} during warm-up`);
      await delay(300);
      s.baseline = fdCount(s.proc.pid);
      say(`${s.app}: pid ${s.proc.pid}, port ${s.port}, baseline fds ${s.baseline}`);
    }
    const ids = opts.only ? [...opts.only] : Array.from({ length: opts.cases }, (_, i) => i);
    let next = 0;
    let stop = false;
    const dead = new Set<Server>();
    const check = async (id: number) => {
      for (const s of servers) {
        if (!dead.has(s) && (fdCount(s.proc.pid) < 0 || await isExited(s.proc))) {
          dead.add(s);
          const message = `${s.app} (pid ${s.proc.pid}) died by case ${id}`;
          failures.push({ id: -1, what: "process", message });
          stop = true;
        }
      }
      if (dead.size > 0 || !mode.probeEveryCheck) return;
      for (const s of servers) {
        const problem = await mode.health(s.port);
        if (problem !== null) {
          failures.push({ id: -1, what: s.app, message: `${problem} after case ${id}` });
        }
      }
    };
    const worker = async () => {
      while (!stop) {
        if (Date.now() - t0 > timeLimitMs) {
          stop = true;
          break;
        }
        const k = next++;
        if (k >= ids.length) break;
        const id = ids[k];
        const c = mode.generate(opts.seed, id);
        const srv = servers[id % servers.length];
        kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
        mode.started?.(c);
        const what = mode.label(c, srv.app);
        let o: O;
        try {
          o = await mode.play(srv.port, c, caseTimeoutMs);
        } catch (err) {
          failures.push({ id, what, message: `client error: ${(err as Error).message}` });
          ran++;
          continue;
        }
        ran++;
        const { problems, checked } = mode.judge(c, o);
        if (o.timedOut) caseTimeouts++;
        if (checked) verdictsChecked++;
        for (const p of problems) {
          const sent = preview(latin1(c.bytes));
          const got = preview(mode.received(o));
          failures.push({ id, what, message: `${p}\n    sent: ${sent}\n    got: ${got}` });
        }
        if (ran % checkEvery === 0) {
          say(`${ran} cases, ${failures.length} failures, ${Date.now() - t0} ms`);
          await check(id);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const fds: FdRecord[] = [];
    for (const s of servers) fds.push(await endChecks(s, mode, fdWaitMs, failures));
    return {
      seed: opts.seed,
      io: opts.io,
      cases: ran,
      skipped: ids.length - ran,
      caseTimeouts,
      kinds,
      verdictsChecked,
      fds,
      durationMs: Date.now() - t0,
      failures,
    };
  } finally {
    for (const s of servers) await s.proc.stop();
  }
}

/**
 * A summary as text lines: the title line, the mode's own `lines`, then kinds, fds and failures
 * (process-level ones first, at most 20) and the command that reproduces the run (`deno task fuzz`
 * with `taskArgs`, then `--io`, `--seed` and `--cases`; and the first failing case alone).
 */
export function formatRunSummary(
  s: RunSummary,
  title: string,
  taskArgs: readonly string[],
  lines: readonly string[],
): string {
  const task = ["deno task fuzz", ...taskArgs].join(" ");
  const first = s.failures.find((f) => f.id >= 0);
  return [
    `${title} seed=${s.seed} io=${s.io}: ${s.cases} cases in ${s.durationMs} ms` +
    (s.skipped > 0 ? ` (${s.skipped} skipped at the time limit)` : ""),
    ...lines,
    `  kinds: ${Object.entries(s.kinds).map(([k, v]) => `${k}:${v}`).join(" ")}`,
    ...s.fds.map((f) => `  fds ${f.app}: baseline ${f.baseline}, end ${f.end}`),
    `  failures: ${s.failures.length}`,
    // Process-level failures (id -1: a dead process, leaked fds, stderr) first: they explain the rest.
    ...[...s.failures.filter((f) => f.id < 0), ...s.failures.filter((f) => f.id >= 0)]
      .slice(0, 20).map((f) => `  #${f.id} ${f.what}\n    ${f.message}`),
    ...(s.failures.length > 20 ? [`  ... ${s.failures.length - 20} more`] : []),
    `  reproduce: ${task} --io ${s.io} --seed ${s.seed} --cases ${s.cases}` +
    (first ? ` (one case: --only ${first.id})` : ""),
  ].join("\n");
}

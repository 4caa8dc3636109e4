/**
 * The fuzz runner: spawns lsbaws as real processes, plays generated cases against them over
 * several concurrent loopback connections, and checks the oracles after each case and at the end.
 *
 * Contract:
 * - `runFuzz(options)` starts one `main.ts` process per app style (`tests/fuzz/apps.ts:gateway`
 *   and `:fetchApp`) with `--io <io> -p 0` and short timeouts, warms each up, records its
 *   baseline `/proc/PID/fd` count, then runs cases `0..cases-1` of `generateCase(seed, id)`
 *   (case `id` on server `id % 2`) with `concurrency` workers. It never throws for a finding: it
 *   resolves with a `FuzzSummary` whose `failures` lists them (and rejects only when a server
 *   cannot start). Every process it started is stopped before it resolves.
 * - Per case (bounded by `caseTimeoutMs`): the bytes go out whole, split or byte by byte; the
 *   client then half-closes and reads until the server closes, closes at once, resets (a valid
 *   request first, then close without reading its response, so the kernel sends RST), or waits
 *   for the known responses. Whatever arrived must parse as HTTP/1.1 responses (`parseResponses`);
 *   a partial response is only allowed after a committed 2xx head (a streamed body cut short by a
 *   body error); every 4xx/5xx (the apps only answer 200, so these come from lsbaws) must be the
 *   last response, carry `Connection: close`, and be followed by the close; and the case's known
 *   verdicts must hold: "ok" → 2xx, "reject" → 4xx/5xx (its exact status when given), each one
 *   answered when the client waited, and a first request's rejection also after a half-close
 *   (the engine reads a half-close as the client leaving, so a streamed 2xx may be abandoned).
 * - Every `checkEvery` cases and at the end: the processes are alive. At the end: `GET /` on a
 *   fresh connection answers 200, the fd count returns to its baseline within `fdWaitMs`, and
 *   stderr has no "uncaught" / "panic" line and no ERROR or CRITICAL log line (the apps never
 *   fail, so such a line blames lsbaws). The run stops by itself at `timeLimitMs` (cases not
 *   started are skipped and counted) or when a server died.
 */
import { type ParsedResponse, parseResponses } from "../_support/raw_client.ts";
import { delay, type Proc, startLsbaws } from "../_support/proc.ts";
import { type FuzzCase, generateCase, type Verdict } from "./generator.ts";

/** Options for `runFuzz`. */
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
  /** Check the processes every this many cases. */
  readonly checkEvery?: number;
  /** Run only these case ids (reproduction). */
  readonly only?: readonly number[];
  /** Called with progress lines (the CLI prints them; tests ignore them). */
  readonly progress?: (line: string) => void;
}

/** One finding. */
export interface Failure {
  /** Case id (-1 for end-of-run checks). */
  readonly id: number;
  /** Mutation kind and base. */
  readonly what: string;
  /** What went wrong. */
  readonly message: string;
}

/** The outcome of a run. */
export interface FuzzSummary {
  /** Run seed. */
  readonly seed: number;
  /** Socket backend. */
  readonly io: string;
  /** Cases run. */
  readonly cases: number;
  /** Cases not started because the time limit passed or a server died. */
  readonly skipped: number;
  /** Final responses seen, by status. */
  readonly statuses: Record<string, number>;
  /** Cases where the server closed without any response. */
  readonly closedWithoutResponse: number;
  /** Cases that reached the per-case limit (the client then closed). */
  readonly caseTimeouts: number;
  /** Cases by mutation kind. */
  readonly kinds: Record<string, number>;
  /** Cases with a known verdict that was checked. */
  readonly verdictsChecked: number;
  /** Baseline and final fd counts, per server. */
  readonly fds: ReadonlyArray<{ app: string; baseline: number; end: number }>;
  /** Wall time in ms. */
  readonly durationMs: number;
  /** Findings (empty when the run is clean). */
  readonly failures: Failure[];
}

/** The app specs served, one process each. */
export const FUZZ_APPS = ["tests/fuzz/apps.ts:gateway", "tests/fuzz/apps.ts:fetchApp"] as const;

const RESET_PREFIX = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: fuzz\r\n\r\n");
const HEALTH = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n",
);
const STDERR_BAD = /uncaught|panic|\[(?:ERROR|CRITICAL)\]/i;

/** `/proc/PID/fd` entry count, or -1 when the process is gone. */
export function fdCount(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return -1;
  }
}

function latin1(b: Uint8Array): string {
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

/** What a client saw for one case. */
export interface CaseOutcome {
  /** Everything received (latin-1). */
  readonly text: string;
  /** Whether the server closed (EOF or reset) before the client did. */
  readonly closed: boolean;
  /** Whether the case reached its time limit while waiting. */
  readonly timedOut: boolean;
}

/** Plays one case on a fresh connection; see the module comment. */
async function play(port: number, c: FuzzCase, timeoutMs: number): Promise<CaseOutcome> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const chunks: Uint8Array[] = [];
  let closed = false;
  let done = false;
  const waker: { wake: (() => void) | null } = { wake: null };
  const reading = c.ending === "reset" ? null : (async () => {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
        waker.wake?.();
      }
    } catch {
      // A reset by the server ends the stream too.
    }
    if (!done) closed = true;
    waker.wake?.();
  })();
  const deadline = Date.now() + timeoutMs;
  const send = async (b: Uint8Array) => {
    let off = 0;
    while (off < b.length) off += await conn.write(b.subarray(off));
  };
  try {
    if (c.ending === "reset") await send(RESET_PREFIX);
    if (c.delivery === "whole") await send(c.bytes);
    else if (c.delivery === "split") {
      let at = 0;
      for (const cut of [...c.cuts, c.bytes.length]) {
        await send(c.bytes.subarray(at, cut));
        at = cut;
        if (at < c.bytes.length) await delay(2);
      }
    } else {
      for (let i = 0; i < c.bytes.length && Date.now() < deadline && !closed; i++) {
        await send(c.bytes.subarray(i, i + 1));
        await delay(1);
      }
    }
  } catch {
    // The server may close or reset while the client still writes (after an early 4xx).
  }
  const waitUntil = async (pred: () => boolean, until: number) => {
    while (!pred() && !closed && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => resolve(), Math.max(1, until - Date.now()));
        waker.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      waker.wake = null;
    }
  };
  let timedOut = false;
  if (c.ending === "halfclose") {
    await conn.closeWrite().catch(() => {});
    await waitUntil(() => false, deadline);
    timedOut = !closed;
  } else if (c.ending === "wait") {
    const want = c.expect.length;
    const count = () => {
      try {
        return parseResponses(latin1(concatChunks(chunks))).responses.length;
      } catch {
        return Infinity;
      }
    };
    if (want > 0) await waitUntil(() => count() >= want, deadline);
    // A short quiet period to catch bytes that should not come.
    await waitUntil(() => false, Math.min(deadline, Date.now() + 50));
    if (want > 0 && count() < want && !closed) timedOut = true;
  } else if (c.ending === "reset") {
    // Let the response to the prefix arrive unread: closing then sends RST.
    await delay(15);
  } else {
    await delay(1);
  }
  done = true;
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  await reading;
  return { text: latin1(concatChunks(chunks)), closed, timedOut };
}

function concatChunks(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function hasCloseToken(r: ParsedResponse): boolean {
  return r.headers.some(([n, v]) =>
    n === "connection" && v.split(",").some((t) => t.trim().toLowerCase() === "close")
  );
}

/** The oracle for one case: a list of problems (empty when it passed). */
export function judge(c: FuzzCase, o: CaseOutcome): { problems: string[]; statuses: number[] } {
  const problems: string[] = [];
  if (c.ending === "reset") return { problems, statuses: [] };
  let parsed;
  try {
    parsed = parseResponses(o.text, { eof: o.closed });
  } catch (err) {
    return {
      problems: [`malformed response bytes (${(err as Error).message}): ${preview(o.text)}`],
      statuses: [],
    };
  }
  const rs = parsed.responses;
  const statuses = rs.map((r) => r.status);
  for (const r of parsed.all) {
    if (r.version !== "1.1") problems.push(`response version ${r.version}`);
    if (r.status < 100 || r.status > 599) problems.push(`status ${r.status} out of range`);
  }
  if (parsed.partial !== "" && o.closed) {
    // Only a streamed 2xx whose body was cut short (a body error after the head was sent) may
    // end mid-response; anything else is a garbled stream.
    const head = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/.exec(parsed.partial);
    if (!head || head[1][0] !== "2") {
      problems.push(`incomplete response before close: ${preview(parsed.partial)}`);
    }
  }
  rs.forEach((r, i) => {
    if (r.status < 400) return;
    if (i !== rs.length - 1) problems.push(`response ${i} is ${r.status} but more followed`);
    if (!hasCloseToken(r)) problems.push(`${r.status} without Connection: close`);
    if (!o.closed && !o.timedOut && c.ending === "halfclose") {
      problems.push(`connection left open after ${r.status}`);
    }
  });
  // A client that keeps its side open is owed every answer. After a half-close only a first
  // request's rejection is: the engine reads the EOF as the client going away and aborts the
  // request's signal, so a handler that honours it (gateway rule BODY-9) may abandon a streamed
  // response, and the connection then just closes.
  const owed = (i: number, v: Verdict) =>
    c.ending === "wait" || (c.ending === "halfclose" && i === 0 && v.kind === "reject");
  c.expect.forEach((v, i) => {
    const r = rs[i];
    if (r === undefined) {
      if (owed(i, v)) problems.push(`request ${i} (${v.kind}) got no response`);
      return;
    }
    if (v.kind === "ok" && (r.status < 200 || r.status > 299)) {
      problems.push(`request ${i} is valid but got ${r.status}`);
    }
    if (v.kind === "reject") {
      if (r.status < 400) problems.push(`request ${i} is invalid but got ${r.status}`);
      else if (v.status !== undefined && r.status !== v.status) {
        problems.push(`request ${i} should get ${v.status}, got ${r.status}`);
      }
      if (rs.length > i + 1) problems.push(`responses after the rejected request ${i}`);
    }
  });
  if (o.timedOut && c.ending === "halfclose") {
    problems.push(`server did not close within the case limit after the client half-closed`);
  }
  return { problems, statuses };
}

/** One GET / on a fresh connection; resolves with the status (0 when none arrived). */
export async function probe(port: number, timeoutMs = 5000): Promise<number> {
  const o = await play(port, {
    id: -1,
    kind: "probe",
    base: "probe",
    bytes: HEALTH,
    delivery: "whole",
    cuts: [],
    ending: "halfclose",
    expect: [{ kind: "ok" }],
  }, timeoutMs).catch(() => null);
  if (o === null) return 0;
  try {
    return parseResponses(o.text, { eof: o.closed }).responses[0]?.status ?? 0;
  } catch {
    return 0;
  }
}

interface Server {
  readonly app: string;
  readonly proc: Proc;
  readonly port: number;
  baseline: number;
}

async function startServer(app: string, io: string): Promise<Server> {
  const proc = await startLsbaws([
    "--io",
    io,
    "-p",
    "0",
    "--log-level",
    "warning",
    "--keep-alive-timeout-ms",
    "2000",
    "--headers-timeout-ms",
    "3000",
    "--body-timeout-ms",
    "3000",
    "--shutdown-grace-ms",
    "1000",
    app,
  ], { env: { LSBAWS_IO: io } });
  return { app, proc, port: proc.port(), baseline: -1 };
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

/** Runs a fuzz campaign; see the module comment. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const t0 = Date.now();
  const concurrency = opts.concurrency ?? 8;
  const caseTimeoutMs = opts.caseTimeoutMs ?? 4000;
  const timeLimitMs = opts.timeLimitMs ?? 60_000;
  const checkEvery = opts.checkEvery ?? 250;
  const fdWaitMs = opts.fdWaitMs ?? 10_000;
  const say = opts.progress ?? (() => {});
  const failures: Failure[] = [];
  const statuses: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  let closedWithoutResponse = 0;
  let caseTimeouts = 0;
  let verdictsChecked = 0;
  let ran = 0;
  const servers: Server[] = [];
  try {
    for (const app of FUZZ_APPS) servers.push(await startServer(app, opts.io));
    // Warm-up: a few requests of each shape so lazily opened descriptors exist before counting.
    for (const s of servers) {
      for (let i = 0; i < 20; i++) {
        await play(s.port, generateCase(opts.seed ^ 0x5eed, i), caseTimeoutMs).catch(() => {});
      }
      const status = await probe(s.port);
      if (status !== 200) throw new Error(`${s.app} answered ${status} during warm-up`);
      await delay(300);
      s.baseline = fdCount(s.proc.pid);
      say(`${s.app}: pid ${s.proc.pid}, port ${s.port}, baseline fds ${s.baseline}`);
    }
    const ids = opts.only ? [...opts.only] : Array.from({ length: opts.cases }, (_, i) => i);
    let next = 0;
    let stop = false;
    let dead = "";
    const worker = async () => {
      while (!stop) {
        if (Date.now() - t0 > timeLimitMs) {
          stop = true;
          break;
        }
        const k = next++;
        if (k >= ids.length) break;
        const id = ids[k];
        const c = generateCase(opts.seed, id);
        const srv = servers[id % servers.length];
        kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
        const what = `${c.kind} ${c.base} [${c.delivery}/${c.ending}] on ${srv.app}`;
        let o: CaseOutcome;
        try {
          o = await play(srv.port, c, caseTimeoutMs);
        } catch (err) {
          failures.push({ id, what, message: `client error: ${(err as Error).message}` });
          ran++;
          continue;
        }
        ran++;
        const { problems, statuses: got } = judge(c, o);
        for (const s of got) statuses[s] = (statuses[s] ?? 0) + 1;
        if (c.ending !== "reset" && got.length === 0 && o.closed) closedWithoutResponse++;
        if (o.timedOut) caseTimeouts++;
        if (c.expect.length > 0 && c.ending !== "reset") verdictsChecked++;
        for (const p of problems) {
          failures.push({
            id,
            what,
            message: `${p}\n    sent: ${preview(latin1(c.bytes))}\n    got: ${preview(o.text)}`,
          });
        }
        if (ran % checkEvery === 0) {
          say(`${ran} cases, ${failures.length} failures, ${Date.now() - t0} ms`);
          for (const s of servers) {
            if (fdCount(s.proc.pid) < 0 || await isExited(s.proc)) {
              dead = `${s.app} (pid ${s.proc.pid}) died by case ${id}`;
              stop = true;
            }
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (dead) failures.push({ id: -1, what: "process", message: dead });
    const fds: Array<{ app: string; baseline: number; end: number }> = [];
    for (const s of servers) {
      if (await isExited(s.proc)) {
        const st = await s.proc.status;
        const how = st.signal ? `signal ${st.signal}` : `code ${st.code}`;
        const tail = s.proc.err.slice(-15).join("\n");
        failures.push({
          id: -1,
          what: s.app,
          message: `process exited during the run (${how}); last stderr lines:\n${tail}`,
        });
        fds.push({ app: s.app, baseline: s.baseline, end: -1 });
        continue;
      }
      const status = await probe(s.port);
      if (status !== 200) {
        failures.push({ id: -1, what: s.app, message: `GET / after the run answered ${status}` });
      }
      const end = await settleFds(s.proc.pid, s.baseline, fdWaitMs);
      fds.push({ app: s.app, baseline: s.baseline, end });
      if (end > s.baseline) {
        failures.push({
          id: -1,
          what: s.app,
          message: `fd count ${end} still above the baseline ${s.baseline} after ${fdWaitMs} ms`,
        });
      }
      const bad = s.proc.err.filter((l) => STDERR_BAD.test(l));
      if (bad.length > 0) {
        failures.push({ id: -1, what: s.app, message: `stderr: ${bad.slice(0, 5).join("\n")}` });
      }
    }
    return {
      seed: opts.seed,
      io: opts.io,
      cases: ran,
      skipped: ids.length - ran,
      statuses,
      closedWithoutResponse,
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

async function isExited(p: Proc): Promise<boolean> {
  const r = await Promise.race([p.status.then(() => true), delay(0).then(() => false)]);
  return r;
}

/** The summary as text lines (what `deno task fuzz` prints). */
export function formatSummary(s: FuzzSummary): string {
  const byStatus = Object.entries(s.statuses).sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `${k}:${v}`).join(" ");
  const lines = [
    `fuzz seed=${s.seed} io=${s.io}: ${s.cases} cases in ${s.durationMs} ms` +
    (s.skipped > 0 ? ` (${s.skipped} skipped at the time limit)` : ""),
    `  responses by status: ${byStatus || "none"}`,
    `  closed without a response: ${s.closedWithoutResponse}; case time-outs: ${s.caseTimeouts}; ` +
    `known verdicts checked: ${s.verdictsChecked}`,
    `  kinds: ${Object.entries(s.kinds).map(([k, v]) => `${k}:${v}`).join(" ")}`,
    ...s.fds.map((f) => `  fds ${f.app}: baseline ${f.baseline}, end ${f.end}`),
    `  failures: ${s.failures.length}`,
    // Process-level failures (id -1: a dead process, leaked fds, stderr) first: they explain the rest.
    ...[...s.failures.filter((f) => f.id < 0), ...s.failures.filter((f) => f.id >= 0)]
      .slice(0, 20).map((f) => `  #${f.id} ${f.what}\n    ${f.message}`),
    ...(s.failures.length > 20 ? [`  ... ${s.failures.length - 20} more`] : []),
    `  reproduce: deno task fuzz --io ${s.io} --seed ${s.seed} --cases ${s.cases}` +
    (s.failures.some((f) => f.id >= 0)
      ? ` (one case: --only ${s.failures.find((f) => f.id >= 0)!.id})`
      : ""),
  ];
  return lines.join("\n");
}

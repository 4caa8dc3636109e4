/**
 * The PROXY protocol fuzz runner: plays generated connection openings
 * (`tests/fuzz/proxy_generator.ts`) against two lsbaws processes serving the environ-reporting
 * fixture app (`tests/fixtures/apps/ops.ts:app`, whose `/env` answers REMOTE_ADDR and
 * REMOTE_PORT as JSON) and judges what came back. The campaign around the cases (processes,
 * warm-up, concurrent workers, liveness and end-of-run checks) is `runCampaign` of
 * `tests/fuzz/common.ts`.
 *
 * Contract:
 * - `runProxyFuzz(options)` runs two campaigns at once, because `FuzzMode` gives every process of a
 *   campaign the same flags and the two trust settings need different ones: "trusted"
 *   (`--proxy-protocol auto`, the default `--proxy-allow-ips`: loopback must send a header) plays
 *   the even case ids, "untrusted" (`--proxy-protocol auto --proxy-allow-ips 10.255.255.1`: a
 *   header from loopback is refused) the odd ones (the generator builds case `id` for that server),
 *   each with half the concurrency (at least 1), the same time limit and its own warm-up (whose
 *   cases of the other parity are played too, their outcome ignored). Its health check is
 *   `probeProxy`: `healthCase` on a fresh connection passes the oracle, after the warm-up, at every
 *   periodic check and at the end. The two summaries are merged into one `ProxyFuzzSummary` (the
 *   common one, its process-level failures and fd records labelled with the server, plus cases by
 *   expected verdict and final statuses seen); it never throws for a finding and rejects only
 *   when a server cannot start or fails its warm-up, after both campaigns settled (so every
 *   process it started is stopped).
 * - Per case (bounded by `caseTimeoutMs`): the bytes go out whole, split or byte by byte (stopping
 *   once the server closed); then the client half-closes and reads until the server closes,
 *   closes at once, resets (closes without reading, after 15 ms), or waits: for a refusal (of the
 *   header or of what follows it) or an unfinished header until the server closes, for served
 *   requests until their responses are in (then 50 ms more; until the close or the limit when a
 *   408 may still come), for a header alone until the server closes (at its keep-alive timeout,
 *   before the limit). A case timed out when it reached its limit while the client still waited
 *   for something it is owed; while a waiting client keeps an unfinished header or request open
 *   the limit may pass first (the server's 408 comes after `--headers-timeout-ms`, 3 s in a fuzz
 *   run), which is no finding.
 * - `judgeProxy(case, outcome)` is the oracle: what arrived parses as HTTP/1.1 responses, with no
 *   partial response before the server's close; every 4xx/5xx is the last response, carries
 *   `Connection: close` and is followed by the close when the client waited; and the case's
 *   verdict holds: "refused" → exactly that one status (owed after a half-close or a wait);
 *   "pending" → no response, or one 408 (or 400 when allowed), and the close after a half-close;
 *   "served" → its 200s in order (owed after a half-close or a wait), each JSON body naming `/env`
 *   and the expected REMOTE_ADDR/REMOTE_PORT (the socket's port where the header carried none: a
 *   decimal 1..65535, the same for every request of the connection), then only what its `after`
 *   allows, the close after a half-close, and no close within `EARLY_CLOSE_MS` while a keep-alive
 *   client waits; a header with no request after it is an idle connection: no response at all,
 *   and the close (at its keep-alive timeout) before the limit when the client waits. Each case
 *   has one verdict and no other is accepted. A reset is not judged.
 * - `formatProxySummary` is what `deno task fuzz --mode proxy` prints.
 */
import { type ParsedResponse, parseResponses } from "../_support/raw_client.ts";
import { delay } from "../_support/proc.ts";
import { concatBytes } from "../server/http/_helpers.ts";
import {
  connectClient,
  deliveryParts,
  formatRunSummary,
  latin1,
  preview,
  runCampaign,
  sendParts,
} from "./common.ts";
import type { Failure, FuzzMode, FuzzOptions, RunSummary } from "./common.ts";
import {
  type ClientAddr,
  generateProxyCase,
  healthCase,
  isExact,
  type ProxyCase,
  type ProxyServer,
  type ProxyVerdict,
  UNTRUSTED_ALLOW_IPS,
  verdictName,
} from "./proxy_generator.ts";

/** The outcome of a PROXY fuzz run. */
export interface ProxyFuzzSummary extends RunSummary {
  /** Cases by server and expected verdict ("trusted refused:400", ...). */
  readonly verdicts: Record<string, number>;
  /** Final responses seen, by status. */
  readonly statuses: Record<string, number>;
}

/** The app served: the gateway fixture whose `/env` reports the environ as JSON. */
export const PROXY_FUZZ_APP = "tests/fixtures/apps/ops.ts:app";

/** The flags of each server (after the common fuzz flags). */
export const PROXY_SERVER_FLAGS: Readonly<Record<ProxyServer, readonly string[]>> = {
  trusted: ["--proxy-protocol", "auto"],
  untrusted: ["--proxy-protocol", "auto", "--proxy-allow-ips", UNTRUSTED_ALLOW_IPS],
};

const SERVERS: readonly ProxyServer[] = ["trusted", "untrusted"];

/**
 * A keep-alive connection closed sooner than this after the requests went out was closed early
 * (a fuzz run's `--keep-alive-timeout-ms` is 2000).
 */
const EARLY_CLOSE_MS = 1000;

/** What a client saw for one case. */
export interface ProxyOutcome {
  /** Everything received (latin-1). */
  readonly text: string;
  /** Whether the server closed (EOF or reset) before the client did. */
  readonly closed: boolean;
  /** Whether the case reached its limit while the client waited for something owed. */
  readonly timedOut: boolean;
  /** Time from the end of sending to the server's close (-1: it did not close). */
  readonly closeMs: number;
}

/** How many complete responses `text` holds (Infinity when it does not parse). */
function countResponses(text: string): number {
  try {
    return parseResponses(text).responses.length;
  } catch {
    return Infinity;
  }
}

/** Plays one case on a fresh connection; see the module comment. */
export async function playProxy(
  port: number,
  c: ProxyCase,
  timeoutMs: number,
): Promise<ProxyOutcome> {
  const chunks: Uint8Array[] = [];
  const client = await connectClient(port, c.ending === "reset" ? null : (b) => chunks.push(b));
  const deadline = Date.now() + timeoutMs;
  const text = () => latin1(concatBytes(...chunks));
  try {
    await sendParts(client, deliveryParts(c.bytes, c.delivery, c.cuts), deadline);
  } catch {
    // The server may close or reset while the client still writes (after a refusal).
  }
  const sentAt = Date.now();
  let timedOut = false;
  const v = c.verdict;
  if (c.ending === "halfclose") {
    await client.closeWrite();
    await client.waitUntil(() => false, deadline);
    timedOut = !client.closed;
  } else if (c.ending === "wait") {
    if (v.kind === "served" && v.after !== "error") {
      const want = v.clients.length;
      if (want > 0) await client.waitUntil(() => countResponses(text()) >= want, deadline);
      timedOut = want > 0 && countResponses(text()) < want && !client.closed;
      if (v.after === "idle" && want > 0) {
        // A short quiet period to catch bytes that should not come.
        await client.waitUntil(() => false, Math.min(deadline, Date.now() + 50));
      } else {
        // A 408 may come for an unfinished request, or nothing; a header alone is owed the close.
        await client.waitUntil(() => false, deadline);
        if (v.after === "idle") timedOut = !client.closed;
      }
    } else {
      await client.waitUntil(() => false, deadline);
      timedOut = !client.closed && v.kind !== "pending";
    }
  } else if (c.ending === "reset") {
    // Let a response arrive unread: closing then sends RST.
    await delay(15);
  } else {
    await delay(1);
  }
  await client.finish();
  const closeMs = client.closed ? client.closedAt - sentAt : -1;
  return { text: text(), closed: client.closed, timedOut, closeMs };
}

function hasCloseToken(r: ParsedResponse): boolean {
  return r.headers.some(([n, v]) =>
    n === "connection" && v.split(",").some((t) => t.trim().toLowerCase() === "close")
  );
}

/** Checks a 200's JSON body against `want` (null: any of `others`); returns its socket port. */
function checkEnv(
  r: ParsedResponse,
  i: number,
  want: ClientAddr | null,
  others: readonly string[],
  problems: string[],
): string | null {
  if (r.status !== 200) {
    problems.push(`response ${i} is ${r.status}, expected 200`);
    return null;
  }
  let env: Record<string, unknown>;
  try {
    env = JSON.parse(r.body);
  } catch {
    problems.push(`response ${i} is not the /env JSON: ${preview(r.body, 80)}`);
    return null;
  }
  const addr = env.REMOTE_ADDR, port = env.REMOTE_PORT;
  if (env.PATH_INFO !== "/env") problems.push(`response ${i} has PATH_INFO ${env.PATH_INFO}`);
  if (typeof port !== "string" || !/^(?:0|[1-9][0-9]{0,4})$/.test(port) || Number(port) > 65535) {
    problems.push(`response ${i} has REMOTE_PORT ${JSON.stringify(port)}`);
    return null;
  }
  if (want === null) {
    if (!others.includes(String(addr))) {
      problems.push(`response ${i} has REMOTE_ADDR ${addr}, expected one of ${others.join(" ")}`);
    }
    return null;
  }
  if (addr !== want.addr) {
    problems.push(`response ${i} has REMOTE_ADDR ${addr}, expected ${want.addr}`);
  }
  if (want.port !== null && port !== String(want.port)) {
    problems.push(`response ${i} has REMOTE_PORT ${port}, expected ${want.port}`);
  }
  if (want.port === null && port === "0") {
    problems.push(`response ${i} has REMOTE_PORT 0, expected the socket's port`);
  }
  return want.port === null ? port : null;
}

/** Problems of `rs` against one verdict (the common checks are `judgeProxy`'s). */
function checkVerdict(
  c: ProxyCase,
  v: ProxyVerdict,
  rs: readonly ParsedResponse[],
  o: ProxyOutcome,
): string[] {
  const problems: string[] = [];
  const waited = c.ending === "halfclose" || c.ending === "wait";
  const late = o.timedOut ? " (the case timed out)" : "";
  if (v.kind === "refused") {
    if (rs.length === 0) {
      if (waited) problems.push(`expected ${v.status}, got no response${late}`);
    } else if (rs[0].status !== v.status) {
      problems.push(`expected ${v.status}, got ${rs[0].status}`);
    }
    if (rs.length > 1) problems.push(`${rs.length - 1} more responses after the refusal`);
    if (waited && !o.closed && rs.length > 0) problems.push("connection left open after a refusal");
    return problems;
  }
  if (v.kind === "pending") {
    const ok = (s: number) => s === 408 || (s === 400 && v.maybe400);
    if (rs.length > 0 && !ok(rs[0].status)) {
      problems.push(`an unfinished header got ${rs[0].status}`);
    }
    if (rs.length > 1) problems.push(`${rs.length} responses to an unfinished header`);
    if (c.ending === "halfclose" && !o.closed) {
      problems.push(`not closed after the client's half-close (unfinished header)${late}`);
    }
    return problems;
  }
  const n = v.clients.length;
  const ports = new Set<string>();
  for (let i = 0; i < Math.min(n, rs.length); i++) {
    const p = checkEnv(rs[i], i, v.clients[i], v.others, problems);
    if (p !== null) ports.add(p);
  }
  if (ports.size > 1) problems.push(`the socket's port differs between requests: ${[...ports]}`);
  if (rs.length < n && waited) problems.push(`only ${rs.length} of ${n} responses${late}`);
  const extra = rs.slice(n);
  if (v.after === "idle" || v.after === "partial") {
    // A 408 for the unfinished request only: an idle connection (a header alone included) is
    // closed silently.
    const may408 = v.after === "partial";
    if (extra.length > 0 && !(may408 && extra.length === 1 && extra[0].status === 408)) {
      problems.push(`unexpected response ${n} (${extra[0].status}) after the ${n} owed`);
    }
    if (v.after === "idle" && c.ending === "wait" && n === 0 && !o.closed) {
      problems.push(`an idle connection (a header alone) still open at the limit${late}`);
    }
    if (v.after === "idle" && c.ending === "wait" && n > 0 && extra.length === 0) {
      if (o.closed && o.closeMs < EARLY_CLOSE_MS) {
        problems.push(
          `the server closed a keep-alive connection ${o.closeMs} ms after the requests`,
        );
      }
    }
  } else if (v.after === "error") {
    if (extra.length === 0 && waited && rs.length >= n) {
      problems.push(`expected 400 for what followed the header, got nothing${late}`);
    }
    if (extra.length > 0 && extra[0].status !== 400) {
      problems.push(`expected 400 for what followed the header, got ${extra[0].status}`);
    }
    if (extra.length > 1) problems.push(`${extra.length - 1} responses after that 400`);
  } else {
    extra.forEach((r, k) => {
      if (r.status === 200) checkEnv(r, n + k, null, v.others, problems);
      else if (k !== extra.length - 1 || r.status < 400 || r.status === 403 || r.status === 500) {
        problems.push(`unexpected ${r.status} (response ${n + k}) for bytes after the header`);
      }
    });
  }
  if (c.ending === "halfclose" && !o.closed) {
    problems.push(`not closed after the client's half-close${late}`);
  }
  return problems;
}

/** The oracle for one case; see the module comment. */
export function judgeProxy(
  c: ProxyCase,
  o: ProxyOutcome,
): { problems: string[]; statuses: number[] } {
  const none = { problems: [], statuses: [] };
  if (c.ending === "reset") return none;
  let parsed;
  try {
    parsed = parseResponses(o.text, { eof: o.closed });
  } catch (err) {
    return {
      ...none,
      problems: [`malformed response bytes (${(err as Error).message}): ${preview(o.text)}`],
    };
  }
  const rs = parsed.responses;
  const statuses = rs.map((r) => r.status);
  const problems: string[] = [];
  for (const r of parsed.all) {
    if (r.version !== "1.1") problems.push(`response version ${r.version}`);
  }
  if (parsed.partial !== "" && o.closed) {
    problems.push(`incomplete response before close: ${preview(parsed.partial)}`);
  }
  const waited = c.ending === "halfclose" || c.ending === "wait";
  rs.forEach((r, i) => {
    if (r.status < 400) return;
    if (i !== rs.length - 1) problems.push(`response ${i} is ${r.status} but more followed`);
    if (!hasCloseToken(r)) problems.push(`${r.status} without Connection: close`);
    if (waited && !o.closed) problems.push(`connection left open after ${r.status}`);
  });
  return { problems: [...problems, ...checkVerdict(c, c.verdict, rs, o)], statuses };
}

/** `healthCase(server)` on a fresh connection; resolves with its problems (none: healthy). */
export async function probeProxy(
  port: number,
  server: ProxyServer,
  timeoutMs = 5000,
): Promise<string[]> {
  const c = healthCase(server);
  try {
    return judgeProxy(c, await playProxy(port, c, timeoutMs)).problems;
  } catch (err) {
    return [`client error: ${(err as Error).message}`];
  }
}

/** A case's kind, preamble, requests and transport, for failure lines. */
export function proxyCaseLabel(c: ProxyCase): string {
  const reqs = `${c.requests} GET${c.partial ? " + part" : ""}`;
  return `${c.kind}: ${c.desc}, ${reqs} [${c.server}/${c.delivery}/${c.ending}] expect ${
    verdictName(c.verdict)
  }`;
}

interface Tallies {
  verdicts: Record<string, number>;
  statuses: Record<string, number>;
}

/** The PROXY mode of `runCampaign` for one server, tallying into `t`. */
function proxyMode(server: ProxyServer, t: Tallies): FuzzMode<ProxyCase, ProxyOutcome> {
  return {
    apps: [PROXY_FUZZ_APP],
    flags: PROXY_SERVER_FLAGS[server],
    probeEveryCheck: true,
    generate: generateProxyCase,
    started: (c) => {
      const k = `${c.server} ${verdictName(c.verdict)}`;
      t.verdicts[k] = (t.verdicts[k] ?? 0) + 1;
    },
    label: (c, app) => `${proxyCaseLabel(c)} on ${app}`,
    play: playProxy,
    judge: (c, o) => {
      const { problems, statuses } = judgeProxy(c, o);
      for (const s of statuses) t.statuses[s] = (t.statuses[s] ?? 0) + 1;
      return { problems, checked: c.ending !== "reset" && isExact(c.verdict) };
    },
    received: (o) => o.text,
    health: async (port) => {
      const problems = await probeProxy(port, server);
      return problems.length === 0 ? null : `health check failed: ${problems.join("; ")}`;
    },
  };
}

/** Runs the two PROXY fuzz campaigns and merges them; see the module comment. */
export async function runProxyFuzz(opts: FuzzOptions): Promise<ProxyFuzzSummary> {
  const t0 = Date.now();
  const ids = opts.only ? [...opts.only] : Array.from({ length: opts.cases }, (_, i) => i);
  const concurrency = opts.concurrency ?? 8;
  const t: Tallies = { verdicts: {}, statuses: {} };
  const planned = SERVERS.map((server, k) => ({
    server,
    only: ids.filter((id) => id % 2 === k),
    concurrency: Math.max(1, k === 0 ? Math.ceil(concurrency / 2) : Math.floor(concurrency / 2)),
  })).filter((p) => p.only.length > 0);
  const settled = await Promise.allSettled(planned.map((p) =>
    runCampaign({
      ...opts,
      only: p.only,
      concurrency: p.concurrency,
      progress: (line) => opts.progress?.(`[${p.server}] ${line}`),
    }, proxyMode(p.server, t))
  ));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const runs = settled.map((s, k) => ({
    server: planned[k].server,
    s: (s as PromiseFulfilledResult<RunSummary>).value,
  }));
  const kinds: Record<string, number> = {};
  const failures: Failure[] = [];
  for (const { server, s } of runs) {
    for (const [k, n] of Object.entries(s.kinds)) kinds[k] = (kinds[k] ?? 0) + n;
    for (const f of s.failures) {
      failures.push(f.id < 0 ? { ...f, what: `${f.what} [${server}]` } : f);
    }
  }
  const sum = (f: (s: RunSummary) => number) => runs.reduce((n, r) => n + f(r.s), 0);
  return {
    seed: opts.seed,
    io: opts.io,
    cases: sum((s) => s.cases),
    skipped: sum((s) => s.skipped),
    caseTimeouts: sum((s) => s.caseTimeouts),
    kinds,
    verdictsChecked: sum((s) => s.verdictsChecked),
    fds: runs.flatMap(({ server, s }) => s.fds.map((f) => ({ ...f, app: `${f.app} [${server}]` }))),
    durationMs: Date.now() - t0,
    failures,
    ...t,
  };
}

/** The summary as text lines (what `deno task fuzz --mode proxy` prints). */
export function formatProxySummary(s: ProxyFuzzSummary): string {
  const list = (r: Record<string, number>) =>
    Object.entries(r).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}:${v}`)
      .join(" ") || "none";
  return formatRunSummary(s, "proxy fuzz", ["--mode", "proxy"], [
    `  expected verdicts: ${list(s.verdicts)}`,
    `  responses by status: ${list(s.statuses)}; exact verdicts checked: ${s.verdictsChecked}; ` +
    `case time-outs: ${s.caseTimeouts}`,
  ]);
}

/**
 * The HTTP fuzz runner: plays generated malformed and truncated requests
 * (`tests/fuzz/generator.ts`) against lsbaws processes and judges what came back. The campaign
 * around the cases (processes, warm-up, concurrent workers, liveness and end-of-run checks) is
 * `runCampaign` of `tests/fuzz/common.ts`.
 *
 * Contract:
 * - `runFuzz(options)` runs that campaign with one `main.ts` process per app style
 *   (`tests/fuzz/apps.ts:gateway` and `:fetchApp`; also `--body-timeout-ms 3000`) and the cases
 *   of `generateCase(seed, id)` (case `id` on server `id % 2`). Its health check is `probe`: `GET
 *   /` on a fresh connection answers 200 (after the warm-up and at the end; the periodic checks
 *   only see that the processes are alive). It never throws for a finding: it resolves with a
 *   `FuzzSummary` (the common one plus final responses by status and closes without a response)
 *   whose `failures` lists them, and rejects only when a server cannot start or fails its
 *   warm-up. Every process it started is stopped before it settles.
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
 * - `judge(case, outcome)` is that per-case oracle; `formatSummary` is what `deno task fuzz` prints.
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
import type { FuzzMode, FuzzOptions, RunSummary } from "./common.ts";
import { type FuzzCase, generateCase, type Verdict } from "./generator.ts";

/** The outcome of an HTTP fuzz run. */
export interface FuzzSummary extends RunSummary {
  /** Final responses seen, by status. */
  readonly statuses: Record<string, number>;
  /** Cases where the server closed without any response. */
  readonly closedWithoutResponse: number;
}

/** The app specs served, one process each. */
export const FUZZ_APPS = ["tests/fuzz/apps.ts:gateway", "tests/fuzz/apps.ts:fetchApp"] as const;

const RESET_PREFIX = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: fuzz\r\n\r\n");
const HEALTH = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n",
);

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
  const chunks: Uint8Array[] = [];
  const client = await connectClient(port, c.ending === "reset" ? null : (b) => chunks.push(b));
  const deadline = Date.now() + timeoutMs;
  try {
    if (c.ending === "reset") await client.send(RESET_PREFIX);
    await sendParts(client, deliveryParts(c.bytes, c.delivery, c.cuts), deadline);
  } catch {
    // The server may close or reset while the client still writes (after an early 4xx).
  }
  let timedOut = false;
  if (c.ending === "halfclose") {
    await client.closeWrite();
    await client.waitUntil(() => false, deadline);
    timedOut = !client.closed;
  } else if (c.ending === "wait") {
    const want = c.expect.length;
    const count = () => {
      try {
        return parseResponses(latin1(concatBytes(...chunks))).responses.length;
      } catch {
        return Infinity;
      }
    };
    if (want > 0) await client.waitUntil(() => count() >= want, deadline);
    // A short quiet period to catch bytes that should not come.
    await client.waitUntil(() => false, Math.min(deadline, Date.now() + 50));
    if (want > 0 && count() < want && !client.closed) timedOut = true;
  } else if (c.ending === "reset") {
    // Let the response to the prefix arrive unread: closing then sends RST.
    await delay(15);
  } else {
    await delay(1);
  }
  await client.finish();
  return { text: latin1(concatBytes(...chunks)), closed: client.closed, timedOut };
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

/** The HTTP mode of `runCampaign`, tallying statuses and responseless closes into `summary`. */
function httpMode(
  summary: { statuses: Record<string, number>; closedWithoutResponse: number },
): FuzzMode<FuzzCase, CaseOutcome> {
  return {
    apps: FUZZ_APPS,
    flags: ["--body-timeout-ms", "3000"],
    probeEveryCheck: false,
    generate: generateCase,
    label: (c, app) => `${c.kind} ${c.base} [${c.delivery}/${c.ending}] on ${app}`,
    play,
    judge: (c, o) => {
      const { problems, statuses: got } = judge(c, o);
      for (const s of got) summary.statuses[s] = (summary.statuses[s] ?? 0) + 1;
      if (c.ending !== "reset" && got.length === 0 && o.closed) summary.closedWithoutResponse++;
      return { problems, checked: c.expect.length > 0 && c.ending !== "reset" };
    },
    received: (o) => o.text,
    health: async (port) => {
      const status = await probe(port);
      return status === 200 ? null : `GET / answered ${status}`;
    },
  };
}

/** Runs an HTTP fuzz campaign; see the module comment. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const tallies = { statuses: {} as Record<string, number>, closedWithoutResponse: 0 };
  const summary = await runCampaign(opts, httpMode(tallies));
  return { ...summary, ...tallies };
}

/** The summary as text lines (what `deno task fuzz` prints). */
export function formatSummary(s: FuzzSummary): string {
  const byStatus = Object.entries(s.statuses).sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `${k}:${v}`).join(" ");
  return formatRunSummary(s, "fuzz", [], [
    `  responses by status: ${byStatus || "none"}`,
    `  closed without a response: ${s.closedWithoutResponse}; case time-outs: ${s.caseTimeouts}; ` +
    `known verdicts checked: ${s.verdictsChecked}`,
  ]);
}

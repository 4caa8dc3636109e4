/**
 * Server policy that is not protocol: the health path, the concurrency limit, static files and
 * the access log. It works on a dispatched request (`PolicyTarget`) and never touches a socket.
 *
 * Contract:
 * - `createGatekeeper(config, state, statics?)` returns a check run before the app for every
 *   request. It answers itself, and returns true, when:
 *   - more than `limitConcurrency` requests are in flight (`state.inflight` counts this one):
 *     `503` with `Retry-After: 1`, and the connection closes after the response (as uvicorn's
 *     `--limit-concurrency` does);
 *   - the path (query ignored) equals `healthPath`: `200 OK` while serving, `503` once graceful
 *     shutdown started (so a load balancer stops sending before the listener closes).
 *   - the path equals `metricsPath`: the Prometheus text (`scrapeMetrics`, `server/metrics.ts`)
 *     for GET and HEAD with `Content-Type: text/plain; version=0.0.4; charset=utf-8`, `405` for
 *     other methods. In a supervised worker the text comes from the supervisor, so the check then
 *     returns a promise that settles once it answered (`503` if no text came in time).
 *   Then, when `statics` (`--static`, `server/static/`) matches the request (a synchronous prefix
 *   check), it returns the promise of the static responder's answer: the engine awaits it like an
 *   async handler's, and the app never sees the request.
 *   Otherwise it returns false and the app runs. Every check costs one comparison when disabled,
 *   and a request for the app never creates a promise here.
 * - `accessRecordOf(...)` builds the access-log record of a finished exchange.
 */
import type { Config } from "./config.ts";
import type { Exchange } from "./exchange.ts";
import type { RequestHead } from "./http/request_head.ts";
import type { AccessRecord } from "./log.ts";
import type { StaticHandler } from "./static/mod.ts";
import { scrapeMetrics } from "./metrics.ts";

/** Shared, mutable server state the engine reads and updates. */
export interface ServerState {
  /** Set once graceful shutdown started: finish the current request, then close. */
  shuttingDown: boolean;
  /** Requests currently being handled by this process. */
  inflight: number;
  /** Requests handled since start. */
  requests: number;
}

/** A dispatched request, as the gatekeeper sees it: the app's `Exchange` and a little more. */
export interface PolicyTarget extends Exchange {
  /** Closes the connection once this response is written. */
  closeAfterResponse(): void;
}

/**
 * Answers a request before the app when policy says so: true when it answered, a promise when it
 * is answering asynchronously (settled once the response is finished), false to run the app.
 */
export type Gatekeeper = (t: PolicyTarget) => boolean | Promise<void>;

const OVERLOADED = new TextEncoder().encode("503 server is busy\r\n");
const HEALTH_OK = new TextEncoder().encode("OK\n");
const HEALTH_DOWN = new TextEncoder().encode("shutting down\n");
const OVERLOADED_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["content-type", "text/plain"],
  ["retry-after", "1"],
  ["content-length", String(OVERLOADED.length)],
];
const HEALTH_OK_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["content-type", "text/plain"],
  ["content-length", String(HEALTH_OK.length)],
];
const HEALTH_DOWN_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["content-type", "text/plain"],
  ["content-length", String(HEALTH_DOWN.length)],
];
const METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
const NOT_ALLOWED = new TextEncoder().encode("405 method not allowed\r\n");
const NOT_ALLOWED_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["content-type", "text/plain"],
  ["allow", "GET, HEAD"],
  ["content-length", String(NOT_ALLOWED.length)],
];
const UNAVAILABLE = new TextEncoder().encode("503 metrics unavailable\r\n");
const UNAVAILABLE_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["content-type", "text/plain"],
  ["retry-after", "1"],
  ["content-length", String(UNAVAILABLE.length)],
];

/** Builds the pre-app check for `config`; see the module comment. */
export function createGatekeeper(
  config: Pick<Config, "limitConcurrency" | "healthPath" | "metricsPath">,
  state: ServerState,
  statics: StaticHandler | null = null,
): Gatekeeper {
  const limit = config.limitConcurrency;
  const healthPath = config.healthPath;
  const metricsPath = config.metricsPath;
  return function gatekeeper(t: PolicyTarget): boolean | Promise<void> {
    const res = t.res;
    if (limit > 0 && state.inflight > limit) {
      t.closeAfterResponse();
      res.head(503, OVERLOADED_HEADERS);
      res.write(OVERLOADED);
      res.end();
      return true;
    }
    if (healthPath !== "" && pathOf(t.head.target) === healthPath) {
      const ok = !state.shuttingDown;
      res.head(ok ? 200 : 503, ok ? HEALTH_OK_HEADERS : HEALTH_DOWN_HEADERS);
      res.write(ok ? HEALTH_OK : HEALTH_DOWN);
      res.end();
      return true;
    }
    if (metricsPath !== "" && pathOf(t.head.target) === metricsPath) return serveMetrics(t);
    if (statics !== null && statics.match(t.head)) return statics.serve(t);
    return false;
  };
}

/** Answers a scrape of the metrics path; see the module comment. */
function serveMetrics(t: PolicyTarget): true | Promise<void> {
  const res = t.res;
  const method = t.head.method;
  if (method !== "GET" && method !== "HEAD") {
    res.head(405, NOT_ALLOWED_HEADERS);
    res.write(NOT_ALLOWED);
    res.end();
    return true;
  }
  const answer = (text: string) => {
    const body = new TextEncoder().encode(text);
    res.head(200, [
      ["content-type", METRICS_TYPE],
      ["cache-control", "no-store"],
      ["content-length", String(body.length)],
    ]);
    res.write(body);
    res.end();
  };
  const text = scrapeMetrics();
  if (typeof text === "string") {
    answer(text);
    return true;
  }
  return text.then(answer, () => {
    res.head(503, UNAVAILABLE_HEADERS);
    res.write(UNAVAILABLE);
    res.end();
  });
}

/** The value of the first `name` field of `head` (lowercase name), `""` when absent. */
export function headerOf(head: RequestHead, name: string): string {
  const h = head.headers;
  for (let i = 0; i < h.length; i++) if (h[i][0] === name) return h[i][1];
  return "";
}

/** The facts of one finished exchange the access log records. */
export interface ExchangeFacts {
  /** Client address (after trusted proxy headers). */
  readonly remote: string;
  /** The request head. */
  readonly head: RequestHead;
  /** Response status sent. */
  readonly status: number;
  /** Decoded request body bytes read. */
  readonly bytesIn: number;
  /** Response bytes queued (head included). */
  readonly bytesOut: number;
  /** Response body bytes queued. */
  readonly bodyBytes: number;
  /** Time taken, in ms. */
  readonly durationMs: number;
  /** The request id. */
  readonly requestId: string;
}

/** The access-log record of a finished exchange. */
export function accessRecordOf(f: ExchangeFacts): AccessRecord {
  const head = f.head;
  return {
    remote: f.remote,
    method: head.method,
    target: head.target,
    version: head.version,
    status: f.status,
    bytesIn: f.bytesIn,
    bytesOut: f.bytesOut,
    bodyBytes: f.bodyBytes,
    headers: head.headers,
    durationMs: f.durationMs,
    requestId: f.requestId,
    referer: headerOf(head, "referer"),
    userAgent: headerOf(head, "user-agent"),
    time: Date.now(),
  };
}

function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

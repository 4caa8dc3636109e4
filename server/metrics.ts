/**
 * lsbaws's Prometheus metrics: what is measured, the hooks that measure it, and the text a scrape
 * of `--metrics-path` returns.
 *
 * Contract:
 * - One registry per process (`METRICS`, `server/metrics_registry.ts`), defined completely at
 *   module load, so the supervisor and every worker share one slot layout (`layoutId`) and their
 *   arrays can be added up. Families tagged `SUPERVISOR_TAG` are produced by the supervisor and
 *   only appear when it runs (`-w N`).
 * - Nothing is measured until `enableMetrics()` (`serve` calls it when `--metrics-path` is set).
 *   Then each hook costs a few increments of pre-resolved slots; the per-request hook
 *   (`recordExchange`) maps the method to one of `METHODS` ("other" for anything else, bounding
 *   cardinality) and the status to its class with a switch and arithmetic: no label strings, no
 *   allocation. Gauges (in flight, open connections, open WebSockets, live workers) are read from
 *   collectors only when a snapshot or a scrape needs them.
 * - Hooks by layer: dispatch (`recordExchange`, `startTime`; protocol errors found in a request
 *   body), lifecycle (`watchServer`, `countConnection`, `watchWebSockets`), a socket driver (one
 *   call each: `countReceived` for bytes read, `countProtocolError` for a rejected request or a
 *   head timeout), WebSocket transport (`countWebSocketOpened`), supervisor (`countWorker*`).
 * - `setRequestHook(hook)` also hands each exchange's status and duration to `hook` (StatsD,
 *   `server/statsd.ts`), with or without `enableMetrics`; `liveWorkerCount()` reads the
 *   supervisor's live-workers source for it.
 * - `scrapeMetrics()` is what the gatekeeper answers: this process's text, or, in a supervised
 *   worker, the whole server's text from the installed source (`setMetricsSource`; see
 *   `server/process/metrics_link.ts` for how workers and the supervisor aggregate). `flushMetrics`
 *   runs the installed flush (a worker's last report) when a server stops.
 */
import { PROTOCOL_ERROR_STATUS } from "./http/errors.ts";
import { type Family, observe, Registry } from "./metrics_registry.ts";

/** Tag of the families only the supervisor produces. */
export const SUPERVISOR_TAG = "supervisor";

/** Request methods counted by name; every other method counts as "other". */
export const METHODS: readonly string[] =
  "GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE other".split(" ");

/** Status classes (the `status` label). */
export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/** Upper bounds (seconds) of the request duration histogram. */
export const DURATION_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Why a worker exited (the `reason` label of `lsbaws_worker_exits_total`). */
export type WorkerExitReason = "retired" | "crashed" | "timeout" | "boot_timeout" | "boot_failed";
const EXIT_REASONS: readonly WorkerExitReason[] = [
  "retired",
  "crashed",
  "timeout",
  "boot_timeout",
  "boot_failed",
];

/** The process's registry; see the module comment. */
export const METRICS: Registry = new Registry();
const R = METRICS;

const requests = R.counter(
  "lsbaws_http_requests_total",
  "HTTP requests answered, by method and status class.",
  ["method", "status"],
);
const METHOD_INDEX = new Map<string, number>(METHODS.map((m, i) => [m, i]));
const OTHER = METHODS.length - 1;
const REQUEST_SLOTS = new Int32Array(METHODS.length * STATUS_CLASSES.length);
for (let m = 0; m < METHODS.length; m++) {
  for (let c = 0; c < STATUS_CLASSES.length; c++) {
    REQUEST_SLOTS[m * STATUS_CLASSES.length + c] = requests.series(METHODS[m], STATUS_CLASSES[c]);
  }
}
/** The request duration histogram (exported for tests). */
export const DURATION: Family = R.histogram(
  "lsbaws_http_request_duration_seconds",
  "Time from a parsed request head to the end of its exchange, in seconds.",
  DURATION_BUCKETS,
);
const DURATION_SLOT = DURATION.series();
const INFLIGHT = R.gauge("lsbaws_http_requests_in_flight", "Requests being handled.").series();
const CONNECTIONS = R.counter("lsbaws_connections_total", "Client connections accepted.")
  .series();
const CONNECTIONS_OPEN = R.gauge("lsbaws_connections_open", "Client connections open.").series();
const RECEIVED = R.counter(
  "lsbaws_received_bytes_total",
  "Bytes read from client connections (request heads and bodies as sent).",
).series();
const BODY_BYTES = R.counter(
  "lsbaws_http_request_body_bytes_total",
  "Decoded request body bytes read (by the app, or drained).",
).series();
const RESPONSE_BYTES = R.counter(
  "lsbaws_http_response_bytes_total",
  "Response bytes queued for clients (heads and bodies, chunk framing included).",
).series();
const protocolErrors = R.counter(
  "lsbaws_http_protocol_errors_total",
  "Requests rejected for malformed bytes, an exceeded limit or a timeout, by response status.",
  ["code"],
);
const PROTOCOL_STATUSES = [...new Set(Object.values(PROTOCOL_ERROR_STATUS))].sort();
const PROTOCOL_SLOTS = new Map<number, number>(
  PROTOCOL_STATUSES.map((s) => [s, protocolErrors.series(String(s))]),
);
const PROTOCOL_OTHER = protocolErrors.series("other");
const WS_OPENED = R.counter("lsbaws_websocket_sessions_total", "WebSocket sessions opened.")
  .series();
const WS_OPEN = R.gauge("lsbaws_websocket_sessions_open", "WebSocket sessions open.").series();

const WORKERS = R.gauge("lsbaws_workers", "Worker processes running.", [], SUPERVISOR_TAG)
  .series();
const BOOTS = R.counter(
  "lsbaws_worker_boots_total",
  "Worker processes started.",
  [],
  SUPERVISOR_TAG,
)
  .series();
const exits = R.counter(
  "lsbaws_worker_exits_total",
  "Worker processes that exited, by reason.",
  ["reason"],
  SUPERVISOR_TAG,
);
const EXIT_SLOTS = new Map(EXIT_REASONS.map((r) => [r, exits.series(r)]));
const HEARTBEAT_KILLS = R.counter(
  "lsbaws_worker_heartbeat_kills_total",
  "Workers killed because their event loop was blocked longer than --timeout.",
  [],
  SUPERVISOR_TAG,
).series();
const RECYCLES = R.counter(
  "lsbaws_worker_recycles_total",
  "Workers replaced after serving --max-requests requests.",
  [],
  SUPERVISOR_TAG,
).series();

R.seal();
const V = R.values;

/**
 * Whether the engine hooks measure (set by `enableMetrics`). Module-private on purpose: an exported
 * binding is read through its module cell, which V8 does not constant-fold in inlined hot code.
 */
let metricsOn = false;

/** Starts measuring (idempotent). */
export function enableMetrics(): void {
  metricsOn = true;
}

/** Also called with each finished exchange's status and milliseconds (StatsD), or null. */
let requestHook: ((status: number, ms: number) => void) | null = null;

/** Hands every finished exchange to `hook` from now on, measuring even without `enableMetrics`. */
export function setRequestHook(hook: (status: number, ms: number) => void): void {
  requestHook = hook;
}

/** A start time for `recordExchange` (0 when not measuring). */
export function startTime(): number {
  return metricsOn || requestHook !== null ? performance.now() : 0;
}

/** Counts one finished exchange (hot path). `started` comes from `startTime()`. */
export function recordExchange(
  method: string,
  status: number,
  started: number,
  bodyBytes: number,
  responseBytes: number,
): void {
  if (!metricsOn) {
    if (requestHook !== null) requestHook(status, performance.now() - started);
    return;
  }
  const c = (status / 100) | 0;
  const ci = c >= 1 && c <= 5 ? c - 1 : 4;
  V[REQUEST_SLOTS[(METHOD_INDEX.get(method) ?? OTHER) * 5 + ci]]++;
  const ms = performance.now() - started;
  observe(V, DURATION_SLOT, DURATION_BUCKETS, ms / 1000);
  V[BODY_BYTES] += bodyBytes;
  V[RESPONSE_BYTES] += responseBytes;
  if (requestHook !== null) requestHook(status, ms);
}

/** Socket driver hook: `n` bytes were read from a client connection. */
export function countReceived(n: number): void {
  if (metricsOn) V[RECEIVED] += n;
}

/** Counts a request rejected with protocol error status `status` (400, 408, 413, 431, ...). */
export function countProtocolError(status: number): void {
  if (metricsOn) V[PROTOCOL_SLOTS.get(status) ?? PROTOCOL_OTHER]++;
}

/** Lifecycle hook: a client connection was accepted. */
export function countConnection(): void {
  if (metricsOn) V[CONNECTIONS]++;
}

/** WebSocket hook: a session was attached to its connection. */
export function countWebSocketOpened(): void {
  if (metricsOn) V[WS_OPENED]++;
}

/** What a running server reports for the gauges. */
export interface GaugeSource {
  /** Requests being handled. */
  inflight(): number;
  /** Open connections. */
  connections(): number;
}

const servers = new Set<GaugeSource>();
let liveSockets: () => number = () => 0;
let liveWorkers: (() => number) | null = null;
R.collect(INFLIGHT, () => sumOf((s) => s.inflight()));
R.collect(CONNECTIONS_OPEN, () => sumOf((s) => s.connections()));
R.collect(WS_OPEN, () => liveSockets());
R.collect(WORKERS, () => liveWorkers?.() ?? 0);

function sumOf(f: (s: GaugeSource) => number): number {
  let n = 0;
  for (const s of servers) n += f(s);
  return n;
}

/** Adds a server's gauges to the process's; returns the function that removes them. */
export function watchServer(source: GaugeSource): () => void {
  servers.add(source);
  return () => servers.delete(source);
}

/** Sets where the open-WebSockets gauge comes from. */
export function watchWebSockets(live: () => number): void {
  liveSockets = live;
}

/** Supervisor: sets where the live-workers gauge comes from. */
export function watchWorkers(live: () => number): void {
  liveWorkers = live;
}

/** Worker processes running, in a supervisor (null in any other process). */
export function liveWorkerCount(): number | null {
  return liveWorkers?.() ?? null;
}

/** Supervisor: a worker process was started. */
export function countWorkerBoot(): void {
  V[BOOTS]++;
}

/** Supervisor: a worker process exited for `reason`. */
export function countWorkerExit(reason: WorkerExitReason): void {
  V[EXIT_SLOTS.get(reason)!]++;
}

/** Supervisor: a worker was killed by the heartbeat check. */
export function countHeartbeatKill(): void {
  V[HEARTBEAT_KILLS]++;
}

/** Supervisor: a worker asked to be recycled (`--max-requests`). */
export function countRecycle(): void {
  V[RECYCLES]++;
}

let source: (() => Promise<string>) | null = null;
let flush: (() => void) | null = null;

/**
 * Installs where scrapes come from (a supervised worker: the supervisor's aggregate) and what
 * `flushMetrics` runs.
 */
export function setMetricsSource(scrape: () => Promise<string>, onFlush: () => void): void {
  source = scrape;
  flush = onFlush;
}

/** Runs the installed flush (a server stopped: report the final values). */
export function flushMetrics(): void {
  flush?.();
}

/** This process's metrics as exposition text (supervisor families left out). */
export function renderLocal(): string {
  R.refresh();
  return R.render(V, (f) => f.tag !== SUPERVISOR_TAG);
}

/** The text a scrape of `--metrics-path` returns; see the module comment. */
export function scrapeMetrics(): string | Promise<string> {
  return source !== null ? source() : renderLocal();
}

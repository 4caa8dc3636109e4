/**
 * Metrics with `-w N`: one scrape returns the totals of every worker, whichever worker the kernel
 * handed the scrape to.
 *
 * Contract:
 * - Every worker measures itself (`server/metrics.ts`). `linkWorkerMetrics` makes it report its
 *   values to the supervisor as `stats` control messages (`server/process/control.ts`) every
 *   `REPORT_MS` when they changed, right before it asks for a scrape, and once more when its
 *   server stops. A report holds the *absolute* value of every nonzero slot and of every gauge
 *   slot, as [slot, value] pairs split over messages that keep each control line under 512
 *   bytes. Being absolute, a part applied alone (or a lost one) never corrupts a total: the next
 *   report overwrites it.
 * - The supervisor's `MetricsAggregate` keeps the latest values of each live worker and the
 *   accumulated counters of every worker that exited. A scrape's counters are exited + Σ live;
 *   its gauges are Σ live (an exited worker's gauges drop out). A worker's counters only grow and
 *   its last values move to the exited total unchanged when it is reaped, so no counter ever goes
 *   backwards across restarts, recycles or crashes. The supervisor's own families (boots, exits,
 *   heartbeat kills, recycles, live workers) are added from its process (`SupervisorMetrics`).
 * - A scrape: the worker that received it sends a fresh report and `scrape {id}` on the same pipe,
 *   so the supervisor applies the report first; it renders the aggregate and writes
 *   `metrics <id> <JSON text>` to that worker's stdin. The worker answers 200 with the text, or
 *   503 when no answer came within `SCRAPE_TIMEOUT_MS`.
 * - Staleness: the scraping worker's numbers are exact; another live worker's are at most
 *   `REPORT_MS` (plus pipe latency) old. A worker that stopped gracefully reported its final
 *   values; one that was killed lost at most its last `REPORT_MS`.
 * - Reports carry the registry's `layoutId`; one with another layout (a worker started from
 *   changed code during a rolling restart) is ignored, and logged once.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import {
  countHeartbeatKill,
  countRecycle,
  countWorkerBoot,
  countWorkerExit,
  METRICS,
  setMetricsSource,
  watchWorkers,
  type WorkerExitReason,
} from "../metrics.ts";
import { type ControlMessage, encodeMetricsReply, parseMetricsReply } from "./control.ts";
import type { StopReason } from "./spawn.ts";

/** How often a worker reports its values (the staleness bound of a scrape). */
export const REPORT_MS = 1000;
/** How long a worker waits for the supervisor's answer to a scrape. */
export const SCRAPE_TIMEOUT_MS = 2000;
/** Most characters of [slot, value] pairs in one `stats` message (the line stays < 512 bytes). */
const PART_CHARS = 400;

type Stats = Extract<ControlMessage, { t: "stats" }>;
type Scrape = Extract<ControlMessage, { t: "scrape" }>;

/** Splits `values` into `stats` messages; see the module comment. */
export function encodeReport(
  values: Float64Array,
  gaugeSlots: ReadonlySet<number>,
  layout: number,
): Stats[] {
  const parts: Stats[] = [];
  let d: number[] = [];
  let chars = 0;
  for (let slot = 0; slot < values.length; slot++) {
    const v = values[slot];
    if (v === 0 && !gaugeSlots.has(slot)) continue;
    const n = String(slot).length + String(v).length + 2;
    if (chars + n > PART_CHARS && d.length > 0) {
      parts.push({ t: "stats", l: layout, d });
      d = [];
      chars = 0;
    }
    d.push(slot, v);
    chars += n;
  }
  if (d.length > 0 || parts.length === 0) parts.push({ t: "stats", l: layout, d });
  return parts;
}

/** The worker's end of the metrics link. */
export interface WorkerMetrics {
  /** Handles a supervisor command line; true if it was a metrics answer. */
  onCommand(line: string): boolean;
  /** Stops the report timer. */
  stop(): void;
}

/** Starts reporting and installs the supervisor as the scrape source; see the module comment. */
export function linkWorkerMetrics(send: (msg: ControlMessage) => void): WorkerMetrics {
  const gauges = new Set(METRICS.gaugeSlots);
  let last = "";
  const report = (force: boolean) => {
    METRICS.refresh();
    const parts = encodeReport(METRICS.values, gauges, METRICS.layoutId);
    const key = JSON.stringify(parts);
    if (!force && key === last) return;
    last = key;
    for (const p of parts) send(p);
  };
  const waiting = new Map<number, (text: string) => void>();
  let nextId = 1;
  const scrape = () => {
    report(true);
    const id = nextId++;
    const answer = Promise.withResolvers<string>();
    const timer = setTimeout(() => {
      waiting.delete(id);
      answer.reject(new Error("no metrics from the supervisor"));
    }, SCRAPE_TIMEOUT_MS);
    waiting.set(id, (text) => {
      clearTimeout(timer);
      waiting.delete(id);
      answer.resolve(text);
    });
    send({ t: "scrape", id });
    return answer.promise;
  };
  setMetricsSource(scrape, () => report(true));
  const timer = setInterval(() => report(false), REPORT_MS);
  Deno.unrefTimer(timer);
  return {
    onCommand(line) {
      const reply = parseMetricsReply(line);
      if (reply === null) return false;
      waiting.get(reply.id)?.(reply.text);
      return true;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/** The supervisor's sum of every worker's values; see the module comment. */
export class MetricsAggregate {
  readonly #log: Logger;
  readonly #exited = new Float64Array(METRICS.size);
  readonly #live = new Map<number, Float64Array>();
  readonly #gauges = new Set(METRICS.gaugeSlots);
  #warned = false;

  /** Creates an empty aggregate. */
  constructor(log: Logger) {
    this.#log = log;
  }

  /** Applies one `stats` message from live worker `id`. */
  report(id: number, msg: Stats): void {
    if (msg.l !== METRICS.layoutId) {
      if (!this.#warned) {
        this.#warned = true;
        this.#log.log("warning", `worker ${id} reports metrics of another layout; ignored`);
      }
      return;
    }
    let values = this.#live.get(id);
    if (values === undefined) this.#live.set(id, values = new Float64Array(METRICS.size));
    const d = msg.d;
    for (let i = 0; i + 1 < d.length; i += 2) {
      const slot = d[i];
      if (Number.isInteger(slot) && slot >= 0 && slot < values.length) values[slot] = d[i + 1];
    }
  }

  /** Worker `id` exited: its counters join the exited total, its gauges drop out. */
  exited(id: number): void {
    const values = this.#live.get(id);
    if (values === undefined) return;
    this.#live.delete(id);
    for (let slot = 0; slot < values.length; slot++) {
      if (!this.#gauges.has(slot)) this.#exited[slot] += values[slot];
    }
  }

  /** The totals (workers and this process) as exposition text. */
  render(): string {
    const total = this.#exited.slice();
    for (const values of this.#live.values()) {
      for (let slot = 0; slot < total.length; slot++) total[slot] += values[slot];
    }
    METRICS.refresh();
    const own = METRICS.values;
    for (let slot = 0; slot < total.length; slot++) total[slot] += own[slot];
    return METRICS.render(total);
  }

  /** The command line answering scrape `id`. */
  reply(id: number): string {
    return encodeMetricsReply(id, this.render());
  }
}

/** What the supervisor's metrics need to know of a worker. */
export interface WorkerFacts {
  /** Supervisor-assigned id. */
  readonly id: number;
  /** It sent `ready`. */
  readonly ready: boolean;
  /** It was told to stop (or killed). */
  readonly retiring: boolean;
  /** Why it is stopping (null while it serves). */
  readonly reason: null | StopReason;
}

/**
 * The supervisor's metrics: its own counters and, with `--metrics-path`, the aggregate and the
 * answers to scrapes (`tell` writes a command line to a worker).
 */
export class SupervisorMetrics<W extends WorkerFacts> {
  readonly #aggregate: MetricsAggregate | null;
  readonly #tell: (w: W, line: string) => void;

  /** Starts counting; `liveWorkers` feeds the `lsbaws_workers` gauge. */
  constructor(
    config: Pick<Config, "metricsPath">,
    log: Logger,
    liveWorkers: () => number,
    tell: (w: W, line: string) => void,
  ) {
    this.#aggregate = config.metricsPath !== "" ? new MetricsAggregate(log) : null;
    this.#tell = tell;
    watchWorkers(liveWorkers);
  }

  /** A worker was started. */
  booted(): void {
    countWorkerBoot();
  }

  /** A worker asked to be recycled. */
  recycled(): void {
    countRecycle();
  }

  /** A worker is being killed for `reason`. */
  killed(reason: StopReason): void {
    if (reason === "timeout") countHeartbeatKill();
  }

  /** A `stats` or `scrape` message from `w`; `live` is false once it was reaped. */
  message(w: W, msg: Stats | Scrape, live: boolean): void {
    const agg = this.#aggregate;
    if (agg === null) return;
    if (msg.t === "scrape") this.#tell(w, agg.reply(msg.id));
    else if (live) agg.report(w.id, msg);
  }

  /** `w` was reaped; `stopping` says the supervisor is stopping (or halting). */
  reaped(w: WorkerFacts, stopping: boolean): void {
    this.#aggregate?.exited(w.id);
    countWorkerExit(exitReason(w, stopping));
  }
}

/** Why a reaped worker exited, for `lsbaws_worker_exits_total`. */
export function exitReason(w: WorkerFacts, stopping: boolean): WorkerExitReason {
  if (w.reason === "timeout") return "timeout";
  if (w.reason === "boot-timeout") return "boot_timeout";
  if (w.retiring || stopping) return "retired";
  return w.ready ? "crashed" : "boot_failed";
}

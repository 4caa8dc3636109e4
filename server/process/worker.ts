/**
 * The worker's end of the supervisor link (the protocol is in `server/process/control.ts`).
 *
 * Contract:
 * - `connectWorker(id, env, config, opts)` is called by `main.ts` in a process started with
 *   `LSBAWS_WORKER`. It reads the inherited listening sockets (`LSBAWS_WORKER_FDS`, served
 *   instead of binding) or the resolved bind list, computes this worker's request budget
 *   (`--max-requests` plus a random 0..`--max-requests-jitter`), and returns a `WorkerLink`.
 * - `ready(addrs)` reports the bound addresses; `onRequestDone()` counts requests and sends one
 *   `recycle` message when the budget is spent (the supervisor starts a replacement, waits until
 *   it is ready, then stops this worker with SIGTERM, so the port never goes unserved).
 * - With `--metrics-path`, the worker reports its metrics and asks the supervisor for the
 *   aggregate on a scrape (`server/process/metrics_link.ts`); the supervisor's answers are taken
 *   out of the command stream before `onCommand` sees it.
 * - `watchSupervisor(onGone, onCommand)` reads command lines from stdin (`quiesce`) until EOF,
 *   which only happens when the supervisor died; the caller then shuts down gracefully.
 */
import type { Config } from "../config.ts";
import { bindSpecOf } from "../address.ts";
import { type ControlMessage, encodeControl, WORKER_BIND_ENV, WORKER_FDS_ENV } from "./control.ts";
import { decodeInherited, type InheritedSocket } from "../libc/inherit.ts";
import type { Logger, LogSink } from "../log.ts";
import { linkWorkerMetrics } from "./metrics_link.ts";

/** What `main.ts` needs to run as a supervised worker. */
export interface WorkerLink {
  /** The id the supervisor gave this worker. */
  readonly id: string;
  /** Concrete bind specs to listen on instead of the configured ones, or null. */
  readonly binds: string[] | null;
  /** Listening sockets inherited from the supervisor, served instead of binding, or null. */
  readonly inherited: InheritedSocket[] | null;
  /** Requests this worker serves before it asks to be recycled (0 = never). */
  readonly requestBudget: number;
  /** Sends one control message to the supervisor. */
  send(msg: ControlMessage): void;
  /** Reports that the worker listens on `addrs`. */
  ready(addrs: readonly Deno.Addr[]): void;
  /** Counts one finished request (the `onRequestDone` hook). */
  onRequestDone(): void;
  /** Hands each stdin command line to `onCommand`; calls `onGone` at EOF (supervisor died). */
  watchSupervisor(onGone: () => void, onCommand: (command: string) => void): void;
}

/** Options for `connectWorker`. */
export interface WorkerLinkOptions {
  /** Where control lines go: the process's stderr (shared with the error log). */
  readonly sink: LogSink;
  /** The error log. */
  readonly logger: Logger;
  /** Reads the supervisor pipe (default: `Deno.stdin`). */
  readonly stdin?: { read(p: Uint8Array): Promise<number | null> };
  /** Random source in [0, 1) for the jitter (default `Math.random`). */
  readonly random?: () => number;
}

/** Creates the worker side of the supervisor link; see the module comment. */
export function connectWorker(
  id: string,
  env: Record<string, string>,
  config: Config,
  opts: WorkerLinkOptions,
): WorkerLink {
  let binds: string[] | null = null;
  const raw = env[WORKER_BIND_ENV];
  if (raw) {
    const parsed = JSON.parse(raw);
    if (Array.isArray(parsed) && parsed.every((b) => typeof b === "string")) binds = parsed;
  }
  const random = opts.random ?? Math.random;
  const budget = config.maxRequests > 0
    ? config.maxRequests + Math.floor(random() * (config.maxRequestsJitter + 1))
    : 0;
  let served = 0;
  const send = (msg: ControlMessage) => {
    try {
      opts.sink.write(encodeControl(msg));
    } catch {
      // The supervisor is gone; watchSupervisor notices.
    }
  };
  const metrics = config.metricsPath !== "" ? linkWorkerMetrics(send) : null;
  return {
    id,
    binds,
    inherited: decodeInherited(env[WORKER_FDS_ENV]),
    requestBudget: budget,
    send,
    ready(addrs) {
      send({ t: "ready", addrs: addrs.map(bindSpecOf) });
    },
    onRequestDone() {
      if (++served === budget) {
        opts.logger.log(
          "info",
          `served ${served} requests (--max-requests); asking to be recycled`,
        );
        send({ t: "recycle", requests: served });
      }
    },
    watchSupervisor(onGone, onCommand) {
      const stdin = opts.stdin ?? Deno.stdin;
      const buf = new Uint8Array(4096);
      const decoder = new TextDecoder();
      (async () => {
        let pending = "";
        try {
          while (true) {
            const n = await stdin.read(buf);
            if (n === null) break;
            pending += decoder.decode(buf.subarray(0, n), { stream: true });
            let nl: number;
            while ((nl = pending.indexOf("\n")) >= 0) {
              const line = pending.slice(0, nl).trim();
              pending = pending.slice(nl + 1);
              if (line !== "" && !metrics?.onCommand(line)) onCommand(line);
            }
          }
        } catch {
          // A broken pipe means the same as EOF.
        }
        onGone();
      })();
    },
  };
}

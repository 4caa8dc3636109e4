/**
 * The supervisor (gunicorn's arbiter): starts N worker processes that share the port, keeps that
 * many running, and turns signals into rolling restarts, scaling and shutdowns. It never touches
 * HTTP; workers inherit its listening sockets (`opts.listeners`, `handover.ts`) or bind their own.
 *
 * Contract:
 * - Workers are started by `server/process/spawn.ts` (this same program again, with
 *   `LSBAWS_WORKER=<id>`); their stderr is split into forwarded log text and control messages by
 *   `server/process/forward.ts`.
 * - Boot: the first worker starts alone; once it is `ready`, its bound addresses (port 0 resolved
 *   to a real port) are handed to every later worker that binds its own (`handover.ts`) and the
 *   banner is printed once. Then the rest start. A worker is *booting* until its `ready` message.
 * - Reaping: every `Deno.ChildProcess.status` is awaited (no zombies); a worker that dies while
 *   serving is replaced at once (and logged).
 * - Boot failures: a worker that exits before it was ready with `EXIT_APP_LOAD_ERROR` (4) or
 *   `EXIT_BOOT_ERROR` (3), or any failure before the very first worker was ready, halts the
 *   supervisor with that code (`EXIT_BOOT_ERROR` for other codes); its error text has already
 *   been forwarded to stderr. Exception: while a rolling restart or a recycle is replacing
 *   workers that still serve, the replacement is abandoned and the old workers are kept (a broken
 *   deploy does not take a running site down). Other boot failures are retried with exponential
 *   backoff (`BOOT_BACKOFF_MS`, doubling up to `--boot-retry-max-ms`).
 * - Liveness (`--timeout S`): a worker whose last heartbeat is older than S seconds gets SIGKILL
 *   (the request its loop was stuck in is logged); so does one not ready in `--boot-timeout-ms`.
 * - `SIGNALS` maps each signal to one handler; signals are queued and handled by the main loop:
 *   - TERM, INT: graceful stop: every worker is retired (below), then the supervisor exits 0.
 *     With `--shutdown-delay-ms` the workers get SIGTERM at once instead: they keep accepting
 *     during the delay (health path 503) while a load balancer drains the instance. Stragglers
 *     get SIGKILL `--kill-margin-ms` after delay + grace. A second TERM/INT acts as QUIT.
 *   - QUIT: fast stop. Workers get SIGQUIT (close every connection now); SIGKILL after
 *     `--fast-stop-timeout-ms`. Exit 0.
 *   - HUP: the settings are read again (`opts.reread`, `reconfigure.ts`; unreadable ones restart
 *     nothing), then a rolling restart: a new generation of N workers starts (loading the app
 *     code afresh); once all are ready, the old one is retired as one batch, so at least N ready
 *     workers listen at every moment.
 *   - TTIN / TTOU: one worker more / less (never below 1); a removed worker drains gracefully.
 * - `--max-requests`: a worker that spent its budget sends `recycle`; it is replaced exactly like
 *   an old-generation worker during HUP.
 * - `--reload` (`opts.reloader`): each change notice starts a new generation like HUP (no boot
 *   backoff). A new worker that fails to load keeps the old ones serving; when none serves (a
 *   broken app at start), an app load error waits for the next change instead of halting.
 * - Metrics (boots, exits, kills, recycles; the workers' sum): `server/process/metrics_link.ts`.
 * - systemd (`opts.notify`, `notify.ts`): READY once the first worker is ready and when a
 *   restart settles (served or abandoned), RELOADING when one starts, STOPPING on TERM/INT/QUIT.
 * - Retiring a ready worker takes two phases. First it closes its listeners (`quiesce` on its
 *   stdin) while its connections carry on. When every worker of the batch answered `closed` (or
 *   after `--quiesce-timeout-ms`), they all get SIGTERM and drain within `--shutdown-grace-ms`
 *   (`Connection: close`). With SO_REUSEPORT a client told to reconnect by one retiring worker
 *   must not land in the queue of another whose listener is about to close (the kernel resets
 *   such connections). A booting worker is simply sent SIGTERM.
 */
import { boundsOf, type Config, EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR } from "../config.ts";
import { COMMAND_QUIESCE, type ControlMessage } from "./control.ts";
import { bannerLines, migrateReqHint, workerEnv } from "./handover.ts";
import type { Logger } from "../log.ts";
import { forwardTo, pumpStderr } from "./forward.ts";
import {
  bootingFirstThenOldest,
  overdue,
  signalWorker,
  spawnWorker,
  type StopReason,
  tellWorker,
  type WorkerCommand,
  workerCommand,
  type WorkerProc,
} from "./spawn.ts";
import { Wakeup } from "./wakeup.ts";
import { bootBackoffMs, rereadOnHup, scaleWorkers, supervisorTickMs } from "./reconfigure.ts";
import { NOTIFY_READY, NOTIFY_RELOADING, NOTIFY_STOPPING } from "./notify.ts";
import { SupervisorMetrics } from "./metrics_link.ts";
import type { Reloader, SupervisorDeps, SupervisorOptions } from "./supervisor_options.ts";
import { SIGNALS, type SupervisorSignal } from "./supervisor_options.ts";

/** Exit codes of a worker that halt the supervisor when it fails before it was ready. */
const HALT_EXIT_CODES: ReadonlySet<number> = new Set([EXIT_BOOT_ERROR, EXIT_APP_LOAD_ERROR]);
/** Most workers TTIN can reach (the `--workers` maximum). */
const MAX_WORKERS: number = boundsOf("workers").max;

/** Runs the supervisor until it stops; resolves to the exit code. */
export function runSupervisor(
  args: readonly string[],
  config: Config,
  opts: SupervisorOptions,
): Promise<number> {
  return new Arbiter(args, config, opts).run();
}

/** The supervisor's state machine; see the module comment. */
class Arbiter {
  #config: Config;
  readonly #reread: (() => Config) | null;
  readonly #notify: ((state: string) => void) | null;
  readonly #log: Logger;
  readonly #deps: SupervisorDeps;
  readonly #version: string;
  readonly #command: WorkerCommand;
  readonly #reloader: Reloader | null;
  readonly #listeners: SupervisorOptions["listeners"] | null;
  /** A change notice not handled yet, and the generation of the reload under way (0: none). */
  #reloadWhy: string | null = null;
  #reloadGen = 0;
  readonly #workers = new Map<number, WorkerProc>();
  #tickMs: number;
  #numWorkers: number;
  #nextId = 1;
  #generation = 1;
  #binds: string[] | null = null;
  #everReady = false;
  #stopping: null | "graceful" | "fast" = null;
  #halt: number | null = null;
  #bootFailures = 0;
  #spawnNotBefore = 0;
  #signalQueue: SupervisorSignal[] = [];
  readonly #wakeup = new Wakeup();
  readonly #metrics: SupervisorMetrics<WorkerProc>;

  /** One handler per signal (gunicorn's `handle_<sig>` methods). */
  readonly handlers: Readonly<Record<SupervisorSignal, () => void>> = {
    SIGHUP: () => this.#hup(),
    SIGTERM: () => this.#handleTerm("SIGTERM"),
    SIGINT: () => this.#handleTerm("SIGINT"),
    SIGQUIT: () => this.#handleQuit("SIGQUIT"),
    SIGTTIN: () => (this.#numWorkers = scaleWorkers(this.#numWorkers, 1, MAX_WORKERS, this.#log)),
    SIGTTOU: () => (this.#numWorkers = scaleWorkers(this.#numWorkers, -1, MAX_WORKERS, this.#log)),
  };

  constructor(args: readonly string[], config: Config, opts: SupervisorOptions) {
    this.#config = config;
    this.#log = opts.logger;
    this.#deps = opts.deps;
    this.#version = opts.version;
    this.#command = opts.command ?? workerCommand(args);
    this.#reloader = opts.reloader ?? null;
    this.#reread = opts.reread ?? null;
    this.#notify = opts.notify ?? null;
    this.#listeners = opts.listeners ?? null;
    this.#numWorkers = config.workers;
    this.#tickMs = supervisorTickMs(config);
    this.#metrics = new SupervisorMetrics(config, this.#log, () => this.#workers.size, tellWorker);
    opts.onView?.({
      workers: () => [...this.#workers.values()],
      target: () => this.#numWorkers,
      generation: () => this.#generation,
      started: () => this.#nextId - 1,
      listeners: () => this.#binds ?? [],
      config: () => this.#config,
      raise: (sig) => (this.#signalQueue.push(sig), this.#wakeup.wake()),
      retire: (w) => (this.#retire(w), this.#wakeup.wake()),
    });
  }

  async run(): Promise<number> {
    const removers = SIGNALS.map((sig) =>
      this.#deps.onSignal(sig, () => {
        this.#signalQueue.push(sig);
        this.#wakeup.wake();
      })
    );
    this.#log.log("info", `supervisor pid ${Deno.pid}: starting ${this.#numWorkers} worker(s)`);
    const hint = this.#listeners ? null : migrateReqHint();
    if (hint !== null) this.#log.log("info", hint);
    this.#reloader?.start((why) => {
      this.#reloadWhy = why;
      this.#wakeup.wake();
    });
    try {
      while (true) {
        while (this.#signalQueue.length > 0) this.handlers[this.#signalQueue.shift()!]();
        if (this.#reloadWhy !== null) this.#reload();
        if (this.#stopping !== null || this.#halt !== null) this.#listeners?.close();
        if (this.#workers.size === 0) {
          if (this.#halt !== null) return this.#halt;
          if (this.#stopping !== null) {
            this.#log.log("info", "all workers stopped; supervisor exiting");
            return 0;
          }
        }
        const now = Date.now();
        this.#drainWhenQuiet(now);
        this.#murder(now);
        this.#manage(now);
        let sleep = this.#tickMs;
        if (this.#spawnNotBefore > now) sleep = Math.min(sleep, this.#spawnNotBefore - now);
        for (const w of this.#workers.values()) {
          if (w.quiescing) sleep = Math.min(sleep, Math.max(1, w.quiesceUntil - now));
        }
        await this.#wakeup.sleep(sleep);
      }
    } finally {
      for (const remove of removers) remove();
      this.#reloader?.close();
    }
  }

  #handleTerm(name: string): void {
    if (this.#stopping !== null) return this.#handleQuit(`${name} again`);
    this.#stopping = "graceful";
    this.#notify?.(NOTIFY_STOPPING);
    this.#log.log(
      "info",
      `${name}: stopping gracefully (grace ${this.#config.shutdownGraceMs} ms)`,
    );
    const quiesce = this.#config.shutdownDelayMs === 0;
    for (const w of this.#workers.values()) if (!w.retiring) this.#retire(w, quiesce);
  }

  #handleQuit(name: string): void {
    this.#stopping = "fast";
    this.#notify?.(NOTIFY_STOPPING);
    this.#log.log("info", `${name}: stopping now`);
    this.#stopAllNow();
  }

  /** Fast stop of every worker: SIGQUIT (SIGTERM while booting), SIGKILL after the timeout. */
  #stopAllNow(): void {
    const killAt = Date.now() + this.#config.fastStopTimeoutMs;
    for (const w of this.#workers.values()) {
      w.retiring = true;
      w.quiescing = false;
      w.reason ??= "retire";
      w.killAt = w.killAt === 0 ? killAt : Math.min(w.killAt, killAt);
      signalWorker(w, w.ready ? "SIGQUIT" : "SIGTERM");
    }
  }

  /** Starts a new generation (HUP, or a `--reload` notice). */
  #restart(what: string): void {
    if (this.#stopping !== null || this.#halt !== null) return;
    this.#reloadGen = ++this.#generation;
    this.#notify?.(NOTIFY_RELOADING);
    this.#log.log(
      "info",
      `${what}, starting ${this.#numWorkers} new worker(s) (generation ${this.#generation})`,
    );
  }

  /** HUP: the settings read again (see the module comment), then a new generation. */
  #hup(): void {
    const next = this.#reread ? rereadOnHup(this.#config, this.#reread, this.#log) : this.#config;
    if (next === null) return;
    if (next.workers !== this.#config.workers) this.#numWorkers = next.workers;
    [this.#config, this.#tickMs] = [next, supervisorTickMs(next)];
    this.#restart("SIGHUP: rolling restart");
  }

  #reload(): void {
    this.#restart(`reload: ${this.#reloadWhy}`);
    this.#reloadWhy = null;
    this.#bootFailures = 0;
    this.#spawnNotBefore = 0;
  }

  /** Ends the restart under way, if any: systemd hears READY, the reloader how it went. */
  #reloadSettled(ok: boolean): void {
    const gen = this.#reloadGen;
    if (gen === 0) return;
    this.#reloadGen = 0;
    this.#notify?.(NOTIFY_READY);
    if (this.#reloader === null) return;
    if (ok) this.#log.log("info", `reload: generation ${gen} serves`);
    else this.#log.log("error", "reload failed (load error above); waiting for the next change");
    this.#reloader.settled(ok);
  }

  /** Second phase of retiring: once no worker of the batch still listens, drain them all. */
  #drainWhenQuiet(now: number): void {
    const batch = [...this.#workers.values()].filter((w) => w.quiescing);
    if (batch.length === 0) return;
    if (batch.some((w) => !w.quiesced && now < w.quiesceUntil)) return;
    for (const w of batch) this.#terminate(w);
  }

  /** Kills workers past their stop deadline, hung (heartbeat) or slow to boot. */
  #murder(now: number): void {
    for (const w of this.#workers.values()) {
      const why = w.killed ? null : overdue(w, now, this.#config);
      if (why === null) continue;
      this.#log.log(why.level, why.message);
      this.#kill(w, why.reason);
    }
  }

  /** Spawns and retires workers until the target count of current-generation workers runs. */
  #manage(now: number): void {
    if (this.#stopping !== null || this.#halt !== null) return;
    const live = [...this.#workers.values()].filter((w) => !w.retiring);
    const isStale = (w: WorkerProc) => w.gen < this.#generation || w.recycle;
    const stale = live.filter(isStale);
    const current = live.filter((w) => !isStale(w));
    if (!this.#everReady) {
      // The first worker resolves the listen addresses; the others wait for it.
      if (live.length === 0 && now >= this.#spawnNotBefore) this.#spawn();
      return;
    }
    for (let n = current.length; n < this.#numWorkers && now >= this.#spawnNotBefore; n++) {
      if (this.#halt !== null) return;
      this.#spawn();
    }
    if (current.length > this.#numWorkers) {
      // TTOU: stop booting workers first, then the oldest.
      const order = [...current].sort(bootingFirstThenOldest);
      for (const w of order.slice(0, current.length - this.#numWorkers)) this.#retire(w);
    }
    for (const w of stale) if (!w.ready) this.#retire(w);
    // The stale generation goes as one batch once the current one is complete and ready.
    const currentReady = current.filter((w) => w.ready && !w.retiring).length;
    if (currentReady >= this.#numWorkers) {
      for (const w of stale) this.#retire(w);
      if (this.#reloadGen === this.#generation) this.#reloadSettled(true);
    }
  }

  #spawn(): void {
    const id = this.#nextId++;
    const env = workerEnv(id, this.#binds, this.#listeners?.sockets);
    let w: WorkerProc;
    try {
      w = spawnWorker(this.#command, id, this.#generation, this.#deps.cwd, env);
    } catch (err) {
      this.#log.log(
        "critical",
        `cannot start a worker: ${err instanceof Error ? err.message : err}`,
      );
      this.#halt ??= EXIT_BOOT_ERROR;
      return;
    }
    this.#workers.set(id, w);
    this.#metrics.booted();
    this.#log.log("info", `booting worker ${id} (pid ${w.pid})`);
    const pump = pumpStderr(
      w.child.stderr,
      (msg) => this.#onMessage(w, msg),
      forwardTo(this.#deps.stderr),
    );
    // --capture-output: what the app prints goes where the error log goes.
    if (this.#command.captureOutput) pumpStderr(w.child.stdout, null, forwardTo(this.#deps.stderr));
    w.child.status.then(async (status) => {
      // Collect the last stderr lines (the boot error) before judging the exit.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([pump, new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      this.#reap(w, status);
    });
  }

  #onMessage(w: WorkerProc, msg: ControlMessage): void {
    const now = Date.now();
    switch (msg.t) {
      case "beat":
        w.lastBeat = now;
        w.stallReq = "";
        break;
      case "stall":
        w.stallReq = msg.req;
        if (w.lastBeat === 0) w.lastBeat = now - msg.ms;
        break;
      case "ready":
        if (w.ready) break;
        w.ready = true;
        w.lastBeat = now;
        this.#bootFailures = 0;
        this.#log.log("info", `worker ${w.id} (pid ${w.pid}) is ready`);
        if (!this.#everReady) {
          this.#everReady = true;
          this.#binds = [...msg.addrs];
          const scheme = this.#config.certfile ? "https" : "http";
          for (const l of bannerLines(this.#version, msg.addrs, scheme)) this.#deps.stdout.write(l);
          this.#notify?.(NOTIFY_READY);
        }
        this.#wakeup.wake();
        break;
      case "closed":
        w.quiesced = true;
        this.#wakeup.wake();
        break;
      case "stats":
      case "scrape":
        this.#metrics.message(w, msg, this.#workers.get(w.id) === w);
        break;
      case "recycle":
        if (!w.recycle && !w.retiring) {
          w.recycle = true;
          this.#metrics.recycled();
          this.#log.log(
            "info",
            `worker pid ${w.pid} served ${msg.requests} requests (--max-requests); replacing it`,
          );
          this.#wakeup.wake();
        }
        break;
    }
  }

  /** Handles a worker's exit (its status has been collected, so it is no zombie). */
  #reap(w: WorkerProc, status: Deno.CommandStatus): void {
    this.#workers.delete(w.id);
    w.stdin.close().catch(() => {});
    this.#metrics.reaped(w, this.#stopping !== null || this.#halt !== null);
    const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
    this.#wakeup.wake();
    if (this.#stopping !== null || this.#halt !== null) {
      this.#log.log("info", `worker pid ${w.pid} stopped (${how})`);
    } else if (!w.ready) {
      if (w.reason === "retire") {
        this.#log.log("info", `worker pid ${w.pid} stopped before it was ready (${how})`);
      } else {
        this.#bootFailed(w, status, how);
      }
    } else if (w.retiring) {
      this.#log.log("info", `worker pid ${w.pid} stopped (${how})`);
    } else {
      this.#log.log("error", `worker pid ${w.pid} died (${how}); starting a replacement`);
    }
  }

  #bootFailed(w: WorkerProc, status: Deno.CommandStatus, how: string): void {
    const replacing = [...this.#workers.values()].filter((o) =>
      o.ready && !o.retiring && (o.gen < this.#generation || o.recycle)
    );
    if (replacing.length > 0) {
      this.#log.log(
        "error",
        `new worker pid ${w.pid} failed to boot (${how}); keeping the ${replacing.length} ` +
          `running worker(s) and abandoning the restart`,
      );
      for (const o of this.#workers.values()) {
        if (o.retiring) continue;
        if (o.ready) {
          o.gen = this.#generation;
          o.recycle = false;
        } else {
          this.#retire(o);
        }
      }
      this.#backoff();
      this.#reloadSettled(false);
    } else if (this.#reloader && status.code === EXIT_APP_LOAD_ERROR) {
      this.#log.log("error", `worker pid ${w.pid} cannot load the app; waiting for a change`);
      this.#spawnNotBefore = Infinity;
      this.#reloadGen = 0;
      this.#reloader.settled(false);
    } else if (HALT_EXIT_CODES.has(status.code) || !this.#everReady) {
      const code = HALT_EXIT_CODES.has(status.code) ? status.code : EXIT_BOOT_ERROR;
      this.#log.log(
        "critical",
        `worker pid ${w.pid} failed to boot (${how}); stopping (exit code ${code})`,
      );
      this.#halt = code;
      this.#stopAllNow();
    } else {
      const wait = this.#backoff();
      this.#log.log("error", `worker pid ${w.pid} failed to boot (${how}); retrying in ${wait} ms`);
    }
  }

  #backoff(): number {
    const wait = bootBackoffMs(++this.#bootFailures, this.#config.bootRetryMaxMs);
    this.#spawnNotBefore = Date.now() + wait;
    return wait;
  }

  /**
   * Retires a worker: a ready one first closes its listeners (`quiesce`, see the module comment)
   * unless `quiesce` is false; a booting one just gets SIGTERM.
   */
  #retire(w: WorkerProc, quiesce = true): void {
    if (w.retiring) return;
    w.retiring = true;
    w.reason = "retire";
    if (quiesce && w.ready) {
      const now = Date.now();
      w.quiescing = true;
      w.quiesceUntil = now + this.#config.quiesceTimeoutMs;
      w.killAt = w.quiesceUntil + this.#drainMs();
      tellWorker(w, COMMAND_QUIESCE);
    } else {
      this.#terminate(w);
    }
  }

  /** Sends SIGTERM (drain and exit) and sets the SIGKILL deadline. */
  #terminate(w: WorkerProc): void {
    w.quiescing = false;
    w.killAt = Date.now() + (w.ready ? this.#drainMs() : this.#config.fastStopTimeoutMs);
    signalWorker(w, "SIGTERM");
  }

  #drainMs(): number {
    return this.#config.shutdownDelayMs + this.#config.shutdownGraceMs + this.#config.killMarginMs;
  }

  #kill(w: WorkerProc, reason: StopReason): void {
    this.#metrics.killed(reason);
    w.killed = true;
    w.retiring = true;
    w.reason ??= reason;
    signalWorker(w, "SIGKILL");
  }
}

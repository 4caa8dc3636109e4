/**
 * The supervisor (gunicorn's arbiter): starts N worker processes that share the port, keeps that
 * many running, and turns signals into rolling restarts, scaling and shutdowns. It never touches
 * HTTP; every worker is a full lsbaws process listening with SO_REUSEPORT.
 *
 * Contract:
 * - Workers are this same program started again (`workerCommand`): `deno run --unstable-net -A
 *   <main.ts> ...args` under `deno run`, or the compiled binary itself. Each gets
 *   `LSBAWS_WORKER=<id>`, its own process group (so a terminal's Ctrl-C reaches the supervisor
 *   only), stdout inherited (access log), stderr piped (error log, forwarded line by line, plus the
 *   control lines of `server/control.ts`) and a stdin pipe whose EOF tells it the supervisor died.
 * - Boot: the first worker starts alone; once it is `ready`, its bound addresses (port 0 resolved
 *   to a real port) are handed to every later worker and the banner is printed once. Then the rest
 *   start. A worker is *booting* until its `ready` message.
 * - Reaping: every `Deno.ChildProcess.status` is awaited, so exited workers never stay zombies. A
 *   worker that dies while serving is replaced at once (and logged).
 * - Boot failures: a worker that exits before it was ready with `EXIT_APP_LOAD_ERROR` (4) or
 *   `EXIT_BOOT_ERROR` (3), or any failure before the very first worker was ready, halts the
 *   supervisor with that code (`EXIT_BOOT_ERROR` for other codes); its error text has already
 *   been forwarded to stderr. Exception: while a rolling restart or a recycle is replacing
 *   workers that still serve, the replacement is abandoned and the old workers are kept (a broken
 *   deploy does not take a running site down). Other boot failures are retried with exponential
 *   backoff (`BOOT_BACKOFF_MS`, doubling up to `MAX_BOOT_BACKOFF_MS`).
 * - Liveness (`--timeout S`): a worker whose last heartbeat is older than S seconds is killed with
 *   SIGKILL, and the request its event loop was stuck in is logged. A worker that is not ready
 *   within `--boot-timeout-ms` is killed too.
 * - `SIGNALS` maps each signal to one handler; signals are queued and handled by the main loop:
 *   - TERM, INT: graceful stop: every worker is retired (below), then the supervisor exits 0.
 *     With `--shutdown-delay-ms` the workers get SIGTERM at once instead: they keep accepting
 *     during the delay (health path 503) while a load balancer drains the instance. Stragglers
 *     get SIGKILL `KILL_MARGIN_MS` after delay + grace. A second TERM/INT acts as QUIT.
 *   - QUIT: fast stop. Workers get SIGQUIT (close every connection now); SIGKILL after
 *     `FAST_STOP_MS`. Exit 0.
 *   - HUP: rolling restart. A new generation of N workers starts (loading the app code afresh);
 *     once all of them are ready, the old generation is retired as one batch, so at least N ready
 *     workers listen at every moment.
 *   - TTIN / TTOU: one worker more / less (never below 1); a removed worker drains gracefully.
 * - `--max-requests`: a worker that spent its budget sends `recycle`; it is replaced exactly like
 *   an old-generation worker during HUP.
 * - Retiring a ready worker takes two phases. First it is told to close its listeners (`quiesce`
 *   on its stdin) while its open connections carry on as usual. When every worker retired in the
 *   same batch has answered `closed` (or after `QUIESCE_MS`), they all get SIGTERM and drain:
 *   in-flight requests finish within `--shutdown-grace-ms`, answered with `Connection: close`.
 *   The order matters with SO_REUSEPORT: a client told to reconnect by one retiring worker must
 *   not land in the accept queue of another retiring worker whose listener is about to close
 *   (the kernel resets such connections). A booting worker is simply sent SIGTERM.
 */
import type { Config } from "./config.ts";
import { EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR } from "./config.ts";
import {
  COMMAND_QUIESCE,
  CONTROL_PREFIX,
  type ControlMessage,
  heartbeatPeriodMs,
  parseControl,
  WORKER_BIND_ENV,
  WORKER_ENV,
} from "./control.ts";
import type { Logger, LogSink } from "./log.ts";
import { formatAddr, parseBind } from "./serve.ts";

/** Exit codes of a worker that halt the supervisor when it fails before it was ready. */
export const HALT_EXIT_CODES: ReadonlySet<number> = new Set([EXIT_BOOT_ERROR, EXIT_APP_LOAD_ERROR]);

/** After a fast stop (QUIT) workers still running this long later are killed. */
export const FAST_STOP_MS = 3000;
/** Extra time after delay + grace before a draining worker is killed. */
export const KILL_MARGIN_MS = 2000;
/** First wait before retrying a worker that failed to boot (doubles per failure). */
export const BOOT_BACKOFF_MS = 1000;
/** Longest wait between boot retries. */
export const MAX_BOOT_BACKOFF_MS = 30_000;
/** In a graceful stop, how long workers get to close their listeners before the drain starts. */
export const QUIESCE_MS = 1000;
/** Most workers TTIN can reach (the `--workers` maximum). */
export const MAX_WORKERS = 1024;

/** The signals the supervisor handles, each with one handler (`Arbiter#handlers`). */
export const SIGNALS = ["SIGHUP", "SIGTERM", "SIGINT", "SIGQUIT", "SIGTTIN", "SIGTTOU"] as const;

/** A signal the supervisor handles. */
export type SupervisorSignal = typeof SIGNALS[number];

/** Process-level dependencies (a subset of `main.ts`'s `MainDeps`). */
export interface SupervisorDeps {
  /** Working directory the workers start in. */
  readonly cwd: string;
  /** Where the banner goes. */
  readonly stdout: LogSink;
  /** Where forwarded worker stderr goes. */
  readonly stderr: LogSink;
  /** Registers a signal handler; returns a function that removes it. */
  onSignal(signal: Deno.Signal, handler: () => void): () => void;
}

/** Options for `runSupervisor`. */
export interface SupervisorOptions {
  /** The supervisor's own error log. */
  readonly logger: Logger;
  /** Process dependencies. */
  readonly deps: SupervisorDeps;
  /** Version printed in the banner. */
  readonly version: string;
  /** Command that starts a worker (default: `workerCommand(args)`). */
  readonly command?: { readonly cmd: string; readonly args: readonly string[] };
}

/** URL of `main.ts`, which workers run under `deno run`. */
export const MAIN_URL: string = new URL("../main.ts", import.meta.url).href;

/**
 * The command that starts a worker running `args`: `deno run --unstable-net -A <main.ts> ...args`
 * when this process is the `deno` CLI, otherwise (a compiled binary) the executable itself.
 */
export function workerCommand(
  args: readonly string[],
  execPath: string = Deno.execPath(),
  mainUrl: string = MAIN_URL,
): { cmd: string; args: string[] } {
  const base = execPath.split(/[\\/]/).pop() ?? "";
  if (/^deno(\.exe)?$/i.test(base)) {
    return { cmd: execPath, args: ["run", "--unstable-net", "-A", mainUrl, ...args] };
  }
  return { cmd: execPath, args: [...args] };
}

/** The Linux `net.ipv4.tcp_migrate_req` setting, or null where it cannot be read. */
export function readMigrateReq(): string | null {
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req").trim();
  } catch {
    return null;
  }
}

/** One worker process as the supervisor sees it. */
interface WorkerProc {
  readonly id: number;
  readonly pid: number;
  readonly child: Deno.ChildProcess;
  /** Generation it belongs to (HUP starts a new one). */
  gen: number;
  /** It sent `ready`. */
  ready: boolean;
  /** It was told to stop (or killed); it no longer counts as serving capacity. */
  retiring: boolean;
  /** It asked to be recycled (`--max-requests`). */
  recycle: boolean;
  readonly spawnedAt: number;
  /** Time of the last `beat` (0 until the first). */
  lastBeat: number;
  /** Last request reported by a `stall` message. */
  stallReq: string;
  /** When it is killed if still alive (0 = no deadline). */
  killAt: number;
  /** SIGKILL was sent. */
  killed: boolean;
  /** Why it is stopping: told to (`retire`), or killed for a hang or a slow boot. */
  reason: null | "retire" | "timeout" | "boot-timeout";
  /** It was told to close its listeners and has not been sent SIGTERM yet. */
  quiescing: boolean;
  /** It answered `quiesce` with `closed`. */
  quiesced: boolean;
  /** When its batch gets SIGTERM even without its `closed` answer. */
  quiesceUntil: number;
}

/** Order for scaling down: workers still booting first, then by age (oldest first). */
function bootingFirstThenOldest(a: WorkerProc, b: WorkerProc): number {
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  return a.id - b.id;
}

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
  readonly #config: Config;
  readonly #log: Logger;
  readonly #deps: SupervisorDeps;
  readonly #version: string;
  readonly #command: { readonly cmd: string; readonly args: readonly string[] };
  readonly #workers = new Map<number, WorkerProc>();
  readonly #timeoutMs: number;
  readonly #tickMs: number;
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
  #wake: (() => void) | null = null;
  #pending = false;

  /** One handler per signal (gunicorn's `handle_<sig>` methods). */
  readonly handlers: Readonly<Record<SupervisorSignal, () => void>> = {
    SIGHUP: () => this.#handleHup(),
    SIGTERM: () => this.#handleTerm("SIGTERM"),
    SIGINT: () => this.#handleTerm("SIGINT"),
    SIGQUIT: () => this.#handleQuit("SIGQUIT"),
    SIGTTIN: () => this.#handleTtin(),
    SIGTTOU: () => this.#handleTtou(),
  };

  constructor(args: readonly string[], config: Config, opts: SupervisorOptions) {
    this.#config = config;
    this.#log = opts.logger;
    this.#deps = opts.deps;
    this.#version = opts.version;
    this.#command = opts.command ?? workerCommand(args);
    this.#numWorkers = config.workers;
    this.#timeoutMs = config.timeout * 1000;
    this.#tickMs = config.timeout > 0 ? heartbeatPeriodMs(config.timeout) : 1000;
  }

  async run(): Promise<number> {
    const removers = SIGNALS.map((sig) =>
      this.#deps.onSignal(sig, () => {
        this.#signalQueue.push(sig);
        this.#wakeup();
      })
    );
    this.#log.log("info", `supervisor pid ${Deno.pid}: starting ${this.#numWorkers} worker(s)`);
    if (readMigrateReq() === "0") {
      this.#log.log(
        "info",
        "net.ipv4.tcp_migrate_req=0: a connection that arrives just as a retiring worker closes " +
          "its listener is reset by the kernel; set it to 1 for lossless restarts (see the README's production section)",
      );
    }
    try {
      while (true) {
        while (this.#signalQueue.length > 0) this.handlers[this.#signalQueue.shift()!]();
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
        await this.#sleep(sleep);
      }
    } finally {
      for (const remove of removers) remove();
    }
  }

  // --- signal handlers -------------------------------------------------------------------------

  #handleTerm(name: string): void {
    if (this.#stopping !== null) return this.#handleQuit(`${name} again`);
    this.#stopping = "graceful";
    this.#log.log(
      "info",
      `${name}: stopping gracefully (grace ${this.#config.shutdownGraceMs} ms)`,
    );
    const quiesce = this.#config.shutdownDelayMs === 0;
    for (const w of this.#workers.values()) if (!w.retiring) this.#retire(w, quiesce);
  }

  #handleQuit(name: string): void {
    this.#stopping = "fast";
    this.#log.log("info", `${name}: stopping now`);
    const killAt = Date.now() + FAST_STOP_MS;
    for (const w of this.#workers.values()) {
      w.retiring = true;
      w.quiescing = false;
      w.reason ??= "retire";
      w.killAt = w.killAt === 0 ? killAt : Math.min(w.killAt, killAt);
      this.#signal(w, w.ready ? "SIGQUIT" : "SIGTERM");
    }
  }

  #handleHup(): void {
    if (this.#stopping !== null || this.#halt !== null) return;
    this.#generation++;
    this.#log.log(
      "info",
      `SIGHUP: rolling restart, starting ${this.#numWorkers} new worker(s) (generation ${this.#generation})`,
    );
  }

  #handleTtin(): void {
    if (this.#numWorkers >= MAX_WORKERS) return;
    this.#numWorkers++;
    this.#log.log("info", `SIGTTIN: now ${this.#numWorkers} worker(s)`);
  }

  #handleTtou(): void {
    if (this.#numWorkers <= 1) {
      this.#log.log("warning", "SIGTTOU: already at 1 worker");
      return;
    }
    this.#numWorkers--;
    this.#log.log("info", `SIGTTOU: now ${this.#numWorkers} worker(s)`);
  }

  // --- the loop's duties ---------------------------------------------------------------------

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
      if (w.killed) continue;
      if (w.killAt !== 0 && now >= w.killAt) {
        this.#log.log("warning", `worker pid ${w.pid} did not stop in time; killing it`);
        this.#kill(w, w.reason ?? "retire");
      } else if (w.retiring) {
        continue;
      } else if (this.#timeoutMs > 0 && w.lastBeat !== 0 && now - w.lastBeat > this.#timeoutMs) {
        const what = w.stallReq ? ` while serving "${w.stallReq}"` : "";
        this.#log.log(
          "error",
          `worker pid ${w.pid} timed out: its event loop has been blocked for more than ` +
            `${this.#config.timeout} s${what}; killing it (--timeout)`,
        );
        this.#kill(w, "timeout");
      } else if (
        !w.ready && this.#config.bootTimeoutMs > 0 && now - w.spawnedAt > this.#config.bootTimeoutMs
      ) {
        this.#log.log(
          "error",
          `worker pid ${w.pid} was not ready within ${this.#config.bootTimeoutMs} ms; killing it`,
        );
        this.#kill(w, "boot-timeout");
      }
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
    }
  }

  // --- workers -------------------------------------------------------------------------------

  #spawn(): void {
    const id = this.#nextId++;
    const env: Record<string, string> = { [WORKER_ENV]: String(id) };
    if (this.#binds) env[WORKER_BIND_ENV] = JSON.stringify(this.#binds);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.#command.cmd, {
        args: [...this.#command.args],
        cwd: this.#deps.cwd,
        env,
        stdin: "piped",
        stdout: "inherit",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (err) {
      this.#log.log(
        "critical",
        `cannot start a worker: ${err instanceof Error ? err.message : err}`,
      );
      this.#halt ??= EXIT_BOOT_ERROR;
      return;
    }
    const w: WorkerProc = {
      id,
      pid: child.pid,
      child,
      gen: this.#generation,
      ready: false,
      retiring: false,
      recycle: false,
      spawnedAt: Date.now(),
      lastBeat: 0,
      stallReq: "",
      killAt: 0,
      killed: false,
      reason: null,
      quiescing: false,
      quiesced: false,
      quiesceUntil: 0,
    };
    this.#workers.set(id, w);
    this.#log.log("info", `booting worker ${id} (pid ${w.pid})`);
    const pump = this.#pumpStderr(w);
    child.status.then(async (status) => {
      // Collect the last stderr lines (the boot error) before judging the exit.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([pump, new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      this.#reap(w, status);
    });
  }

  /** Forwards a worker's stderr line by line and handles its control lines. */
  async #pumpStderr(w: WorkerProc): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of w.child.stderr) {
        buf += decoder.decode(chunk, { stream: true });
        let out = "";
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl + 1);
          buf = buf.slice(nl + 1);
          const msg = line.startsWith(CONTROL_PREFIX) ? parseControl(line) : null;
          if (msg) this.#onMessage(w, msg);
          else out += line;
        }
        if (buf.length > 65536) {
          out += buf;
          buf = "";
        }
        if (out !== "") this.#forward(out);
      }
    } catch {
      // The pipe broke: the worker is gone.
    }
    buf += decoder.decode();
    if (buf !== "") this.#forward(buf.endsWith("\n") ? buf : buf + "\n");
  }

  #forward(text: string): void {
    try {
      this.#deps.stderr.write(text);
    } catch {
      // Our own stderr is gone; nothing sensible to do.
    }
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
          this.#banner(msg.addrs);
        }
        this.#wakeup();
        break;
      case "closed":
        w.quiesced = true;
        this.#wakeup();
        break;
      case "recycle":
        if (!w.recycle && !w.retiring) {
          w.recycle = true;
          this.#log.log(
            "info",
            `worker pid ${w.pid} served ${msg.requests} requests (--max-requests); replacing it`,
          );
          this.#wakeup();
        }
        break;
    }
  }

  #banner(addrs: readonly string[]): void {
    const scheme = this.#config.certfile ? "https" : "http";
    for (const spec of addrs) {
      const a = parseBind(spec);
      const addr = (a.transport === "unix"
        ? { transport: "unix", path: a.path }
        : { transport: "tcp", hostname: a.hostname, port: a.port }) as Deno.Addr;
      this.#deps.stdout.write(`lsbaws ${this.#version} listening on ${formatAddr(addr, scheme)}\n`);
    }
  }

  /** Handles a worker's exit (its status has been collected, so it is no zombie). */
  #reap(w: WorkerProc, status: Deno.CommandStatus): void {
    this.#workers.delete(w.id);
    w.child.stdin.close().catch(() => {});
    const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
    this.#wakeup();
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
    } else if (HALT_EXIT_CODES.has(status.code) || !this.#everReady) {
      const code = HALT_EXIT_CODES.has(status.code) ? status.code : EXIT_BOOT_ERROR;
      this.#log.log(
        "critical",
        `worker pid ${w.pid} failed to boot (${how}); stopping (exit code ${code})`,
      );
      this.#halt = code;
      for (const o of this.#workers.values()) {
        o.retiring = true;
        o.quiescing = false;
        o.reason ??= "retire";
        o.killAt = Date.now() + FAST_STOP_MS;
        this.#signal(o, o.ready ? "SIGQUIT" : "SIGTERM");
      }
    } else {
      const wait = this.#backoff();
      this.#log.log("error", `worker pid ${w.pid} failed to boot (${how}); retrying in ${wait} ms`);
    }
  }

  #backoff(): number {
    this.#bootFailures++;
    const wait = Math.min(BOOT_BACKOFF_MS * 2 ** (this.#bootFailures - 1), MAX_BOOT_BACKOFF_MS);
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
      w.quiesceUntil = now + QUIESCE_MS;
      w.killAt = w.quiesceUntil + this.#drainMs();
      this.#tell(w, COMMAND_QUIESCE);
    } else {
      this.#terminate(w);
    }
  }

  /** Sends SIGTERM (drain and exit) and sets the SIGKILL deadline. */
  #terminate(w: WorkerProc): void {
    w.quiescing = false;
    w.killAt = Date.now() + (w.ready ? this.#drainMs() : FAST_STOP_MS);
    this.#signal(w, "SIGTERM");
  }

  #drainMs(): number {
    return this.#config.shutdownDelayMs + this.#config.shutdownGraceMs + KILL_MARGIN_MS;
  }

  /** Writes one command line to a worker's stdin. */
  #tell(w: WorkerProc, command: string): void {
    try {
      const writer = w.child.stdin.getWriter();
      writer.write(new TextEncoder().encode(command + "\n")).catch(() => {}).finally(() =>
        writer.releaseLock()
      );
    } catch {
      // The worker is gone or busy with another command; the deadline covers it.
    }
  }

  #kill(w: WorkerProc, reason: NonNullable<WorkerProc["reason"]>): void {
    w.killed = true;
    w.retiring = true;
    w.reason ??= reason;
    this.#signal(w, "SIGKILL");
  }

  #signal(w: WorkerProc, sig: Deno.Signal): void {
    try {
      w.child.kill(sig);
    } catch {
      // Already exited; the reaper will see it.
    }
  }

  // --- waiting ------------------------------------------------------------------------------

  #wakeup(): void {
    this.#pending = true;
    this.#wake?.();
  }

  #sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        this.#pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

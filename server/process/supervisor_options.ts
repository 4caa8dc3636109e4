/**
 * What the supervisor (`server/process/supervisor.ts`) is given: its process dependencies, its
 * options, and the optional source of `--reload` change notices.
 *
 * Contract: types only; no runtime code.
 */
import type { Config } from "../config.ts";
import type { Logger, LogSink } from "../log.ts";
import type { WorkerCommand, WorkerProc } from "./spawn.ts";
import type { InheritedSocket } from "../libc/inherit.ts";

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

/**
 * Where `--reload` change notices come from (`server/process/reload.ts`). The supervisor treats a
 * notice like HUP (a new generation replaces the workers once it listens) and reports how each
 * reload ended.
 */
export interface Reloader {
  /** Starts watching; `onChange(why)` is called once per debounced burst of changes. */
  start(onChange: (why: string) => void): void;
  /**
   * A reload ended: `ok` once every new worker listens, false when one failed to load (the
   * previous workers keep serving). The watched files are recomputed either way.
   */
  settled(ok: boolean): void;
  /** Stops watching. */
  close(): void;
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
  readonly command?: WorkerCommand;
  /** `--reload`: restart the workers on file changes (none by default). */
  readonly reloader?: Reloader;
  /**
   * Reads the settings again for a HUP (throws with the reason when they do not parse); absent:
   * HUP keeps the settings the supervisor started with.
   */
  readonly reread?: () => Config;
  /** Tells systemd about state changes (`sd_notify`, `server/process/notify.ts`); absent: nobody. */
  readonly notify?: (state: string) => void;
  /**
   * The supervisor's own listening sockets, which every worker inherits (`SharedListeners`,
   * `server/process/handover.ts`); absent: each worker binds its own.
   */
  readonly listeners?: SupervisorListeners;
  /** Given the supervisor's view once it runs (`--control-socket`); absent: nobody looks. */
  readonly onView?: (view: SupervisorView) => void;
}

/** The signals the supervisor handles, each with one handler. */
export const SIGNALS = ["SIGHUP", "SIGTERM", "SIGINT", "SIGQUIT", "SIGTTIN", "SIGTTOU"] as const;
/** One of `SIGNALS`. */
export type SupervisorSignal = typeof SIGNALS[number];

/** A running supervisor as its control socket sees it (`server/process/control_socket.ts`). */
export interface SupervisorView {
  /** The worker records now (read only), in start order. */
  workers(): readonly Readonly<WorkerProc>[];
  /** How many workers it keeps (`--workers`, after TTIN/TTOU). */
  target(): number;
  /** The generation of the current workers (1, plus one per HUP or reload). */
  generation(): number;
  /** How many workers were started so far. */
  started(): number;
  /** The addresses the workers serve (ports resolved), once the first worker listened. */
  listeners(): readonly string[];
  /** The settings in force (after the last HUP). */
  config(): Config;
  /** Handles `sig` as if it had arrived: queued for the main loop, which is woken. */
  raise(sig: SupervisorSignal): void;
  /** Retires worker `w` gracefully (quiesce, then drain); the loop starts its replacement. */
  retire(w: Readonly<WorkerProc>): void;
}

/** What the supervisor does with its listening sockets: hand them on, and close its copies. */
export interface SupervisorListeners {
  /** The descriptors (and bind specs) every worker gets. */
  readonly sockets: readonly InheritedSocket[];
  /**
   * Closes the supervisor's own descriptors; called once it is stopping (TERM, INT, QUIT or a
   * halt), so the sockets close as soon as the last worker closed its listener.
   */
  close(): void;
}

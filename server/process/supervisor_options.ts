/**
 * What the supervisor (`server/process/supervisor.ts`) is given: its process dependencies, its
 * options, and the optional source of `--reload` change notices.
 *
 * Contract: types only; no runtime code.
 */
import type { Logger, LogSink } from "../log.ts";
import type { WorkerCommand } from "./spawn.ts";

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
}

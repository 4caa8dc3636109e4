/**
 * Worker processes as the supervisor sees them: the command that starts one, spawning it, its
 * bookkeeping record, and the two ways of talking to it (stdin command lines and signals).
 *
 * Contract:
 * - Workers are this same program started again (`workerCommand`): `deno run --unstable-net -A
 *   <main.ts> ...args` under `deno run`, or the compiled binary itself.
 * - `spawnWorker` starts one, under the command's `uid`/`gid` when given (`--user`/`--group`;
 *   root's supplementary groups are dropped). With `initgroups` (`--initgroups`) it starts the
 *   worker as root with `LSBAWS_WORKER_IDENTITY=<uid>:<gid>` instead, and the worker takes the
 *   user's groups and switches itself (Deno's process API cannot set supplementary groups). It
 *   runs with the given environment (`LSBAWS_WORKER=<id>` and, once known, the resolved bind
 *   list), in its own process group (so a terminal's Ctrl-C reaches the supervisor only), stdout
 *   inherited (access log; piped with `captureOutput`), stderr piped (error log and control
 *   lines, read by `server/process/forward.ts`) and a stdin pipe whose EOF tells it the
 *   supervisor died. It throws when the process cannot be started.
 * - `tellWorker` and `signalWorker` never throw: a worker that is already gone is the reaper's
 *   business. Command lines go through one writer per worker, so they are written whole and in
 *   order however many are sent at once.
 */

import { WORKER_IDENTITY_ENV } from "./control.ts";

/** URL of `main.ts`, which workers run under `deno run`. */
export const MAIN_URL: string = new URL("../../main.ts", import.meta.url).href;

/** Whether `execPath` is the `deno` CLI (rather than a compiled binary). */
export function isDenoCli(execPath: string = Deno.execPath()): boolean {
  return /^deno(\.exe)?$/i.test(execPath.split(/[\\/]/).pop() ?? "");
}

/** A program, its arguments and the identity it runs under. */
export interface WorkerCommand {
  /** Executable. */
  readonly cmd: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** User id the worker runs as (`--user`); absent: the supervisor's. */
  readonly uid?: number;
  /** Group id the worker runs with (`--group`); absent: the supervisor's. */
  readonly gid?: number;
  /**
   * Give the worker the user's supplementary groups (`--initgroups`): it is started as root and
   * switches to `uid`/`gid` itself.
   */
  readonly initgroups?: boolean;
  /** Pipe the worker's stdout to the supervisor (`--capture-output`) instead of sharing it. */
  readonly captureOutput?: boolean;
}

/**
 * The command that starts a worker running `args`: `deno run --unstable-net -A <main.ts> ...args`
 * when this process is the `deno` CLI, otherwise (a compiled binary) the executable itself.
 */
export function workerCommand(
  args: readonly string[],
  execPath: string = Deno.execPath(),
  mainUrl: string = MAIN_URL,
): { cmd: string; args: string[] } {
  if (isDenoCli(execPath)) {
    return { cmd: execPath, args: ["run", "--unstable-net", "-A", mainUrl, ...args] };
  }
  return { cmd: execPath, args: [...args] };
}

/** Why a worker is stopping: told to (`retire`), or killed for a hang or a slow boot. */
export type StopReason = "retire" | "timeout" | "boot-timeout";

/** One worker process as the supervisor sees it. */
export interface WorkerProc {
  /** Supervisor-assigned id (`LSBAWS_WORKER`), increasing. */
  readonly id: number;
  /** Process id. */
  readonly pid: number;
  /** The process handle (stdin and stderr are pipes). */
  readonly child: Deno.ChildProcess;
  /** The one writer of its stdin (`tellWorker`; closed by the reaper). */
  readonly stdin: WritableStreamDefaultWriter<Uint8Array>;
  /** Generation it belongs to (HUP starts a new one). */
  gen: number;
  /** It sent `ready`. */
  ready: boolean;
  /** It was told to stop (or killed); it no longer counts as serving capacity. */
  retiring: boolean;
  /** It asked to be recycled (`--max-requests`). */
  recycle: boolean;
  /** When it was started. */
  readonly spawnedAt: number;
  /** Time of the last `beat` (0 until the first). */
  lastBeat: number;
  /** Last request reported by a `stall` message. */
  stallReq: string;
  /** When it is killed if still alive (0 = no deadline). */
  killAt: number;
  /** SIGKILL was sent. */
  killed: boolean;
  /** Why it is stopping (null while it serves). */
  reason: null | StopReason;
  /** It was told to close its listeners and has not been sent SIGTERM yet. */
  quiescing: boolean;
  /** It answered `quiesce` with `closed`. */
  quiesced: boolean;
  /** When its batch gets SIGTERM even without its `closed` answer. */
  quiesceUntil: number;
}

/**
 * The identity a worker process is started under and its environment: the command's `uid`/`gid`,
 * or with `initgroups` none (root's) and `LSBAWS_WORKER_IDENTITY` naming them.
 */
export function spawnIdentity(
  command: WorkerCommand,
  env: Record<string, string>,
): { uid?: number; gid?: number; env: Record<string, string> } {
  if (!command.initgroups || command.uid === undefined || command.gid === undefined) {
    return { uid: command.uid, gid: command.gid, env };
  }
  return { env: { ...env, [WORKER_IDENTITY_ENV]: `${command.uid}:${command.gid}` } };
}

/** Starts worker `id` of generation `gen`; throws when the process cannot be started. */
export function spawnWorker(
  command: WorkerCommand,
  id: number,
  gen: number,
  cwd: string,
  env: Record<string, string>,
): WorkerProc {
  const ids = spawnIdentity(command, env);
  const child = new Deno.Command(command.cmd, {
    args: [...command.args],
    uid: ids.uid,
    gid: ids.gid,
    cwd,
    env: ids.env,
    stdin: "piped",
    stdout: command.captureOutput ? "piped" : "inherit",
    stderr: "piped",
    detached: true,
  }).spawn();
  return {
    id,
    pid: child.pid,
    child,
    stdin: child.stdin.getWriter(),
    gen,
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
}

/**
 * Why worker `w` must be killed at `now`, or null: it outlived its stop deadline (`retire`), its
 * heartbeat is older than `--timeout` (`timeout`), or it is not ready within `--boot-timeout-ms`
 * (`boot-timeout`). The message says so for the log.
 */
export function overdue(
  w: WorkerProc,
  now: number,
  limits: { readonly timeout: number; readonly bootTimeoutMs: number },
): { reason: StopReason; level: "warning" | "error"; message: string } | null {
  if (w.killAt !== 0 && now >= w.killAt) {
    return {
      reason: w.reason ?? "retire",
      level: "warning",
      message: `worker pid ${w.pid} did not stop in time; killing it`,
    };
  }
  if (w.retiring) return null;
  if (limits.timeout > 0 && w.lastBeat !== 0 && now - w.lastBeat > limits.timeout * 1000) {
    const what = w.stallReq ? ` while serving "${w.stallReq}"` : "";
    return {
      reason: "timeout",
      level: "error",
      message: `worker pid ${w.pid} timed out: its event loop has been blocked for more than ` +
        `${limits.timeout} s${what}; killing it (--timeout)`,
    };
  }
  if (!w.ready && limits.bootTimeoutMs > 0 && now - w.spawnedAt > limits.bootTimeoutMs) {
    return {
      reason: "boot-timeout",
      level: "error",
      message: `worker pid ${w.pid} was not ready within ${limits.bootTimeoutMs} ms; killing it`,
    };
  }
  return null;
}

/** Order for scaling down: workers still booting first, then by age (oldest first). */
export function bootingFirstThenOldest(a: WorkerProc, b: WorkerProc): number {
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  return a.id - b.id;
}

/** Writes one command line to a worker's stdin (queued behind earlier ones). */
export function tellWorker(w: WorkerProc, command: string): void {
  // A worker that is gone fails the write; its deadline and the reaper cover it.
  w.stdin.write(new TextEncoder().encode(command + "\n")).catch(() => {});
}

/** Sends `sig` to a worker. */
export function signalWorker(w: WorkerProc, sig: Deno.Signal): void {
  try {
    w.child.kill(sig);
  } catch {
    // Already exited; the reaper will see it.
  }
}

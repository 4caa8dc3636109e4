/**
 * `--control-socket PATH`: the supervisor answers commands on a unix socket (gunicorn 25's control
 * interface, whose client is `gunicornc`; here `lsbaws ctl`, `server/process/control_client.ts`).
 *
 * Contract:
 * - Protocol: a client connects, sends one command line (at most `MAX_COMMAND_BYTES`, ended by
 *   "\n" or by closing its side) and reads one line of JSON, `{"ok":true,"data":...}` or
 *   `{"ok":false,"error":"..."}`; the server then closes the connection. A client that sends no
 *   full line within `READ_TIMEOUT_MS` (or the time given) is closed without an answer.
 * - `parseCommand(line)` reads a command: `help`, `show workers|stats|config|listeners`,
 *   `worker add [N]`, `worker remove [N]` (N from 1 to `--workers`' maximum, default 1),
 *   `worker kill PID`, `reload`, `shutdown [graceful|quick]`; words are separated by spaces,
 *   case-insensitive.
 *   Anything else is a `ControlError` whose message says what is accepted.
 * - `runCommand(cmd, view)` answers a parsed command from the supervisor's `SupervisorView`:
 *   `show workers` lists every worker (id, pid, generation, ready, retiring, age and the time
 *   since its last heartbeat, in seconds), `show stats` the supervisor's pid, uptime, the target
 *   and current number of workers, how many were started and the generation, `show config` the
 *   settings in force (secrets as `"<hidden>"`), `show listeners` the addresses served. `worker
 *   add`/`remove` act as that many TTIN/TTOU signals, `reload` as HUP, `shutdown graceful` as TERM
 *   and `shutdown quick` as QUIT; `worker kill PID` retires that worker gracefully (it finishes
 *   its requests; the supervisor starts a replacement). A pid that is not a current worker is an
 *   error.
 * - `startControlSocket(path, view, logger, readTimeoutMs?)` answers from `view()` (an error while it is null, before
 *   the supervisor runs). It refuses a path where a server already answers
 *   (`Deno.errors.AddrInUse`), replaces a stale socket, publishes the new one with mode 0600 (only
 *   its owner, the supervisor's user, may connect) and serves until `close()`, which stops
 *   accepting, closes the connections still open and removes the path if it is still this socket.
 */
import { boundsOf, SETTINGS, shownValue } from "../config.ts";
import type { Logger } from "../log.ts";
import { publishUnixPath, removeUnixPathIfOurs } from "../unix_path.ts";
import type { SupervisorView } from "./supervisor_options.ts";

/** Longest command line accepted. */
export const MAX_COMMAND_BYTES = 1024;
/** Time a client gets to send its command line. */
export const READ_TIMEOUT_MS = 5000;
/** Most workers one `worker add`/`remove` may ask for, and TTIN's ceiling: `--workers`' maximum. */
const MAX_COUNT: number = boundsOf("workers").max;

/** A command the control socket cannot run; the message says why. */
export class ControlError extends Error {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "ControlError";
  }
}

/** A parsed control command. */
export type ControlCommand =
  | { readonly kind: "help" }
  | { readonly kind: "show"; readonly what: "workers" | "stats" | "config" | "listeners" }
  | { readonly kind: "worker"; readonly op: "add" | "remove"; readonly count: number }
  | { readonly kind: "kill"; readonly pid: number }
  | { readonly kind: "reload" }
  | { readonly kind: "shutdown"; readonly mode: "graceful" | "quick" };

/** Every command with a one-line description, as `help` answers. */
export const COMMANDS: Readonly<Record<string, string>> = {
  "show workers": "list the workers: id, pid, generation, ready, age, last heartbeat",
  "show stats": "supervisor pid, uptime, workers wanted and running, started, generation",
  "show config": "the settings in force (secrets hidden)",
  "show listeners": "the addresses served",
  "worker add [N]": "run N more workers (default 1), as N TTIN signals",
  "worker remove [N]": "run N fewer workers (default 1, never below 1), as N TTOU signals",
  "worker kill PID": "retire one worker gracefully; a replacement is started",
  "reload": "rolling restart with new code and settings, as HUP",
  "shutdown [graceful|quick]": "stop: graceful as TERM (default), quick as QUIT",
  "help": "this list",
};

function countOf(word: string | undefined): number {
  if (word === undefined) return 1;
  if (!/^[0-9]{1,7}$/.test(word) || Number(word) < 1 || Number(word) > MAX_COUNT) {
    throw new ControlError(`count must be a number from 1 to ${MAX_COUNT}, got '${word}'`);
  }
  return Number(word);
}

/** Parses one command line; see the module comment. */
export function parseCommand(line: string): ControlCommand {
  const words = line.trim().toLowerCase().split(/\s+/).filter((w) => w !== "");
  const [a, b, c, extra] = words;
  const exact = (n: number) => words.length <= n;
  if (a === "help" && exact(1)) return { kind: "help" };
  if (a === "reload" && exact(1)) return { kind: "reload" };
  if (a === "show" && exact(2) && ["workers", "stats", "config", "listeners"].includes(b)) {
    return { kind: "show", what: b as "workers" | "stats" | "config" | "listeners" };
  }
  if (a === "worker" && (b === "add" || b === "remove") && extra === undefined) {
    return { kind: "worker", op: b, count: countOf(c) };
  }
  if (a === "worker" && b === "kill" && exact(3) && /^[0-9]{1,10}$/.test(c ?? "")) {
    return { kind: "kill", pid: Number(c) };
  }
  if (a === "shutdown" && exact(2) && (b === undefined || b === "graceful" || b === "quick")) {
    return { kind: "shutdown", mode: b ?? "graceful" };
  }
  throw new ControlError(
    `unknown command '${line.trim().slice(0, 80)}'; commands: ${Object.keys(COMMANDS).join(", ")}`,
  );
}

const round = (ms: number) => Math.round(ms / 10) / 100;

/** Answers a parsed command from the supervisor's view; see the module comment. */
export function runCommand(cmd: ControlCommand, view: SupervisorView, now = Date.now()): unknown {
  switch (cmd.kind) {
    case "help":
      return { commands: COMMANDS };
    case "show":
      if (cmd.what === "workers") {
        const workers = view.workers().map((w) => ({
          id: w.id,
          pid: w.pid,
          generation: w.gen,
          ready: w.ready,
          retiring: w.retiring,
          age: round(now - w.spawnedAt),
          lastBeat: w.lastBeat === 0 ? null : round(now - w.lastBeat),
        }));
        return { workers, count: workers.length };
      }
      if (cmd.what === "stats") {
        return {
          pid: Deno.pid,
          uptime: round(performance.now()),
          workersTarget: view.target(),
          workersCurrent: view.workers().filter((w) => !w.retiring).length,
          workersRetiring: view.workers().filter((w) => w.retiring).length,
          workersStarted: view.started(),
          generation: view.generation(),
        };
      }
      if (cmd.what === "config") {
        const config = view.config() as unknown as Record<string, unknown>;
        return Object.fromEntries(
          SETTINGS.map((s) => [s.key, shownValue(s, config[s.key])]),
        );
      }
      return { listeners: view.listeners() };
    case "worker": {
      const previous = view.target();
      const sig = cmd.op === "add" ? "SIGTTIN" : "SIGTTOU";
      for (let i = 0; i < cmd.count; i++) view.raise(sig);
      const total = cmd.op === "add"
        ? Math.min(MAX_COUNT, previous + cmd.count)
        : Math.max(1, previous - cmd.count);
      return { previous, total };
    }
    case "kill": {
      const w = view.workers().find((w) => w.pid === cmd.pid && !w.retiring);
      if (w === undefined) throw new ControlError(`pid ${cmd.pid} is not a serving worker`);
      view.retire(w);
      return { retired: cmd.pid };
    }
    case "reload":
      view.raise("SIGHUP");
      return { status: "reloading" };
    case "shutdown":
      view.raise(cmd.mode === "quick" ? "SIGQUIT" : "SIGTERM");
      return { status: "stopping", mode: cmd.mode };
  }
}

/** A running control socket. */
export interface ControlSocket {
  /** Stops accepting, closes the connections still open and removes the path if still ours. */
  close(): Promise<void>;
}

/** Reads one command line from `conn` (or null on timeout, a too long line, or an early close). */
async function readLine(conn: Deno.Conn, timeoutMs: number): Promise<string | null> {
  const buf = new Uint8Array(MAX_COMMAND_BYTES + 1);
  let used = 0;
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while (used < buf.length) {
      const n = await conn.read(buf.subarray(used));
      if (n === null) break;
      used += n;
      if (buf.subarray(0, used).includes(0x0a)) break;
    }
  } catch {
    return null; // closed by the timer, or reset
  } finally {
    clearTimeout(timer);
  }
  const end = buf.subarray(0, used).indexOf(0x0a);
  if (end < 0 && used > MAX_COMMAND_BYTES) return null;
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? used : end));
}

async function answer(
  conn: Deno.Conn,
  viewOf: () => SupervisorView | null,
  logger: Logger,
  readTimeoutMs: number,
): Promise<void> {
  try {
    const line = await readLine(conn, readTimeoutMs);
    if (line === null) return;
    let reply: unknown;
    try {
      const cmd = parseCommand(line);
      const view = viewOf();
      if (view === null) throw new ControlError("the supervisor is starting; try again");
      reply = { ok: true, data: runCommand(cmd, view) };
      if (cmd.kind !== "show" && cmd.kind !== "help") {
        logger.log("info", `control socket: ${line.trim()}`);
      }
    } catch (err) {
      if (!(err instanceof ControlError)) throw err;
      reply = { ok: false, error: err.message };
    }
    const bytes = new TextEncoder().encode(JSON.stringify(reply) + "\n");
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  } catch (err) {
    logger.log("debug", `control socket: ${err instanceof Error ? err.message : err}`);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the read timer already
    }
  }
}

/** Whether a server answers at unix socket `path`. */
async function answering(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch {
    return false;
  }
}

/** Serves the control socket at `path`; see the module comment. */
export async function startControlSocket(
  path: string,
  view: () => SupervisorView | null,
  logger: Logger,
  readTimeoutMs: number = READ_TIMEOUT_MS,
): Promise<ControlSocket> {
  if (await answering(path)) {
    throw new Deno.errors.AddrInUse(`${path}: another server answers on this control socket`);
  }
  const { listener, inode } = await publishUnixPath(
    path,
    (staging) => Deno.listen({ transport: "unix", path: staging }),
    (l) => l.close(),
    0o600,
  );
  const pending = new Map<Promise<void>, Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      const p = answer(conn, view, logger, readTimeoutMs).finally(() => pending.delete(p));
      pending.set(p, conn);
    }
  })().catch(() => {}); // the listener was closed
  return {
    async close() {
      try {
        listener.close();
      } catch {
        // already closed
      }
      await loop;
      // A client still sending its line gets no answer; one being answered gets it.
      for (const conn of pending.values()) {
        try {
          conn.close();
        } catch {
          // answered and closed meanwhile
        }
      }
      await Promise.all(pending.keys());
      removeUnixPathIfOurs(path, inode);
    },
  };
}

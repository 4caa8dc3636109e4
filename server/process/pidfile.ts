/**
 * The pid file (`--pid FILE`, as gunicorn's `--pid`): the process an operator signals (the
 * supervisor with workers, else the single serving process) writes its process id there.
 *
 * Contract:
 * - `claimPidFile(path, pid)` writes `pid` and a newline to `path`, through a temporary file in
 *   the same directory and a rename, so a reader never sees a partial file. It returns the
 *   function that gives the file up: it removes the file only if it still names `pid` (another
 *   server may have claimed it since) and never throws.
 * - An existing file that names another process still running is refused with
 *   `PidFileError` ("already running as PID n"); nothing is written. A file that names no running
 *   process (left by a crash, a SIGKILL or a reboot), or no pid at all, is replaced. Any other
 *   failure (a missing directory, no permission) is a `PidFileError` with the reason.
 * - Whether a process runs is read from `/proc/PID/stat` (a zombie does not run). Where there is
 *   no `/proc`, a running process cannot be told from a stale file, so any pid but our own counts
 *   as running and the message says to remove the file if it is stale.
 */

/** A pid file that cannot be claimed; the message is for the operator. */
export class PidFileError extends Error {
  override name = "PidFileError";
}

/** Whether process `pid` exists and is not a zombie; null when this system cannot tell. */
export function processRuns(pid: number): boolean | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The state follows the command name, which is in parentheses and may contain any byte.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) return null;
    try {
      Deno.statSync("/proc/self/stat");
      return false; // /proc works: the process is gone
    } catch {
      return null;
    }
  }
}

/** The pid a pid file names, or null when it names none. */
function namedPid(text: string): number | null {
  const m = /^\s*(\d{1,10})\s*$/.exec(text);
  if (m === null) return null;
  const pid = Number(m[1]);
  return pid > 0 ? pid : null;
}

/** Claims `path` for `pid` (see the module comment); returns the function that gives it up. */
export function claimPidFile(path: string, pid: number): () => void {
  let existing: string | null = null;
  try {
    existing = Deno.readTextFileSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new PidFileError(`cannot read pid file ${path}: ${(err as Error).message}`);
    }
  }
  const other = existing === null ? null : namedPid(existing);
  if (other !== null && other !== pid) {
    const runs = processRuns(other);
    if (runs !== false) {
      throw new PidFileError(
        `pid file ${path} says lsbaws is already running as PID ${other}` +
          (runs === null ? " (remove the file if it is stale)" : ""),
      );
    }
  }
  const slash = path.lastIndexOf("/");
  const temp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${pid}.tmp`;
  try {
    Deno.writeTextFileSync(temp, `${pid}\n`, { mode: 0o644 });
    Deno.renameSync(temp, path);
  } catch (err) {
    try {
      Deno.removeSync(temp);
    } catch {
      // never written, or already gone
    }
    throw new PidFileError(`cannot write pid file ${path}: ${(err as Error).message}`);
  }
  return () => {
    try {
      if (namedPid(Deno.readTextFileSync(path)) === pid) Deno.removeSync(path);
    } catch {
      // gone already, or not ours to remove
    }
  };
}

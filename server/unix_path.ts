/**
 * Publishing a unix listening socket at its path, shared by both socket drivers: the path always
 * names a live listener, also while one process hands it over to another (a worker replaced
 * under `--max-requests`, a restart, the supervisor's own listeners).
 *
 * Contract:
 * - `publishUnixPath(path, bind, release)` checks `path` first: an existing file that is not a
 *   socket fails with `Deno.errors.AddrInUse` and is left alone; an existing socket (stale, or a
 *   predecessor's) will be replaced. It then removes a private name left over by an earlier
 *   process with this pid, calls `bind(staging)` to create the listener under the private name
 *   (`privateSocketPath`), gives that file its permissions (`mode`, 0600 unless told otherwise:
 *   only the owner may connect) and, when given, its `owner` (`--user`/`--group`: the workers'
 *   user owns the socket the supervisor binds, as in gunicorn), reads its inode and `rename(2)`s it
 *   over `path`. The rename is atomic: a client connecting to `path` reaches either the previous
 *   listener or this one, never nothing. Resolves to the listener and the inode; on any failure
 *   after `bind` it calls `release(listener)`, removes the private name and rethrows.
 * - `removeUnixPathIfOurs(path, inode)` removes `path` only while it still names the socket with
 *   `inode` (synchronous, quiet), so a process that stops after a successor took the path over
 *   leaves the successor's socket alone, while a final shutdown removes it. A null inode removes
 *   nothing.
 */

import type { FileOwner } from "./address.ts";

/** The private name a process binds before renaming it over `path`. */
export function privateSocketPath(path: string, pid: number = Deno.pid): string {
  return `${path}.lsbaws-${pid}`;
}

/** A listener published at its path and the inode of the socket file the path names. */
export interface PublishedPath<T> {
  /** What `bind` returned. */
  readonly listener: T;
  /** Inode of the socket file (null when it could not be read). */
  readonly inode: number | null;
}

/** Binds through `bind` under a private name and renames it over `path` (see the module comment). */
export async function publishUnixPath<T>(
  path: string,
  bind: (staging: string) => T,
  release: (listener: T) => void,
  mode = 0o600,
  owner?: FileOwner,
): Promise<PublishedPath<T>> {
  try {
    if (!(await Deno.lstat(path)).isSocket) {
      throw new Deno.errors.AddrInUse(`${path} exists and is not a socket`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const staging = privateSocketPath(path);
  await Deno.remove(staging).catch(() => {}); // Left over by an earlier process with this pid.
  const listener = bind(staging);
  try {
    await Deno.chmod(staging, mode);
    if (owner) await Deno.chown(staging, owner.uid, owner.gid);
    const inode = (await Deno.lstat(staging)).ino;
    await Deno.rename(staging, path);
    return { listener, inode };
  } catch (err) {
    release(listener);
    await Deno.remove(staging).catch(() => {});
    throw err;
  }
}

/** Removes the unix socket file at `path` if it is still the one with `inode` (sync, quiet). */
export function removeUnixPathIfOurs(path: string, inode: number | null): void {
  if (inode === null) return;
  try {
    if (Deno.lstatSync(path).ino === inode) Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}

/**
 * Unix-socket listeners whose path always names a live listener, also while one process hands
 * the path over to another (a worker replaced under `--max-requests`, a restart).
 *
 * Contract:
 * - `listenUnix(path)` binds a socket under a private name in the same directory
 *   (`<path>.lsbaws-<pid>`), makes it private (0600), then `rename(2)`s it over `path`. The
 *   rename is atomic: a client connecting to `path` reaches either the previous listener or this
 *   one, never nothing. An existing socket at `path` (stale, or a predecessor's) is replaced; any
 *   other kind of file is left alone and the bind fails with `Deno.errors.AddrInUse`.
 * - The returned listener reports `path` as its address, and as the `localAddr` of every
 *   connection it accepts (the private name is an implementation detail).
 * - `close()` removes `path` only if it still holds this listener's socket (same inode), so a
 *   process that stops after a successor took the path over leaves the successor's socket alone,
 *   while a final shutdown removes it. Deno's own unlink on close applies to the private name,
 *   which no longer exists by then.
 */

/** The private name a process binds before renaming it over `path`. */
export function privateSocketPath(path: string, pid: number = Deno.pid): string {
  return `${path}.lsbaws-${pid}`;
}

/** Binds `path` as described in the module comment. */
export async function listenUnix(path: string): Promise<Deno.Listener> {
  try {
    if (!(await Deno.lstat(path)).isSocket) {
      throw new Deno.errors.AddrInUse(`${path} exists and is not a socket`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const staging = privateSocketPath(path);
  await Deno.remove(staging).catch(() => {}); // Left over by an earlier process with this pid.
  const inner = Deno.listen({ transport: "unix", path: staging });
  try {
    await Deno.chmod(staging, 0o600).catch(() => {});
    const inode = (await Deno.lstat(staging)).ino;
    await Deno.rename(staging, path);
    return new HandoverListener(inner, { transport: "unix", path }, inode);
  } catch (err) {
    inner.close();
    throw err;
  }
}

/** A unix listener bound under a private name and published at `addr.path`. */
class HandoverListener implements Deno.Listener {
  readonly #inner: Deno.Listener;
  readonly #inode: number | null;
  #closed = false;
  /** The public address. */
  readonly addr: Deno.UnixAddr;

  constructor(inner: Deno.Listener, addr: Deno.UnixAddr, inode: number | null) {
    this.#inner = inner;
    this.addr = addr;
    this.#inode = inode;
  }

  async accept(): Promise<Deno.Conn> {
    const conn = await this.#inner.accept();
    Object.defineProperty(conn, "localAddr", { value: this.addr });
    return conn;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      const st = Deno.lstatSync(this.addr.path);
      if (this.#inode !== null && st.ino === this.#inode) Deno.removeSync(this.addr.path);
    } catch {
      // Already gone.
    }
    this.#inner.close();
  }

  ref(): void {
    this.#inner.ref();
  }

  unref(): void {
    this.#inner.unref();
  }

  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.Conn> {
    while (true) {
      try {
        yield await this.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return;
        throw err;
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

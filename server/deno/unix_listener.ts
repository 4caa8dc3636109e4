/**
 * Unix-socket listeners whose path always names a live listener, also while one process hands
 * the path over to another (a worker replaced under `--max-requests`, a restart).
 *
 * Contract:
 * - `listenUnix(path)` binds a socket under a private name in the same directory
 *   (`<path>.lsbaws-<pid>`), makes it private (0600), then `rename(2)`s it over `path`
 *   (`server/unix_path.ts`, shared with the libc driver). The rename is atomic: a client
 *   connecting to `path` reaches either the previous listener or this one, never nothing. An existing socket at `path` (stale, or a predecessor's) is replaced; any
 *   other kind of file is left alone and the bind fails with `Deno.errors.AddrInUse`.
 * - The returned listener reports `path` as its address, and as the `localAddr` of every
 *   connection it accepts (the private name is an implementation detail).
 * - `close()` removes `path` only if it still holds this listener's socket (same inode), so a
 *   process that stops after a successor took the path over leaves the successor's socket alone,
 *   while a final shutdown removes it. Deno's own unlink on close applies to the private name,
 *   which no longer exists by then.
 */
import { publishUnixPath, removeUnixPathIfOurs } from "../unix_path.ts";

/** Binds `path` as described in the module comment. */
export async function listenUnix(path: string, mode?: number): Promise<Deno.Listener> {
  const { listener, inode } = await publishUnixPath(
    path,
    (staging) => Deno.listen({ transport: "unix", path: staging }),
    (inner) => inner.close(),
    mode,
  );
  return new HandoverListener(listener, { transport: "unix", path }, inode);
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
    removeUnixPathIfOurs(this.addr.path, this.#inode);
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

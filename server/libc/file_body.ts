/**
 * Zero-copy file bodies for the libc driver: finds a kernel fd for a file the engine was asked to
 * send (`FileBody`), and moves its bytes to a socket with `sendfile(2)`.
 *
 * Contract:
 * - `fileFdOf(libc, body)` returns an fd of its own (close-on-exec; the caller closes it) on the
 *   same inode as `body.file` (compared by `dev` and `ino`), or -1 when it cannot get one (the
 *   file calls are missing, or no match): the caller then sends the body the portable way. Deno
 *   exposes no fd for a `Deno.FsFile`, so: with `body.path`, it `open`s the path again (and keeps
 *   the fd only if it is the same inode, so a file replaced since is never sent); else it looks
 *   through `/proc/self/fd` for an fd on the inode and duplicates it (`F_DUPFD_CLOEXEC`). An
 *   explicit offset pointer means `sendfile` never moves the file position, so any fd on the
 *   inode will do, and `body.file`'s own position is left alone.
 * - `FileSend` sends `count` bytes of the fd from `offset` with nonblocking `sendfile` calls:
 *   `step()` returns true once all were sent or the file ended early (`sent` < `count`), false
 *   when the socket is full (call again on `EPOLLOUT`), and throws the mapped error (`EPIPE`,
 *   `ECONNRESET`: the client went away). The offset lives in a buffer it owns, touched only by
 *   synchronous calls. `close()` closes the fd (idempotent).
 * - `fileSendStats` counts what went through `sendfile` (for tests and diagnostics).
 */
import type { FileBody } from "../exchange.ts";
import {
  AT_EMPTY_PATH,
  ERRNO,
  F_DUPFD_CLOEXEC,
  type Libc,
  LibcError,
  MAX_IO_BYTES,
  O_CLOEXEC,
  O_RDONLY,
  STATX_BASIC_STATS,
  STATX_BYTES,
  STATX_DEV_MAJOR_OFFSET,
  STATX_DEV_MINOR_OFFSET,
  STATX_INO_OFFSET,
  toIoError,
} from "./ffi.ts";

/** Counters of the zero-copy path. */
export interface FileSendStats {
  /** Files (responses) sent with `sendfile`. */
  files: number;
  /** `sendfile` calls made. */
  calls: number;
  /** Bytes `sendfile` moved. */
  bytes: number;
  /** Bodies that could not get an fd (sent the portable way instead). */
  fallbacks: number;
}

/** Process-wide counters (see `FileSendStats`). */
export const fileSendStats: FileSendStats = { files: 0, calls: 0, bytes: 0, fallbacks: 0 };

const statBuf = new Uint8Array(STATX_BYTES);
const statView = new DataView(statBuf.buffer);
const EMPTY_PATH = new Uint8Array(1);
const encoder = new TextEncoder();

/** Linux's `makedev` (the `st_dev` Deno reports) from a major and a minor number. */
function makedev(major: number, minor: number): number {
  // (major & ~0xfff) << 32 | (major & 0xfff) << 8 | (minor & ~0xff) << 12 | (minor & 0xff)
  const hi = Math.floor(major / 4096) * 4096;
  return hi * 2 ** 32 + (major % 4096) * 256 + Math.floor(minor / 256) * 256 * 4096 +
    (minor % 256);
}

/** Whether `fd` is on the inode `dev`/`ino` (false when `statx` fails). */
function sameInode(libc: Libc, fd: number, dev: number, ino: number): boolean {
  const statx = libc.sym.statx!;
  if (statx(fd, EMPTY_PATH, AT_EMPTY_PATH, STATX_BASIC_STATS, statBuf) < 0) return false;
  const fileIno = Number(statView.getBigUint64(STATX_INO_OFFSET, true));
  if (fileIno !== ino) return false;
  const major = statView.getUint32(STATX_DEV_MAJOR_OFFSET, true);
  const minor = statView.getUint32(STATX_DEV_MINOR_OFFSET, true);
  return makedev(major, minor) === dev;
}

/** An fd of our own on `body.file`'s inode, or -1; see the module comment. */
export function fileFdOf(libc: Libc, body: FileBody): number {
  const sym = libc.sym;
  if (sym.sendfile === null || sym.statx === null || sym.open === null) return fail();
  const { dev, ino } = body;
  if (body.path !== undefined) {
    const fd = sym.open(encoder.encode(body.path + "\0"), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (sameInode(libc, fd, dev, ino)) return fd;
      sym.close(fd);
    }
  }
  let names: string[];
  try {
    names = [...Deno.readDirSync("/proc/self/fd")].map((e) => e.name);
  } catch {
    return fail();
  }
  // Newest descriptors first: the file was most likely opened recently.
  const fds = names.map(Number).filter((n) => Number.isInteger(n) && n > 2).sort((a, b) => b - a);
  for (const fd of fds) {
    if (!sameInode(libc, fd, dev, ino)) continue;
    const own = sym.fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own >= 0) return own;
  }
  return fail();
}

function fail(): number {
  fileSendStats.fallbacks++;
  return -1;
}

/** One file body in flight to a socket; see the module comment. */
export class FileSend {
  /** Bytes sent so far. */
  sent = 0;
  readonly #libc: Libc;
  readonly #out: number;
  #fd: number;
  readonly #count: number;
  readonly #offset = new BigInt64Array(1);
  readonly #offsetBytes = new Uint8Array(this.#offset.buffer);

  /** Sends `count` bytes of `fd` (owned: `close()` closes it) from `offset` to socket `out`. */
  constructor(libc: Libc, out: number, fd: number, offset: number, count: number) {
    this.#libc = libc;
    this.#out = out;
    this.#fd = fd;
    this.#offset[0] = BigInt(offset);
    this.#count = count;
    fileSendStats.files++;
  }

  /** Sends until done (true) or the socket is full (false); throws the mapped error. */
  step(): boolean {
    const libc = this.#libc;
    const sendfile = libc.sym.sendfile!;
    while (this.sent < this.#count) {
      const want = Math.min(this.#count - this.sent, MAX_IO_BYTES);
      fileSendStats.calls++;
      const n = sendfile(this.#out, this.#fd, this.#offsetBytes, BigInt(want));
      if (n > 0) {
        this.sent += n;
        fileSendStats.bytes += n;
        continue;
      }
      if (n === 0) return true; // the file ended early
      const errno = libc.errno();
      if (errno === ERRNO.EINTR) continue;
      if (errno === ERRNO.EAGAIN) return false;
      throw toIoError(new LibcError("sendfile", errno));
    }
    return true;
  }

  /** Closes the fd (idempotent). */
  close(): void {
    if (this.#fd < 0) return;
    this.#libc.sym.close(this.#fd);
    this.#fd = -1;
  }
}

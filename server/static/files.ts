/**
 * File-system side of the static-file server: resolving decoded segments to a regular file
 * inside a mount's directory, finding precompressed siblings, and streaming a byte range.
 *
 * Contract:
 * - Blocking I/O, on purpose: metadata calls (`realPathSync`, `statSync`, `openSync`, `fstat`) and
 *   the body reads are synchronous. On a local file system (page cache) each takes microseconds,
 *   while an async op costs a trip through Deno's thread pool and a full event-loop turn per step;
 *   nginx makes the same trade (blocking file I/O in its event loop). The price: a slow or network
 *   file system (NFS, FUSE, a spun-down disk) stalls every connection of the process for as long
 *   as a call takes. Serve such directories from a separate process or a reverse proxy.
 * - `resolveFile(root, segments, slash)` joins the segments under `root` (already a real path),
 *   appends `index.html` when the URL ended in `/`, and resolves symlinks with `realPath`.
 *   The real path must be `root` or below it, else 404 (a symlink escaping the directory). A
 *   directory asked for without the trailing slash gives `redirect` when it has an `index.html`
 *   (else 404: never a listing); anything that is not a regular file (FIFO, socket, device)
 *   gives 404 and is never opened.
 * - Errors map to statuses: not found, not a directory, symlink loops and over-long names → 404;
 *   permission denied → 403 (the file exists inside the public directory, and an operator
 *   debugging permissions wants to tell the two apart, as with nginx); anything else is thrown.
 * - `findSibling(file, codings, root)` returns the first of `file.br` / `file.gz` (in the given
 *   order of preference) that resolves inside `root` to a regular file.
 * - `openFile(path)` opens and `fstat`s; a file that vanished or turned into a non-file between
 *   resolving and opening gives 404. The caller owns the returned handle.
 * - `streamRange(ex, file, start, length, chunkBytes)` seeks, then reads (synchronously) into a
 *   fresh buffer per chunk (the engine may keep large chunks by reference until written) and
 *   writes each, awaiting back-pressure: a file of at most `chunkBytes` is one read and one write;
 *   a larger one yields to the event loop whenever the engine has more than 64 KiB queued (every
 *   64 KiB chunk, as those are queued by reference), so one large file never monopolises it. When the client goes away (`ex.res.aborted`, or a rejected write) it
 *   stops reading and throws a peer-gone error, so the engine closes quietly (debug log). A file
 *   that shrank mid-send ends the response short (the engine then closes the connection); one
 *   that grew is cut at `length`. It never closes `file`: the caller does, in a `finally`.
 * - `sendRange(ex, opened, path, start, length)` does the same through `Responder.sendFile`
 *   (`sendfile(2)` on the libc backend, the driver's reads otherwise); a file that shrank ends
 *   the response short (the engine logs it and closes the connection).
 */
import type { Exchange } from "../exchange.ts";

/** Where a request path leads on disk. */
export type Resolved =
  | { readonly kind: "file"; readonly path: string; readonly lexical: string }
  | { readonly kind: "redirect" }
  | { readonly kind: "status"; readonly status: 403 | 404 };

const NOT_FOUND = { kind: "status", status: 404 } as const;
const FORBIDDEN = { kind: "status", status: 403 } as const;

/** Whether `real` is `root` or inside it (both real, absolute paths). */
export function isInside(real: string, root: string): boolean {
  if (real === root) return true;
  return real.startsWith(root.endsWith("/") ? root : root + "/");
}

/** The status for a file-system error, or `null` when it is not an expected one. */
export function statusForFsError(err: unknown): 403 | 404 | null {
  if (err instanceof Deno.errors.PermissionDenied) return 403;
  if (
    err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory ||
    err instanceof Deno.errors.FilesystemLoop || err instanceof Deno.errors.IsADirectory
  ) return 404;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ENAMETOOLONG" || code === "ELOOP" || code === "ENOTDIR") return 404;
  return null;
}

/** `realPath` + containment + `stat`; a status when missing, forbidden or outside `root`. */
function realStat(
  path: string,
  root: string,
): { real: string; info: Deno.FileInfo } | { status: 403 | 404 } {
  try {
    const real = Deno.realPathSync(path);
    if (!isInside(real, root)) return { status: 404 };
    return { real, info: Deno.statSync(real) };
  } catch (err) {
    const status = statusForFsError(err);
    if (status === null) throw err;
    return { status };
  }
}

/** The path the segments name under `root`, `index.html` appended for a trailing slash. */
export function lexicalPath(root: string, segments: readonly string[], slash: boolean): string {
  const base = segments.length === 0 ? root : `${root}/${segments.join("/")}`;
  return slash ? `${base}/index.html` : base;
}

/** Resolves decoded segments under `root` (see the module comment). */
export function resolveFile(
  root: string,
  segments: readonly string[],
  slash: boolean,
): Resolved {
  const lexical = lexicalPath(root, segments, slash);
  const found = realStat(lexical, root);
  if ("status" in found) return found.status === 403 ? FORBIDDEN : NOT_FOUND;
  if (found.info.isDirectory) {
    if (slash) return NOT_FOUND;
    const index = realStat(`${found.real}/index.html`, root);
    return "info" in index && index.info.isFile ? { kind: "redirect" } : NOT_FOUND;
  }
  if (!found.info.isFile) return NOT_FOUND;
  return { kind: "file", path: found.real, lexical };
}

/** The first precompressed sibling of `lexical` for `codings` that is a file inside `root`. */
export function findSibling<C extends string>(
  lexical: string,
  codings: readonly C[],
  root: string,
  suffix: (coding: C) => string,
): { coding: C; path: string } | null {
  for (const coding of codings) {
    const found = realStat(lexical + suffix(coding), root);
    if ("info" in found && found.info.isFile) return { coding, path: found.real };
  }
  return null;
}

/** An opened regular file and its `fstat`. */
export interface Opened {
  /** The open handle; the caller closes it. */
  readonly file: Deno.FsFile;
  /** Its metadata (from the handle, so it describes exactly what is read). */
  readonly info: Deno.FileInfo;
}

/** Opens `path` for reading; a status when it vanished or is no longer a regular file. */
export function openFile(path: string): Opened | { status: 403 | 404 } {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    const status = statusForFsError(err);
    if (status === null) throw err;
    return { status };
  }
  try {
    const info = file.statSync();
    if (info.isFile) return { file, info };
  } catch (err) {
    file.close();
    throw err;
  }
  file.close();
  return { status: 404 };
}

/** Thrown when the client went away mid-body; the engine treats it as a quiet close. */
export function clientGone(cause?: unknown): Error {
  return new Deno.errors.ConnectionReset("client went away during a static file", { cause });
}

/**
 * Sends `length` bytes of `opened` from `start` through `Responder.sendFile` (zero-copy on the
 * libc backend), then ends the response. A client that went away is a peer-gone error.
 */
export async function sendRange(
  ex: Exchange,
  { file, info }: Opened,
  path: string,
  start: number,
  length: number,
): Promise<void> {
  const res = ex.res;
  const body = { file, offset: start, length, dev: info.dev, ino: info.ino ?? 0, path };
  try {
    await res.sendFile!(body);
  } catch (err) {
    throw clientGone(err);
  }
  if (res.aborted) throw clientGone();
  await res.end();
}

/** Streams `length` bytes of `file` from `start`, then ends the response (see module comment). */
export async function streamRange(
  ex: Exchange,
  file: Deno.FsFile,
  start: number,
  length: number,
  chunkBytes: number,
): Promise<void> {
  const res = ex.res;
  if (start > 0) file.seekSync(start, Deno.SeekMode.Start);
  let left = length;
  while (left > 0) {
    if (res.aborted) throw clientGone();
    const buf = new Uint8Array(left < chunkBytes ? left : chunkBytes);
    const n = file.readSync(buf);
    if (n === null) {
      ex.log("warning", `static file shrank while being sent (${left} bytes missing)`);
      break;
    }
    left -= n;
    const pending = res.write(n === buf.length ? buf : buf.subarray(0, n));
    if (pending !== undefined) {
      try {
        await pending;
      } catch (err) {
        throw clientGone(err);
      }
    }
  }
  if (res.aborted) throw clientGone();
  await res.end();
}

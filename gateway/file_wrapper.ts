/**
 * Zero-copy file bodies for both app styles: `environ["lsbaws.file_wrapper"]` (PEP 3333's
 * `wsgi.file_wrapper`, rules LS-11 and BODY-10 of types.ts) and `fileResponse` for fetch apps.
 *
 * Contract:
 * - `fileWrapper(file, blockSize?)` takes an open `Deno.FsFile`, a path or a `file:` URL (opened
 *   read-only at once, so a missing file throws in the app, as Python's `open()` does) and returns
 *   a `FileWrapper`: an iterable of fresh `blockSize`-byte chunks (default 64 KiB) read from the
 *   file's current position to its end, with `close()` closing the file (idempotent). An app or a
 *   middleware that iterates it, or wraps it, works as with any body.
 * - `fileBodyOf(wrapper, declared)` is how the runner sends a wrapper it recognises (an instance
 *   of `FileWrapper`, returned as the body itself): the `FileBody` from the file's current
 *   position, `declared` bytes when the app set a Content-Length, else the rest of the file; and
 *   `length`, the Content-Length to add when the app set none.
 * - `fileResponse(file, init?)` is `new Response(file.readable, init)` (so it also works under
 *   `Deno.serve`) that lsbaws recognises (`fileOfResponse`) and sends from the file directly.
 *   Deno offers no public way back from a stream to its file, so a plain
 *   `new Response(file.readable)` is streamed through reads instead.
 * - `contentLengthOf(headers)` reads a Content-Length the app set (-1 when none or not a number:
 *   the engine rejects an invalid one when the head is set).
 */
import type { FileBody } from "../server/exchange.ts";
import type { FileWrapperBody } from "./types.ts";

/** Default chunk size of a `FileWrapper` that is iterated. */
export const DEFAULT_BLOCK_SIZE = 64 * 1024;

/** What `lsbaws.file_wrapper` accepts: an open file, a path, or a `file:` URL. */
export type FileLike = Deno.FsFile | string | URL;

/** LS-11: the iterable `lsbaws.file_wrapper` returns; see the module comment. */
export class FileWrapper implements FileWrapperBody {
  /** The open file (closed by `close()`). */
  readonly file: Deno.FsFile;
  /** Chunk size when iterated. */
  readonly blockSize: number;
  /** The path the wrapper opened, when it was given one. */
  readonly path: string | undefined;
  #closed = false;

  /** Wraps `file` (see `fileWrapper`). */
  constructor(file: FileLike, blockSize = DEFAULT_BLOCK_SIZE) {
    if (!(Number.isSafeInteger(blockSize) && blockSize > 0)) {
      throw new TypeError(`file_wrapper: blockSize must be a positive integer, got ${blockSize}`);
    }
    this.blockSize = blockSize;
    if (file instanceof Deno.FsFile) {
      this.file = file;
      this.path = undefined;
    } else {
      const path = file instanceof URL ? decodeURIComponent(file.pathname) : file;
      if (file instanceof URL && file.protocol !== "file:") {
        throw new TypeError(`file_wrapper: not a file: URL: ${file.href}`);
      }
      this.file = Deno.openSync(path, { read: true });
      this.path = path;
    }
  }

  /** Reads `blockSize` chunks from the current position to the end of the file. */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (;;) {
      const buf = new Uint8Array(this.blockSize);
      const n = this.file.readSync(buf);
      if (n === null || n === 0) return;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  }

  /** Closes the file (idempotent; PEP 3333's `close()`). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.close();
  }
}

/** LS-11: `environ["lsbaws.file_wrapper"]`. */
export function fileWrapper(file: FileLike, blockSize?: number): FileWrapper {
  return new FileWrapper(file, blockSize);
}

/** A file body ready for `Responder.sendFile`, and the Content-Length it implies. */
export interface PreparedFile {
  /** What to send. */
  readonly body: FileBody;
  /** The rest of the file from its current position (the Content-Length when none was set). */
  readonly length: number;
}

/** The body to send for `file` (see the module comment); `declared` < 0: none set. */
export function prepareFile(file: Deno.FsFile, declared: number, path?: string): PreparedFile {
  const info = file.statSync();
  const offset = file.seekSync(0, Deno.SeekMode.Current);
  const length = Math.max(0, info.size - offset);
  return {
    body: {
      file,
      offset,
      length: declared >= 0 ? declared : length,
      dev: info.dev,
      ino: info.ino ?? 0,
      ...(path === undefined ? {} : { path }),
    },
    length,
  };
}

/** BODY-10: the file body of a wrapper the runner recognised. */
export function fileBodyOf(w: FileWrapper, declared: number): PreparedFile {
  return prepareFile(w.file, declared, w.path);
}

const responseFiles = new WeakMap<Response, Deno.FsFile>();

/** A Response whose body is `file` (from its current position), sent zero-copy by lsbaws. */
export function fileResponse(file: Deno.FsFile, init?: ResponseInit): Response {
  const resp = new Response(file.readable, init);
  responseFiles.set(resp, file);
  return resp;
}

/** The file of a `fileResponse` whose body was not touched, else null. */
export function fileOfResponse(resp: Response): Deno.FsFile | null {
  const file = responseFiles.get(resp);
  if (file === undefined || resp.bodyUsed || resp.body === null || resp.body.locked) return null;
  return file;
}

/** The Content-Length the app set, or -1 (none, or not a plain number). */
export function contentLengthOf(headers: ReadonlyArray<readonly [string, string]>): number {
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    if (name.length !== 14 || name.toLowerCase() !== "content-length") continue;
    const v = value.trim();
    return /^[0-9]{1,15}$/.test(v) ? Number(v) : -1;
  }
  return -1;
}

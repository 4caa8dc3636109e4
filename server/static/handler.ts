/**
 * The static-file responder: `createStaticHandler(mounts, options)` gives a cheap synchronous
 * `match(head)` and an async `serve(ex)` over the engine's `Exchange`. lsbaws runs it before the
 * app for `--static URL_PREFIX=DIR`; a request whose path is under a prefix is answered here in
 * full (404 included) and never reaches the app.
 *
 * Contract (what nginx, Starlette's StaticFiles or `deno serve` users expect):
 * - Mounts: the longest matching prefix wins; a prefix matches at a segment boundary only
 *   (`/static` matches `/static`, `/static/x`, `/static?q`, not `/staticx`), compared on the raw
 *   target. `/` mounts a directory over everything. Directories are resolved to real paths when
 *   the handler is created (a missing one throws).
 * - Methods: GET and HEAD; any other method gets 405 with `Allow: GET, HEAD`.
 * - Paths (see `path.ts`): 400 for malformed escapes, invalid or overlong UTF-8, NUL and control
 *   characters; 404 for `.`/`..` in any spelling, dotfiles and dot-directories, `//`, raw `\`,
 *   `%2f`/`%5c`, and symlinks resolving outside the directory (`files.ts`). The query is ignored.
 * - Directories: `/p/docs/` serves `docs/index.html`; `/p/docs` (no slash) redirects 301 to
 *   `/p/docs/` (query kept) when that index exists, as nginx does; no index → 404, never a listing.
 * - Headers: Content-Type from the extension (`mime.ts`), Content-Length always, strong ETag
 *   (size, mtime, inode, coding), Last-Modified, `Accept-Ranges: bytes`, `Vary: Accept-Encoding`
 *   on every file response (200/206/304/416: whether a `.br`/`.gz` sibling exists can change
 *   at any moment, and an extra Vary is always safe), `Cache-Control: public, max-age=N` when
 *   `maxAgeSeconds` is set.
 * - Conditionals (`conditional.ts`): If-Match / If-Unmodified-Since → 412; If-None-Match (weak
 *   comparison, `*`) → 304, else If-Modified-Since → 304. A 304 carries ETag, Last-Modified,
 *   Cache-Control and Vary, no body.
 * - Ranges, GET only (RFC 9110 §14.2; HEAD answers as for the whole file): one range → 206 with
 *   Content-Range; unsatisfiable → 416 with `Content-Range: bytes *` + `/size`; several ranges → the
 *   whole file with 200 (multipart/byteranges is not implemented); an `If-Range` that does not
 *   match → the whole file with 200. Ranges of a precompressed representation address its bytes.
 * - Precompressed siblings: `file.br`, then `file.gz` (client q-values first, `br` on a tie) when
 *   `Accept-Encoding` allows and the sibling is a regular file inside the directory; served with
 *   `Content-Encoding`, the original's Content-Type and an ETag of their own.
 * - Errors: permission denied → 403; a file that vanished between resolving and opening → 404;
 *   unexpected I/O errors are thrown (the engine answers 500 if nothing was sent yet).
 * - Bodies stream from an open `Deno.FsFile` in `chunkBytes` (64 KiB) pieces with back-pressure;
 *   those over `sendfileMinBytes` (8 KiB) go through `Responder.sendFile` instead (`sendfile(2)`
 *   on the libc backend); a client abort stops the body; the file is always closed. File-system calls are synchronous
 *   (fast on a local disk, a stall of the whole process on a slow one: see `files.ts`).
 * - Per file version (path, size, mtime, inode, coding) the ETag and Last-Modified strings are
 *   memoised (at most 1024 paths). Files up to `cacheFileBytes` (8 KiB) that have not changed
 *   for 3 s are kept in memory and revalidated by one `stat` per request (`hot_cache.ts`): a
 *   change of content, inode, permissions or symlink target, or a sibling appearing, sends the
 *   request down the full path again. Larger files are resolved and opened on every request.
 */
import type { Exchange } from "../exchange.ts";
import type { RequestHead } from "../http/request_head.ts";
import { httpDate } from "../http/http_date.ts";
import { STATUS_TEXT } from "../http/status.ts";
import {
  acceptedCodings,
  type Coding,
  fieldValue,
  ifRangeAllows,
  makeETag,
  parseRange,
  preconditions,
  type Validators,
} from "./conditional.ts";
import {
  clientGone,
  findSibling,
  lexicalPath,
  type Opened,
  openFile,
  resolveFile,
  sendRange,
  streamRange,
} from "./files.ts";
import { HotCache, type HotEntry, readWhole, stampOf, statOrNull } from "./hot_cache.ts";
import { contentTypeOf } from "./mime.ts";
import {
  decodeStaticPath,
  mountRest,
  normalizePrefix,
  type StaticMount,
  targetPath,
} from "./path.ts";

/** Options for `createStaticHandler`. */
export interface StaticOptions {
  /** Adds `Cache-Control: public, max-age=N` to file responses (a non-negative integer). */
  maxAgeSeconds?: number;
  /** Read size for bodies (default 64 KiB). */
  chunkBytes?: number;
  /**
   * Bodies larger than this go through `Responder.sendFile` (zero-copy `sendfile(2)` on the libc
   * backend) instead of reads (default `SENDFILE_MIN_BYTES`).
   */
  sendfileMinBytes?: number;
  /**
   * Files up to this size are kept in the stat-validated small-file cache (`hot_cache.ts`;
   * default `sendfileMinBytes`, 0 disables it).
   */
  cacheFileBytes?: number;
  /** A file changed less than this long ago is not cached (ms, default 3000; tests lower it). */
  cacheMinAgeMs?: number;
}

/** A mount with its directory resolved to a real path. */
export interface ResolvedMount extends StaticMount {
  /** The directory's real, absolute path. */
  readonly root: string;
}

/** The static-file responder. */
export interface StaticHandler {
  /** The mounts, longest prefix first. */
  readonly mounts: readonly ResolvedMount[];
  /** Whether `head` is for a static mount: a synchronous prefix check, no allocation for origin-form. */
  match(head: RequestHead): boolean;
  /** Answers a request `match` accepted (404 for one it would not have). */
  serve(ex: Exchange): Promise<void>;
  /** Files held in the small-file cache now. */
  readonly cachedFiles: number;
}

const DEFAULT_CHUNK = 64 * 1024;
/**
 * Default `sendfileMinBytes`. Measured with the libc backend (wrk, 16 connections, 2 cores):
 * reads and `sendfile` serve 2 and 8 KiB files equally fast (the extra `open`/`statx`/`close`
 * of the zero-copy path cost what the copy saves); from 16 KiB `sendfile` is ahead (about 2x at
 * 16 KiB, 4x at 256 KiB).
 */
export const SENDFILE_MIN_BYTES = 8 * 1024;
const SUFFIX: Record<Coding, string> = { br: ".br", gzip: ".gz" };
const suffixOf = (c: Coding): string => SUFFIX[c];
type Fields = Array<[string, string]>;

/** Creates the responder; throws `Error` for a bad option, a duplicate prefix or a missing dir. */
export function createStaticHandler(
  mounts: readonly StaticMount[],
  options: StaticOptions = {},
): StaticHandler {
  const { maxAgeSeconds, chunkBytes = DEFAULT_CHUNK } = options;
  const zeroCopyMin = options.sendfileMinBytes ?? SENDFILE_MIN_BYTES;
  const hot = new HotCache({
    maxFileBytes: options.cacheFileBytes ?? zeroCopyMin,
    minAgeMs: options.cacheMinAgeMs,
  });
  if (maxAgeSeconds !== undefined && !(Number.isSafeInteger(maxAgeSeconds) && maxAgeSeconds >= 0)) {
    throw new Error(`invalid static max-age ${maxAgeSeconds}: expected an integer >= 0`);
  }
  if (!(Number.isSafeInteger(chunkBytes) && chunkBytes > 0)) {
    throw new Error(`invalid static chunk size ${chunkBytes}`);
  }
  const resolved = mounts.map((m) => resolveMount(m));
  const seen = new Set<string>();
  for (const m of resolved) {
    if (seen.has(m.prefix)) throw new Error(`--static: URL prefix '${m.prefix || "/"}' used twice`);
    seen.add(m.prefix);
  }
  resolved.sort((a, b) => b.prefix.length - a.prefix.length);
  const cache: Fields = maxAgeSeconds === undefined
    ? []
    : [["Cache-Control", `public, max-age=${maxAgeSeconds}`]];
  const find = (path: string): ResolvedMount | undefined =>
    resolved.find((m) => mountRest(path, m.prefix) !== null);

  return {
    mounts: resolved,
    get cachedFiles() {
      return hot.size;
    },
    match(head: RequestHead): boolean {
      const t = head.target;
      if (t.charCodeAt(0) === 0x2f) {
        for (let i = 0; i < resolved.length; i++) {
          const p = resolved[i].prefix;
          if (!t.startsWith(p)) continue;
          const c = t.charCodeAt(p.length);
          if (c !== c || c === 0x2f || c === 0x3f) return true; // end, "/" or "?"
        }
        return false;
      }
      const tp = head.targetForm === "absolute" ? targetPath(t, "absolute") : null;
      return tp !== null && find(tp.path) !== undefined;
    },
    async serve(ex: Exchange): Promise<void> {
      const head = ex.head;
      const tp = targetPath(head.target, head.targetForm);
      const mount = tp === null ? undefined : find(tp.path);
      if (tp === null || mount === undefined) return plain(ex, 404);
      if (head.method !== "GET" && head.method !== "HEAD") {
        return plain(ex, 405, [["Allow", "GET, HEAD"]]);
      }
      const decoded = decodeStaticPath(mountRest(tp.path, mount.prefix)!);
      if (decoded.kind === "reject") {
        ex.log("debug", `static: ${decoded.status} for ${head.target}: ${decoded.reason}`);
        return plain(ex, decoded.status);
      }
      const codings = acceptedCodings(fieldValue(head.headers, "accept-encoding"));
      const lexical = lexicalPath(mount.root, decoded.segments, decoded.slash);
      const key = codings.length === 0 ? lexical : `${lexical}\n${codings.join(",")}`;
      const hit = hot.lookup(key);
      if (hit !== null) {
        return sendFile(
          ex,
          hit,
          hit.realPath,
          hit.type,
          hit.coding,
          cache,
          chunkBytes,
          zeroCopyMin,
        );
      }
      // The directory's stamp is taken before the siblings are looked for: a sibling created in
      // between changes the directory after the stamp, so the entry is dropped at its next use.
      const dirPath = lexical.slice(0, lexical.lastIndexOf("/"));
      const dirInfo = codings.length === 0 || !hot.enabled ? null : statOrNull(dirPath);
      const found = resolveFile(mount.root, decoded.segments, decoded.slash);
      if (found.kind === "status") return plain(ex, found.status);
      if (found.kind === "redirect") {
        const location = `${tp.path}/${tp.query}`;
        if (location.startsWith("//")) return plain(ex, 404); // never a protocol-relative URL
        return plain(ex, 301, [["Location", location]]);
      }
      const sibling = codings.length === 0
        ? null
        : findSibling(found.lexical, codings, mount.root, suffixOf);
      const realPath = sibling?.path ?? found.path;
      const opened = openFile(realPath);
      if ("status" in opened) return plain(ex, opened.status);
      const type = contentTypeOf(found.lexical);
      let body: Body = opened;
      try {
        if ((codings.length === 0 || dirInfo !== null) && hot.accepts(opened.info, dirInfo)) {
          const bytes = readWhole(opened.file, opened.info.size);
          if (bytes !== null) {
            const entry: HotEntry = {
              statPath: sibling === null ? found.lexical : found.lexical + suffixOf(sibling.coding),
              realPath,
              coding: sibling?.coding,
              type,
              info: opened.info,
              bytes,
              dir: dirInfo === null ? null : { path: dirPath, stamp: stampOf(dirInfo) },
            };
            hot.store(key, entry);
            body = entry;
          }
        }
        await sendFile(ex, body, realPath, type, sibling?.coding, cache, chunkBytes, zeroCopyMin);
      } finally {
        opened.file.close();
      }
    },
  };
}

function resolveMount(m: StaticMount): ResolvedMount {
  const prefix = normalizePrefix(m.prefix === "" ? "/" : m.prefix);
  const what = `--static ${prefix || "/"}=${m.dir}`;
  let root: string;
  try {
    root = Deno.realPathSync(m.dir);
  } catch (err) {
    throw new Error(`${what}: cannot open directory: ${(err as Error).message}`, { cause: err });
  }
  if (!Deno.statSync(root).isDirectory) throw new Error(`${what}: not a directory`);
  return { prefix, dir: m.dir, root };
}

/** What a response body comes from: an open file, or the bytes of a cached one. */
type Body = Opened | HotEntry;

/** Writes `bytes` as the rest of the body and ends the response; a gone client is peer-gone. */
function sendBytes(ex: Exchange, bytes: Uint8Array): Promise<void> | undefined {
  const res = ex.res;
  const pending = res.write(bytes);
  if (pending === undefined) {
    if (res.aborted) throw clientGone();
    return res.end();
  }
  return pending.then(() => {
    if (res.aborted) throw clientGone();
    return res.end();
  }, (err) => {
    throw clientGone(err);
  });
}

function sendFile(
  ex: Exchange,
  body: Body,
  path: string,
  type: string,
  coding: Coding | undefined,
  cache: Fields,
  chunkBytes: number,
  zeroCopyMin: number,
): Promise<void> | undefined {
  const headers = ex.head.headers;
  const info = body.info;
  const size = info.size;
  const v = versionOf(path, info, coding ?? "");
  const common: Fields = [
    ["ETag", v.etag],
    ["Last-Modified", v.lastModified],
    ["Vary", "Accept-Encoding"],
    ...cache,
  ];
  const pre = preconditions(headers, v);
  if (pre === 304) {
    ex.res.head(304, common);
    return ex.res.end();
  }
  if (pre === 412) return plain(ex, 412, common);
  const out: Fields = [...common, ["Content-Type", type], ["Accept-Ranges", "bytes"]];
  if (coding !== undefined) out.push(["Content-Encoding", coding]);
  let status = 200;
  let start = 0;
  let length = size;
  const range = ex.head.method === "GET" ? rangeField(headers) : null;
  if (range !== null) {
    const ifRange = fieldValue(headers, "if-range");
    const r = ifRange === null || ifRangeAllows(ifRange, v) ? parseRange(range, size) : null;
    if (r?.kind === "unsatisfiable") {
      return plain(ex, 416, [...common, ["Content-Range", `bytes */${size}`]]);
    }
    if (r?.kind === "range") {
      status = 206;
      start = r.start;
      length = r.end - r.start + 1;
      out.push(["Content-Range", `bytes ${r.start}-${r.end}/${size}`]);
    }
  }
  out.push(["Content-Length", String(length)]);
  ex.res.head(status, out);
  if (ex.head.method === "HEAD" || length === 0) return ex.res.end();
  if ("bytes" in body) {
    const b = body.bytes;
    return sendBytes(ex, length === b.length ? b : b.subarray(start, start + length));
  }
  if (length > zeroCopyMin && ex.res.sendFile !== undefined) {
    return sendRange(ex, body, path, start, length);
  }
  return streamRange(ex, body.file, start, length, chunkBytes);
}

/** The validators of one version of a file, with `Last-Modified` already formatted. */
interface Version extends Validators {
  readonly size: number;
  readonly ino: number;
  readonly coding: string;
  readonly lastModified: string;
}

const VERSIONS_MAX = 1024;
const versions = new Map<string, Version>();

/**
 * The validators for the file at `path` as `info` (its `fstat`) describes it: memoised per path
 * (at most `VERSIONS_MAX` entries, then the memo starts afresh) and reused only while size, mtime,
 * inode and coding are all unchanged, so it holds derived strings only, never stale metadata.
 */
function versionOf(path: string, info: Deno.FileInfo, coding: string): Version {
  const size = info.size;
  const mtimeMs = info.mtime?.getTime() ?? 0;
  const ino = info.ino ?? 0;
  const old = versions.get(path);
  if (
    old !== undefined && old.size === size && old.mtimeMs === mtimeMs && old.ino === ino &&
    old.coding === coding
  ) return old;
  const v: Version = {
    etag: makeETag(size, mtimeMs, ino, coding),
    mtimeMs,
    size,
    ino,
    coding,
    lastModified: httpDate(mtimeMs),
  };
  if (old === undefined && versions.size >= VERSIONS_MAX) versions.clear();
  versions.set(path, v);
  return v;
}

/** The Range field when sent exactly once (a repeated one is invalid and ignored). */
function rangeField(headers: RequestHead["headers"]): string | null {
  let value: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    if (headers[i][0] !== "range") continue;
    if (value !== null) return null;
    value = headers[i][1];
  }
  return value;
}

const encoder = new TextEncoder();
const BODIES = new Map<number, Uint8Array>();

/** A short text/plain response for `status` (no body for HEAD). */
async function plain(ex: Exchange, status: number, extra: Fields = []): Promise<void> {
  let body = BODIES.get(status);
  if (body === undefined) {
    body = encoder.encode(`${status} ${STATUS_TEXT[status] ?? ""}\n`);
    BODIES.set(status, body);
  }
  ex.res.head(status, [
    ...extra,
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ]);
  if (ex.head.method !== "HEAD") await ex.res.write(body);
  await ex.res.end();
}

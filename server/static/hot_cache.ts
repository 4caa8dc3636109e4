/**
 * The static responder's small-file cache: the bytes and metadata of files up to a few KiB, kept
 * across requests and revalidated by one `stat` per request instead of the `realpath`, `stat`,
 * `open`, `fstat`, `read` and `close` a cold request costs (about 20 µs on this hardware, more
 * than the rest of a small response).
 *
 * Contract:
 * - An entry is keyed by the request's lexical path (the mount's real root joined with the
 *   decoded segments, `index.html` appended for a trailing slash) plus the codings the client
 *   accepts, and records which file was chosen (the original or a `.br`/`.gz` sibling), its
 *   bytes, its metadata and, when codings were considered, the metadata of the directory that
 *   holds the siblings.
 * - `lookup(key)` stats the chosen file's lexical path (following symlinks, as resolving did)
 *   and, for an entry that considered codings, the directory; the entry is used only when
 *   device, inode, size, mtime and ctime are all unchanged. Same inode and same ctime means the
 *   same bytes (every write, truncate, chmod or link change moves ctime), and that inode was
 *   found inside the mount's directory when the entry was made; any difference, or any error
 *   from `stat`, drops the entry and the request takes the cold path, which applies every rule
 *   again (containment, dotfiles, permissions, siblings).
 * - Timestamps have a coarse clock (and Deno reports ctime to the second), so a write landing
 *   in the same tick as our read could leave ctime unchanged. `accepts` therefore refuses a file
 *   whose ctime or mtime is less than `minAgeMs` (default 3 s) old, as git does for its "racy"
 *   index entries: any later write then moves ctime to a visibly different value.
 * - A directory's metadata changes when an entry is created, removed or renamed in it, so a
 *   sibling appearing or vanishing next to the file invalidates entries that considered
 *   codings. (A sibling that is a dangling symlink whose target appears later is not noticed
 *   until the entry is dropped; the response is then the identity encoding, still correct.)
 * - Bounded: files up to `maxFileBytes` only, at most `maxEntries` entries and `maxTotalBytes`
 *   bytes; inserting beyond either evicts the oldest entries. Cached bytes are never written
 *   to: responses send them (or a subarray for a range) by reference.
 */

/** The identity of one version of a file (or directory) as `stat` reports it. */
export interface Stamp {
  /** Device id. */
  readonly dev: number;
  /** Inode number. */
  readonly ino: number;
  /** Size in bytes. */
  readonly size: number;
  /** Modification time, ms since the epoch. */
  readonly mtimeMs: number;
  /** Status-change time, ms since the epoch. */
  readonly ctimeMs: number;
}

/** One cached file. */
export interface HotEntry {
  /** The lexical path that was stat-validated (the original, or original + `.br`/`.gz`). */
  readonly statPath: string;
  /** The chosen file's real path (for the ETag memo). */
  readonly realPath: string;
  /** The coding of the chosen file, undefined for the original. */
  readonly coding: "br" | "gzip" | undefined;
  /** Content-Type of the original. */
  readonly type: string;
  /** Metadata of the chosen file when its bytes were read (`fstat` of the open handle). */
  readonly info: Deno.FileInfo;
  /** The whole file. */
  readonly bytes: Uint8Array;
  /** Stamp of the directory holding the siblings, when codings were considered. */
  readonly dir: { readonly path: string; readonly stamp: Stamp } | null;
}

/** Limits of a `HotCache`. */
export interface HotCacheOptions {
  /** Largest file cached (bytes); 0 disables the cache. */
  maxFileBytes: number;
  /** Most entries kept (default 1024). */
  maxEntries?: number;
  /** Most bytes kept over all entries (default 8 MiB). */
  maxTotalBytes?: number;
  /** A file changed less than this long ago is not cached (ms, default 3000). */
  minAgeMs?: number;
}

/** The stamp of `info`. */
export function stampOf(info: Deno.FileInfo): Stamp {
  return {
    dev: info.dev,
    ino: info.ino ?? 0,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ctimeMs: info.ctime?.getTime() ?? 0,
  };
}

function sameStamp(a: Stamp, info: Deno.FileInfo): boolean {
  return a.ino === (info.ino ?? 0) && a.size === info.size && a.dev === info.dev &&
    a.mtimeMs === (info.mtime?.getTime() ?? 0) && a.ctimeMs === (info.ctime?.getTime() ?? 0);
}

/** Stats `path` (following symlinks); null on any error (the caller takes the cold path). */
export function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** The cache (see the module comment). */
export class HotCache {
  readonly #entries = new Map<string, HotEntry>();
  readonly #maxFile: number;
  readonly #maxEntries: number;
  readonly #maxTotal: number;
  readonly #minAge: number;
  #total = 0;

  /** A cache with the given limits. */
  constructor(o: HotCacheOptions) {
    this.#maxFile = o.maxFileBytes;
    this.#maxEntries = o.maxEntries ?? 1024;
    this.#maxTotal = o.maxTotalBytes ?? 8 * 1024 * 1024;
    this.#minAge = o.minAgeMs ?? 3000;
  }

  /** Whether the cache keeps anything at all. */
  get enabled(): boolean {
    return this.#maxFile > 0 && this.#maxEntries > 0;
  }

  /**
   * Whether a file `info` describes (in a directory `dir` describes, when codings count) may be
   * cached: small enough, and neither changed less than `minAgeMs` before `now`.
   */
  accepts(info: Deno.FileInfo, dir: Deno.FileInfo | null, now = Date.now()): boolean {
    if (info.size > this.#maxFile || info.size > this.#maxTotal || !this.enabled) return false;
    const s = stampOf(info);
    const newest = Math.max(s.ctimeMs, s.mtimeMs, dir === null ? 0 : stampOf(dir).ctimeMs);
    return now - newest >= this.#minAge;
  }

  /** Number of entries (for tests). */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `key` if the files it depends on are unchanged, else null (and it is dropped). */
  lookup(key: string): HotEntry | null {
    const e = this.#entries.get(key);
    if (e === undefined) return null;
    const info = statOrNull(e.statPath);
    let ok = info !== null && info.isFile && sameStamp(stampOf(e.info), info);
    if (ok && e.dir !== null) {
      const d = statOrNull(e.dir.path);
      ok = d !== null && sameStamp(e.dir.stamp, d);
    }
    if (ok) return e;
    this.#drop(key, e);
    return null;
  }

  /**
   * Keeps `entry` (whose file `accepts` allowed) under `key`, evicting the oldest entries to stay
   * within the limits.
   */
  store(key: string, entry: HotEntry): void {
    const old = this.#entries.get(key);
    if (old !== undefined) this.#drop(key, old);
    while (
      this.#entries.size >= this.#maxEntries ||
      this.#total + entry.bytes.length > this.#maxTotal
    ) {
      const [k, e] = this.#entries.entries().next().value!;
      this.#drop(k, e);
    }
    this.#entries.set(key, entry);
    this.#total += entry.bytes.length;
  }

  #drop(key: string, e: HotEntry): void {
    this.#entries.delete(key);
    this.#total -= e.bytes.length;
  }
}

/**
 * Reads the whole of `file` (`size` bytes from the start) into a fresh buffer; null when it holds
 * a different number of bytes than `size` (changed under us: do not cache). Leaves the position
 * at the start again.
 */
export function readWhole(file: Deno.FsFile, size: number): Uint8Array | null {
  const buf = new Uint8Array(size + 1);
  let at = 0;
  for (;;) {
    const n = file.readSync(at === 0 ? buf : buf.subarray(at));
    if (n === null) break;
    at += n;
    if (at > size) break;
  }
  file.seekSync(0, Deno.SeekMode.Start);
  return at === size ? buf.subarray(0, size) : null;
}

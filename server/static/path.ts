/**
 * URL side of the static-file server: the `URL_PREFIX=DIR` mount syntax, the cheap prefix
 * match, and the strict decoding of the rest of the path into file-name segments.
 *
 * Contract (pure, synchronous, no `Deno.*`):
 * - `parseStaticMount(spec)` splits at the first `=`. The prefix must start with `/` and be made
 *   of unreserved/sub-delim characters (no `%`, `?`, `#`, `\`), with no empty, `.` or `..`
 *   segments; a trailing `/` is dropped (`/` itself becomes the root mount, stored as `""`).
 *   The directory must be non-empty. Anything else throws an `Error` naming the bad value.
 *   `parseStaticMounts(specs)` parses every value and also refuses a URL prefix given twice.
 * - `targetPath(target, form)` finds the path and query of an origin- or absolute-form target
 *   (`null` for authority/asterisk forms); `mountRest(path, prefix)` is the path after a mount
 *   prefix when the prefix matches at a segment boundary, else `null`. Both compare raw bytes:
 *   `/st%61tic/` does not match `/static`.
 * - `decodeStaticPath(rest)` turns the raw rest (`""`, `/`, `/a/b%20c.txt`, `/docs/`) into
 *   decoded segments plus "ends in a slash", or a rejection:
 *   - 400: a malformed `%` escape, percent-encoded bytes that are not valid UTF-8 (overlong
 *     forms and surrogates included), NUL / `%00` and other control characters.
 *   - 404: empty interior segments (`//`), raw `\`, encoded `/` or `\` (`%2f`, `%5c`), and any
 *     segment whose decoded form starts with `.` (`.`, `..`, `%2e%2e`, `.git`, `.env`).
 *   No normalisation is done, so the segments can be joined under a directory without leaving it
 *   lexically; symlinks are the file system side's concern (`serve.ts`).
 */

/** One `--static` mount: URL prefix (no trailing slash; `""` for `/`) and a directory. */
export interface StaticMount {
  /** URL prefix, e.g. `/static`; `""` mounts the directory at the root. */
  readonly prefix: string;
  /** Directory on disk (relative paths are relative to the working directory). */
  readonly dir: string;
}

// RFC 3986 unreserved and sub-delims plus ":" and "@" (pchar without pct-encoded).
const PREFIX_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$/;

/** Parses the CLI form `URL_PREFIX=DIR` (see the module comment); throws `Error` when invalid. */
export function parseStaticMount(spec: string): StaticMount {
  const eq = spec.indexOf("=");
  if (eq < 0) throw new Error(`invalid --static '${spec}': expected URL_PREFIX=DIR`);
  const dir = spec.slice(eq + 1);
  return { prefix: normalizePrefix(spec.slice(0, eq), spec), dir: checkDir(dir, spec) };
}

/** Parses every `--static` value (see `parseStaticMount`); throws for a prefix given twice. */
export function parseStaticMounts(specs: readonly string[]): StaticMount[] {
  const mounts = specs.map(parseStaticMount);
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.prefix)) throw new Error(`--static: URL prefix '${m.prefix || "/"}' used twice`);
    seen.add(m.prefix);
  }
  return mounts;
}

/** Validates and normalises a mount prefix (see `parseStaticMount`). */
export function normalizePrefix(prefix: string, spec = prefix): string {
  if (!prefix.startsWith("/")) {
    throw new Error(`invalid --static '${spec}': URL prefix must start with '/'`);
  }
  const trimmed = prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (trimmed === "/") return "";
  for (const seg of trimmed.slice(1).split("/")) {
    if (!PREFIX_SEGMENT.test(seg) || seg === "." || seg === "..") {
      throw new Error(
        `invalid --static '${spec}': bad URL prefix segment '${seg}' (use plain characters, ` +
          `no '%', '?', '#', '\\', empty, '.' or '..' segments)`,
      );
    }
  }
  return trimmed;
}

function checkDir(dir: string, spec: string): string {
  if (dir === "") throw new Error(`invalid --static '${spec}': empty directory`);
  if (dir.includes("\0")) throw new Error(`invalid --static '${spec}': NUL in directory`);
  return dir;
}

/** Where the path of `target` starts and ends (the query starts at `end`). */
export interface TargetPath {
  /** The raw path (may be `""` for an absolute-form target without one). */
  readonly path: string;
  /** The raw query including its `?`, or `""`. */
  readonly query: string;
}

/** The path and query of an origin- or absolute-form target; `null` for other forms. */
export function targetPath(target: string, form: string): TargetPath | null {
  let start = 0;
  if (form === "absolute") {
    const scheme = target.indexOf("://");
    if (scheme < 0) return null;
    start = scheme + 3;
    while (start < target.length) {
      const c = target.charCodeAt(start);
      if (c === 0x2f || c === 0x3f) break; // "/" or "?"
      start++;
    }
  } else if (form !== "origin") {
    return null;
  }
  const q = target.indexOf("?", start);
  if (q < 0) return { path: target.slice(start), query: "" };
  return { path: target.slice(start, q), query: target.slice(q) };
}

/**
 * The path after `prefix` when `path` equals it or continues with `/`; `null` otherwise. For the
 * root mount (`""`) every path matches (an empty path counts as `/`).
 */
export function mountRest(path: string, prefix: string): string | null {
  if (prefix === "") return path === "" ? "/" : path.charCodeAt(0) === 0x2f ? path : null;
  if (!path.startsWith(prefix)) return null;
  if (path.length === prefix.length) return "";
  return path.charCodeAt(prefix.length) === 0x2f ? path.slice(prefix.length) : null;
}

/** A decoded path under a mount, or why it is refused. */
export type DecodedPath =
  | {
    readonly kind: "ok";
    /** Decoded segments, each a plain file name (no `/`, `\`, NUL; not starting with `.`). */
    readonly segments: readonly string[];
    /** True when the path ends in `/` (a directory was asked for). */
    readonly slash: boolean;
  }
  | { readonly kind: "reject"; readonly status: 400 | 404; readonly reason: string };

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function reject(status: 400 | 404, reason: string): DecodedPath {
  return { kind: "reject", status, reason };
}

/** Decodes the raw path after a mount prefix; see the module comment for the rules. */
export function decodeStaticPath(rest: string): DecodedPath {
  if (rest === "") return { kind: "ok", segments: [], slash: false };
  if (rest.charCodeAt(0) !== 0x2f) return reject(404, "path does not start with '/'");
  const raw = rest.slice(1).split("/");
  const slash = raw[raw.length - 1] === "";
  if (slash) raw.pop();
  const segments: string[] = [];
  for (const seg of raw) {
    if (seg === "") return reject(404, "empty path segment");
    let pct = false;
    for (let i = 0; i < seg.length; i++) {
      const c = seg.charCodeAt(i);
      if (c <= 0x20 || c >= 0x7f) return reject(400, "raw control, space or non-ASCII in path");
      if (c === 0x25) pct = true;
    }
    let decoded = seg;
    if (pct) {
      const bytes = new Uint8Array(seg.length);
      let n = 0;
      for (let i = 0; i < seg.length; i++) {
        const c = seg.charCodeAt(i);
        if (c !== 0x25) {
          bytes[n++] = c;
          continue;
        }
        const hi = hex(seg.charCodeAt(i + 1));
        const lo = hex(seg.charCodeAt(i + 2));
        if (hi < 0 || lo < 0) return reject(400, "malformed percent-escape");
        bytes[n++] = hi * 16 + lo;
        i += 2;
      }
      try {
        decoded = fatalUtf8.decode(bytes.subarray(0, n));
      } catch {
        return reject(400, "percent-encoded bytes are not valid UTF-8");
      }
    }
    for (let i = 0; i < decoded.length; i++) {
      const c = decoded.charCodeAt(i);
      if (c < 0x20 || c === 0x7f) return reject(400, "control character in path");
      if (c === 0x2f || c === 0x5c) return reject(404, "slash or backslash inside a segment");
    }
    if (decoded.charCodeAt(0) === 0x2e) return reject(404, "dot segment or dotfile");
    segments.push(decoded);
  }
  return { kind: "ok", segments, slash };
}

/**
 * Access-log line formats written as templates, the way gunicorn's `--access-logformat` reads
 * them, and the escaping and time helpers the built-in common format shares.
 *
 * Contract:
 * - `compileAccessFormat(template)` turns a template such as
 *   `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s` into a function
 *   `(record, pid) => line` (the line ends with a newline). `%(NAME)s` is an atom, `%%` a literal
 *   `%`; any other text is copied as it is. An unknown atom throws `AccessFormatError` naming it
 *   and listing the known ones, so a typo stops the start (exit 2) instead of logging garbage.
 * - The atoms, with gunicorn's names: `h` client address, `l` "-", `u` the user of a Basic
 *   `Authorization` header (else "-"), `t` the time `[10/Oct/2026:13:55:36 +0000]`, `r` the
 *   request line, `m` method, `U` path, `q` query string, `H` protocol, `s` status, `B` response
 *   body bytes, `b` the same or "-" for none, `f` Referer, `a` User-Agent (each "-" when absent),
 *   `T` seconds (whole), `M` milliseconds, `D` microseconds, `L` seconds with six decimals, `p`
 *   `<pid>`, `{Header-Name}i` any request header (repeats joined with ", "; "-" when absent).
 * - `AccessRecord` (re-exported by `server/log.ts`) is what a finished request leaves for the log.
 * - Every value that comes from the request is escaped (`esc`: quotes, backslashes, control and
 *   non-ASCII bytes as `\xNN`), so a client cannot forge a line.
 */

/** One finished request, as recorded in the access log. */
export interface AccessRecord {
  /** Client address. */
  remote: string;
  /** Request method. */
  method: string;
  /** Raw request target. */
  target: string;
  /** "HTTP/1.0" or "HTTP/1.1". */
  version: string;
  /** Response status. */
  status: number;
  /** Request body bytes received. */
  bytesIn: number;
  /** Response bytes sent (head and body). */
  bytesOut: number;
  /** Response body bytes sent. */
  bodyBytes: number;
  /** The request's header fields (lowercase names), for `%({Name}i)s` in a template. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** Time from the end of the request head to the end of the response, in ms. */
  durationMs: number;
  /** Request id (X-Request-ID or generated). */
  requestId: string;
  /** Referer header or "". */
  referer: string;
  /** User-Agent header or "". */
  userAgent: string;
  /** Completion time (ms since epoch). */
  time: number;
}

/** An access-log template that cannot be used; the message is for the operator. */
export class AccessFormatError extends Error {
  override name = "AccessFormatError";
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `10/Oct/2026:13:55:36 +0000` (the common log format's time, in UTC). */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => (n < 10 ? `0${n}` : `${n}`);
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${
    p(d.getUTCHours())
  }:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Escapes `"`, `\` and control or non-ASCII characters (`\xNN`) for a log line. */
export function esc(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\\"\x00-\x1f\x7f-\xff]/g, (c) => {
    const h = c.charCodeAt(0).toString(16).padStart(2, "0");
    return c === '"' ? '\\"' : c === "\\" ? "\\\\" : `\\x${h}`;
  });
}

type Atom = (r: AccessRecord, pid: number) => string;

const orDash = (s: string) => (s === "" ? "-" : esc(s));

/** The user name of a Basic `Authorization` header, or "". */
function basicUser(r: AccessRecord): string {
  const auth = requestHeader(r, "authorization");
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
  if (m === null) return "";
  try {
    const decoded = atob(m[1]);
    const colon = decoded.indexOf(":");
    return colon < 0 ? "" : decoded.slice(0, colon);
  } catch {
    return "";
  }
}

/** A request header's value (repeats joined with ", "), "" when absent. */
function requestHeader(r: AccessRecord, lowerName: string): string {
  let out = "";
  for (const [name, value] of r.headers) {
    if (name === lowerName) out = out === "" ? value : `${out}, ${value}`;
  }
  return out;
}

const ATOMS: Record<string, Atom> = {
  h: (r) => esc(r.remote),
  l: () => "-",
  u: (r) => orDash(basicUser(r)),
  t: (r) => `[${clfTime(r.time)}]`,
  r: (r) => `${esc(r.method)} ${esc(r.target)} ${r.version}`,
  m: (r) => esc(r.method),
  U: (r) => {
    const q = r.target.indexOf("?");
    return esc(q < 0 ? r.target : r.target.slice(0, q));
  },
  q: (r) => {
    const q = r.target.indexOf("?");
    return q < 0 ? "" : esc(r.target.slice(q + 1));
  },
  H: (r) => r.version,
  s: (r) => String(r.status),
  B: (r) => String(r.bodyBytes),
  b: (r) => (r.bodyBytes === 0 ? "-" : String(r.bodyBytes)),
  f: (r) => orDash(r.referer),
  a: (r) => orDash(r.userAgent),
  T: (r) => String(Math.floor(r.durationMs / 1000)),
  M: (r) => String(Math.round(r.durationMs)),
  D: (r) => String(Math.round(r.durationMs * 1000)),
  L: (r) => (r.durationMs / 1000).toFixed(6),
  p: (_r, pid) => `<${pid}>`,
};

const KNOWN = `${Object.keys(ATOMS).join(" ")} {Header-Name}i`;

/** Compiles a gunicorn-style template; see the module comment. */
export function compileAccessFormat(template: string): (r: AccessRecord, pid: number) => string {
  const parts: Array<string | Atom> = [];
  const re = /%\(([^)]*)\)s|%%/g;
  let last = 0;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    last = re.lastIndex;
    if (m[0] === "%%") {
      parts.push("%");
      continue;
    }
    const name = m[1];
    const header = /^\{([!#$%&'*+.^_`|~0-9A-Za-z-]+)\}i$/.exec(name);
    if (header !== null) {
      const lower = header[1].toLowerCase();
      parts.push((r) => orDash(requestHeader(r, lower)));
    } else if (Object.hasOwn(ATOMS, name)) {
      parts.push(ATOMS[name]);
    } else {
      throw new AccessFormatError(
        `--access-log-format: unknown atom %(${name})s; known: ${KNOWN} (as %(NAME)s)`,
      );
    }
  }
  if (last < template.length) parts.push(template.slice(last));
  return (r, pid) => {
    let line = "";
    for (const p of parts) line += typeof p === "string" ? p : p(r, pid);
    return line + "\n";
  };
}

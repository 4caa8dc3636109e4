/**
 * Validators and request negotiation for static files: ETags, HTTP dates, preconditions
 * (RFC 9110 §13), byte ranges (RFC 9110 §14) and `Accept-Encoding` (RFC 9110 §12.5.3).
 *
 * Contract (pure, synchronous, no `Deno.*`):
 * - `makeETag(size, mtimeMs, ino, coding)` is a strong, quoted tag; each content coding gets its
 *   own tag (`"…-br"`), as RFC 9110 §8.8.3 requires for different representations.
 * - `parseHttpDate` accepts the three HTTP-date forms of RFC 9110 §5.6.7 (IMF-fixdate, RFC 850,
 *   asctime), always as GMT; anything else is `null`.
 * - `preconditions(headers, v)` follows the order of RFC 9110 §13.2.2: If-Match (strong
 *   comparison; failure → 412), else If-Unmodified-Since (→ 412), then If-None-Match (weak
 *   comparison, `*` matches; → 304), else If-Modified-Since (→ 304). Dates have one-second
 *   resolution, so `Last-Modified` is compared truncated to seconds. Invalid dates and
 *   multi-member date fields are ignored (RFC 9110 §13.1.3, §13.1.4).
 * - `parseRange(value, size)` handles `bytes=a-b`, `bytes=a-` and `bytes=-n` (unit
 *   case-insensitive). A syntactically invalid value or another unit is ignored (`none`); two or
 *   more ranges give `multi` (the caller sends the whole file: multipart/byteranges is not
 *   implemented); a single range that cannot be satisfied gives `unsatisfiable` (→ 416).
 *   `last-pos` past the end is clamped to the last byte.
 * - `ifRangeAllows(value, v)` is true when an `If-Range` entity-tag strongly matches, or its date
 *   equals `Last-Modified` exactly; weak tags and other values never match.
 * - `acceptedCodings(value)` lists `br` and `gzip` (`x-gzip` is an alias) in the order the client
 *   prefers them by q-value, `br` first on a tie; `*` covers a coding not listed and `q=0`
 *   excludes one.
 */

/** Header fields as the engine gives them: lowercase names. */
export type Headers = ReadonlyArray<readonly [string, string]>;

/** The validators of one representation. */
export interface Validators {
  /** The strong entity-tag, quoted. */
  readonly etag: string;
  /** Last modification, ms since the epoch. */
  readonly mtimeMs: number;
}

/** A strong, quoted entity-tag from size, mtime, inode and the content coding (or `""`). */
export function makeETag(size: number, mtimeMs: number, ino: number, coding: string): string {
  const base = `${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}-${ino.toString(16)}`;
  return coding === "" ? `"${base}"` : `"${base}-${coding}"`;
}

/** All values of field `name` (lowercase) joined with `, `, or `null` when absent. */
export function fieldValue(headers: Headers, name: string): string | null {
  let out: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    if (headers[i][0] === name) out = out === null ? headers[i][1] : `${out}, ${headers[i][1]}`;
  }
  return out;
}

/** How many times field `name` occurs. */
function fieldCount(headers: Headers, name: string): number {
  let n = 0;
  for (let i = 0; i < headers.length; i++) if (headers[i][0] === name) n++;
  return n;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const IMF = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** Parses an HTTP-date (RFC 9110 §5.6.7) to ms since the epoch, or `null`. */
export function parseHttpDate(s: string): number | null {
  let day: string, mon: string, year: number, h: string, mi: string, sec: string;
  let m = IMF.exec(s);
  if (m) {
    [day, mon, year, h, mi, sec] = [m[1], m[2], Number(m[3]), m[4], m[5], m[6]];
  } else if ((m = RFC850.exec(s))) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past.
    const yy = Number(m[3]);
    const now = new Date().getUTCFullYear();
    year = 2000 + yy > now + 50 ? 1900 + yy : 2000 + yy;
    [day, mon, h, mi, sec] = [m[1], m[2], m[4], m[5], m[6]];
  } else if ((m = ASCTIME.exec(s))) {
    [mon, day, h, mi, sec, year] = [m[1], m[2].trim(), m[3], m[4], m[5], Number(m[6])];
  } else {
    return null;
  }
  const month = MONTHS.indexOf(mon.toLowerCase());
  const [d, hh, mm, ss] = [Number(day), Number(h), Number(mi), Number(sec)];
  if (month < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return null;
  const ms = Date.UTC(year, month, d, hh, mm, ss);
  return new Date(ms).getUTCDate() === d ? ms : null; // rejects Feb 31 and friends
}

/** The entity-tags of a list field (`*` is returned as the single item `*`), `null` if invalid. */
export function parseETagList(value: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  for (;;) {
    while (i < n && (value[i] === " " || value[i] === "\t" || value[i] === ",")) i++;
    if (i >= n) return out;
    if (value[i] === "*") {
      out.push("*");
      i++;
    } else {
      const start = i;
      if (value.startsWith("W/", i)) i += 2;
      if (value[i] !== '"') return null;
      const close = value.indexOf('"', i + 1);
      if (close < 0) return null;
      i = close + 1;
      out.push(value.slice(start, i));
    }
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
    if (i < n && value[i] !== ",") return null;
  }
}

function opaque(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/** Whether any tag of `value` matches `etag` (`*` always does); strong or weak comparison. */
export function etagMatches(value: string, etag: string, weak: boolean): boolean {
  const tags = parseETagList(value);
  if (tags === null) return false;
  for (const t of tags) {
    if (t === "*") return true;
    if (weak ? opaque(t) === opaque(etag) : !t.startsWith("W/") && t === etag) return true;
  }
  return false;
}

/** A single-member HTTP-date field as ms, or `null` when absent, repeated or invalid. */
function dateField(headers: Headers, name: string): number | null {
  if (fieldCount(headers, name) !== 1) return null;
  return parseHttpDate(fieldValue(headers, name)!);
}

/** The outcome of evaluating preconditions for a GET or HEAD. */
export type Precondition = 200 | 304 | 412;

/** Evaluates the preconditions of a GET/HEAD against `v` (see the module comment). */
export function preconditions(headers: Headers, v: Validators): Precondition {
  const modifiedSec = Math.floor(v.mtimeMs / 1000) * 1000;
  const ifMatch = fieldValue(headers, "if-match");
  if (ifMatch !== null) {
    if (!etagMatches(ifMatch, v.etag, false)) return 412;
  } else {
    const ius = dateField(headers, "if-unmodified-since");
    if (ius !== null && modifiedSec > ius) return 412;
  }
  const ifNoneMatch = fieldValue(headers, "if-none-match");
  if (ifNoneMatch !== null) return etagMatches(ifNoneMatch, v.etag, true) ? 304 : 200;
  const ims = dateField(headers, "if-modified-since");
  if (ims !== null && modifiedSec <= ims) return 304;
  return 200;
}

/** Whether an `If-Range` value allows the range to be applied (see the module comment). */
export function ifRangeAllows(value: string, v: Validators): boolean {
  const t = value.trim();
  if (t.startsWith('"')) return t === v.etag;
  if (t.startsWith("W/")) return false;
  const date = parseHttpDate(t);
  return date !== null && date === Math.floor(v.mtimeMs / 1000) * 1000;
}

/** What a `Range` field asks of a representation of `size` bytes. */
export type RangeRequest =
  | { readonly kind: "none" }
  | { readonly kind: "multi" }
  | { readonly kind: "unsatisfiable" }
  | { readonly kind: "range"; readonly start: number; readonly end: number };

const DIGITS = /^\d+$/;

/** 1*DIGIT as a number (`Infinity` past 15 digits), `-1` when not digits. */
function digits(s: string): number {
  if (!DIGITS.test(s)) return -1;
  return s.length > 15 ? Infinity : Number(s);
}

/** Parses a `Range` value against `size` (see the module comment). */
export function parseRange(value: string, size: number): RangeRequest {
  const eq = value.indexOf("=");
  if (eq < 0 || value.slice(0, eq).trim().toLowerCase() !== "bytes") return { kind: "none" };
  const specs = value.slice(eq + 1).split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length === 0) return { kind: "none" };
  let result: RangeRequest = { kind: "none" };
  for (const spec of specs) {
    const dash = spec.indexOf("-");
    if (dash < 0) return { kind: "none" };
    const a = spec.slice(0, dash).trim();
    const b = spec.slice(dash + 1).trim();
    if (a === "") {
      const n = digits(b);
      if (n < 0) return { kind: "none" };
      result = n === 0 || size === 0
        ? { kind: "unsatisfiable" }
        : { kind: "range", start: Math.max(0, size - n), end: size - 1 };
    } else {
      const first = digits(a);
      const last = b === "" ? Infinity : digits(b);
      if (first < 0 || last < 0 || last < first) return { kind: "none" };
      result = first >= size
        ? { kind: "unsatisfiable" }
        : { kind: "range", start: first, end: Math.min(last, size - 1) };
    }
  }
  return specs.length > 1 ? { kind: "multi" } : result;
}

/** The precompressed codings this server knows, by file suffix. */
export type Coding = "br" | "gzip";

/** The codings of `value` acceptable to the client, most preferred first (see module comment). */
export function acceptedCodings(value: string | null): Coding[] {
  if (value === null) return [];
  const q = new Map<string, number>();
  for (const item of value.split(",")) {
    const [rawName, ...params] = item.split(";");
    let name = rawName.trim().toLowerCase();
    if (name === "") continue;
    if (name === "x-gzip") name = "gzip";
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m) weight = Math.min(1, Number(m[1]));
    }
    q.set(name, Math.max(q.get(name) ?? 0, weight));
  }
  const star = q.get("*");
  const out: Array<[Coding, number]> = [];
  for (const c of ["br", "gzip"] as const) {
    const w = q.get(c) ?? star ?? 0;
    if (w > 0) out.push([c, w]);
  }
  return out.sort((x, y) => y[1] - x[1]).map(([c]) => c); // stable: br stays first on ties
}

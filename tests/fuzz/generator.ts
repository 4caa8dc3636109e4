/**
 * A seeded, deterministic generator of malformed and truncated HTTP/1.1 requests for the fuzz
 * runner (`tests/fuzz/runner.ts`).
 *
 * Contract:
 * - `generateCase(seed, id)` depends only on its arguments: every case draws from its own
 *   mulberry32 stream derived from (seed, id) (`caseSeed` and `Rng` of tests/fuzz/common.ts), so
 *   case `id` of a run can be rebuilt alone (`deno task fuzz --seed S --only ID`) without
 *   generating the cases before it.
 * - Sources are the request fixtures (tests/fixtures/requests/, decoded with their escape
 *   convention) and random garbage. Mutations: bit/byte flips, deletions, insertions of
 *   CR/LF/NUL/high bytes/SP/colons, duplicated headers, values and lines beyond the default
 *   limits, bad chunk sizes, conflicting Content-Length/Transfer-Encoding, truncation at syntactic
 *   boundaries, pipelined mixtures of good and bad requests. Transport: whole, split at random
 *   points, or (rarely, short inputs only) byte by byte; ended by half-close, close, a reset
 *   (close with unread response bytes, which makes Linux send RST) or a keep-open wait.
 * - Oracles are only attached where they are sound: `expect` lists verdicts for the first
 *   requests of the stream whose outcome is known from the fixtures and the parser's documented
 *   strict profile (server/http/request_head.ts, server/http/framing.ts): "ok" (a valid fixture
 *   sent unchanged: a 2xx) or "reject" (a fixture whose head is invalid, or a valid head made
 *   invalid by a rule that cannot be undone: a NUL, bare CR or bare LF inside the head, a
 *   duplicated Host or Content-Length, Content-Length together with Transfer-Encoding, a missing
 *   Host on HTTP/1.1, a request line, head or header count beyond the defaults, a Content-Length
 *   beyond the default maxBodyBytes). Anything after the first unknown request is unknown.
 *   Invalid fixtures carrying `limits` are only used as unknown material (the server runs with
 *   the defaults), and so are fixtures whose error lies in the body (a 2xx may be committed
 *   before the body is read).
 */
import { INVALID_FILES, VALID_FILES } from "../fixtures/requests/index.ts";
import { concatBytes, decodeEscapes } from "../server/http/_helpers.ts";
import { analyzeHead } from "../../server/http/framing.ts";
import { parseRequestHead } from "../../server/http/request_head.ts";
import { DEFAULTS, limitsOf } from "../../server/config.ts";
import { caseSeed, pickDelivery, pickWeighted, Rng } from "./common.ts";

/** The outcome known for one request of a case, in stream order. */
export type Verdict =
  | { readonly kind: "ok" }
  | { readonly kind: "reject"; readonly status?: number };

/** How the case's bytes reach the server. */
export type Delivery = "whole" | "split" | "bytewise";

/** How the client ends the connection after sending. */
export type Ending = "halfclose" | "close" | "reset" | "wait";

/** One fuzz case. */
export interface FuzzCase {
  /** Case number within the run. */
  readonly id: number;
  /** Mutation name (the summary groups by it). */
  readonly kind: string;
  /** Fixture names the bytes came from ("garbage" for random bytes). */
  readonly base: string;
  /** Everything the client sends. */
  readonly bytes: Uint8Array;
  /** Delivery mode. */
  readonly delivery: Delivery;
  /** Cut points (ascending offsets) for "split" delivery. */
  readonly cuts: readonly number[];
  /** How the client ends the connection. */
  readonly ending: Ending;
  /** Known verdicts for the first requests of the stream (possibly none). */
  readonly expect: readonly Verdict[];
}

/** Default limits the spawned server runs with (its `DEFAULTS`). */
const LIMITS = limitsOf(DEFAULTS);

const enc = new TextEncoder();

interface Source {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Known verdict when sent unchanged, or null when unknown. */
  readonly verdict: Verdict | null;
  /** Whether the connection may carry another request after this one (valid fixtures). */
  readonly persistent: boolean;
  /** Offset where the request line starts (after leading CRLFs) and of the head's final CRLFCRLF. */
  readonly reqStart: number;
  readonly headEnd: number;
  /** Request version minor (valid fixtures), and whether the target is origin-form. */
  readonly http11: boolean;
  readonly originForm: boolean;
}

function headBounds(b: Uint8Array): { reqStart: number; headEnd: number } {
  let reqStart = 0;
  while (b[reqStart] === 13 && b[reqStart + 1] === 10) reqStart += 2;
  for (let i = reqStart; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) {
      return { reqStart, headEnd: i };
    }
  }
  return { reqStart, headEnd: -1 };
}

interface ValidJson {
  readonly method: string;
  readonly targetForm: string;
  readonly version: string;
  readonly keepAlive?: boolean;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** Methods whose 2xx changes what the connection carries next (tunnel, protocol switch). */
const SPECIAL = (j: ValidJson) =>
  j.method === "CONNECT" || j.headers.some(([n]) => n === "upgrade");

function validSources(): Source[] {
  return VALID_FILES.map(([name, http, json]) => {
    const j = json as ValidJson;
    const bytes = decodeEscapes(http);
    const { reqStart, headEnd } = headBounds(bytes);
    const persistent = j.keepAlive ?? j.version === "HTTP/1.1";
    return {
      name: `valid/${name}`,
      bytes,
      verdict: SPECIAL(j) ? null : { kind: "ok" },
      persistent: persistent && !SPECIAL(j),
      reqStart,
      headEnd,
      http11: j.version === "HTTP/1.1",
      originForm: j.targetForm === "origin",
    };
  });
}

/** True when the parser rejects the head itself (so no app ever sees the request). */
function headLevelError(bytes: Uint8Array): boolean {
  try {
    const r = parseRequestHead(bytes, LIMITS);
    if (r.kind !== "complete") return false;
    analyzeHead(r.head, LIMITS);
    return false;
  } catch {
    return true;
  }
}

function invalidSources(): Source[] {
  return INVALID_FILES.map(([name, http, json]) => {
    const j = json as { status: number; limits?: unknown };
    const bytes = decodeEscapes(http);
    const { reqStart, headEnd } = headBounds(bytes);
    // Sound only without custom limits and when the error is in the head: then the server must
    // answer exactly the fixture's status before any app runs.
    const known = j.limits === undefined && headLevelError(bytes);
    return {
      name: `invalid/${name}`,
      bytes,
      verdict: known ? { kind: "reject", status: j.status } : null,
      persistent: false,
      reqStart,
      headEnd,
      http11: false,
      originForm: false,
    };
  });
}

const VALID = validSources();
const INVALID = invalidSources();
const OK_VALID = VALID.filter((s) => s.verdict !== null && s.headEnd >= 0);
const KNOWN_INVALID = INVALID.filter((s) => s.verdict !== null);

/** Numbers of fixtures by role, for the summary. */
export const SOURCE_COUNTS = {
  valid: VALID.length,
  okValid: OK_VALID.length,
  invalid: INVALID.length,
  knownInvalid: KNOWN_INVALID.length,
};

function insertAt(b: Uint8Array, at: number, x: Uint8Array): Uint8Array {
  return concatBytes(b.subarray(0, at), x, b.subarray(at));
}

/** Header lines of a source's head as [start, end) offsets (end excludes the CRLF). */
function headerLines(s: Source): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (s.headEnd < 0) return out;
  const b = s.bytes;
  let i = s.reqStart;
  // Skip the request line.
  while (i < s.headEnd && !(b[i] === 13 && b[i + 1] === 10)) i++;
  i += 2;
  while (i <= s.headEnd) {
    let j = i;
    while (!(b[j] === 13 && b[j + 1] === 10)) j++;
    out.push([i, j]);
    i = j + 2;
  }
  return out;
}

function headerName(b: Uint8Array, [start, end]: [number, number]): string {
  let s = "";
  for (let i = start; i < end && b[i] !== 0x3a; i++) s += String.fromCharCode(b[i]);
  return s.toLowerCase();
}

const INSERTS: readonly Uint8Array[] = [
  [13],
  [10],
  [13, 10],
  [0],
  [0x80],
  [0xff],
  [0xc3, 0xa9],
  [0x20],
  [0x20, 0x20],
  [0x3a],
  [0x09],
  [0x2c],
  [0x3b],
  [0x22],
  [0x7f],
  [0x0b],
].map((x) => Uint8Array.from(x));

const BAD_CHUNK_SIZES = [
  "",
  "-1",
  "+5",
  "0x5",
  "zz",
  "5 ",
  " 5",
  "5;",
  '5;a="',
  "ffffffffffffffffffff",
  "10000000000000",
  "5\r",
  "5\n",
  "\x00",
  "5;" + "e".repeat(5000),
];

type Built = { bytes: Uint8Array; expect: Verdict[]; base: string };

/** One request for a pipeline: its bytes, verdict (null = unknown) and persistence. */
type Piece = { bytes: Uint8Array; verdict: Verdict | null; persistent: boolean; base: string };

function asPiece(s: Source): Piece {
  return { bytes: s.bytes, verdict: s.verdict, persistent: s.persistent, base: s.name };
}

/** Verdicts known for a stream of pieces: up to the first unknown, reject or non-persistent. */
function prefixVerdicts(pieces: readonly Piece[]): Verdict[] {
  const out: Verdict[] = [];
  for (const p of pieces) {
    if (p.verdict === null) break;
    out.push(p.verdict);
    if (p.verdict.kind === "reject" || !p.persistent) break;
  }
  return out;
}

function pipeline(pieces: readonly Piece[]): Built {
  return {
    bytes: concatBytes(...pieces.map((p) => p.bytes)),
    expect: prefixVerdicts(pieces),
    base: pieces.map((p) => p.base).join("+"),
  };
}

const REJECT: Verdict = { kind: "reject" };

// ---- Mutators --------------------------------------------------------------------------------

/** Random byte-level damage to any fixture: the outcome is unknown. */
function randomDamage(r: Rng): Built {
  const s = r.pick(r.chance(0.6) ? VALID : INVALID);
  let b: Uint8Array = s.bytes.slice();
  const op = r.int(3);
  const n = r.range(1, 4);
  for (let k = 0; k < n && b.length > 0; k++) {
    if (op === 0) {
      const at = r.int(b.length);
      b[at] = r.chance(0.5) ? b[at] ^ (1 << r.int(8)) : r.int(256);
    } else if (op === 1) {
      const at = r.int(b.length);
      const len = r.range(1, Math.min(8, b.length - at));
      b = concatBytes(b.subarray(0, at), b.subarray(at + len));
    } else {
      b = insertAt(b, r.int(b.length + 1), r.pick(INSERTS));
    }
  }
  return { bytes: b, expect: [], base: s.name };
}

/** A NUL, bare CR or bare LF inside a valid head: always a 400-class reject (strict profile). */
function poisonHead(r: Rng): Built {
  const s = r.pick(OK_VALID);
  const x = r.pick([[0], [13], [10]]);
  // Strictly after the request line's first byte and at most at the final CRLFCRLF, so the byte
  // lands in the request line or a header line (never in the skipped leading empty lines).
  const at = r.range(s.reqStart + 1, s.headEnd);
  return {
    bytes: insertAt(s.bytes, at, Uint8Array.from(x)),
    expect: [REJECT],
    base: s.name,
  };
}

/** Duplicates one header line: Host and Content-Length twice are refused; else unknown. */
function duplicateHeader(r: Rng): Built {
  const s = r.pick(OK_VALID);
  const lines = headerLines(s);
  if (lines.length === 0) return randomDamage(r);
  const line = r.pick(lines);
  const name = headerName(s.bytes, line);
  const copy = concatBytes(s.bytes.subarray(line[0], line[1]), enc.encode("\r\n"));
  const bytes = insertAt(s.bytes, line[1] + 2, copy);
  const known = name === "host" || name === "content-length";
  return { bytes, expect: known ? [REJECT] : [], base: `${s.name}#dup:${name}` };
}

/** Adds the framing header a valid framed request lacks: CL with TE is refused. */
function conflictingFraming(r: Rng): Built {
  const framed = OK_VALID.filter((s) =>
    headerLines(s).some((l) => {
      const n = headerName(s.bytes, l);
      return n === "content-length" || n === "transfer-encoding";
    })
  );
  const s = r.pick(framed);
  const hasTe = headerLines(s).some((l) => headerName(s.bytes, l) === "transfer-encoding");
  const extra = hasTe ? `Content-Length: ${r.range(0, 40)}\r\n` : "Transfer-Encoding: chunked\r\n";
  const lines = headerLines(s);
  const at = r.chance(0.5) ? lines[0][0] : s.headEnd + 2;
  return {
    bytes: insertAt(s.bytes, at, enc.encode(extra)),
    expect: [REJECT],
    base: s.name,
  };
}

/** Removes Host from an HTTP/1.1 origin-form request: refused. */
function missingHost(r: Rng): Built {
  const cands = OK_VALID.filter((s) => s.http11 && s.originForm);
  const s = r.pick(cands);
  const host = headerLines(s).find((l) => headerName(s.bytes, l) === "host");
  if (!host) return randomDamage(r);
  const bytes = concatBytes(s.bytes.subarray(0, host[0]), s.bytes.subarray(host[1] + 2));
  return { bytes, expect: [REJECT], base: s.name };
}

/** Lines and values beyond the default limits; each one is refused with its status. */
function beyondLimits(r: Rng): Built {
  const which = r.int(5);
  const pad = (n: number) => "a".repeat(n);
  let text: string;
  let status: number;
  if (which === 0) {
    text = `GET /${pad(LIMITS.maxRequestLineBytes + r.range(0, 2000))} HTTP/1.1\r\nHost: x\r\n\r\n`;
    status = 414;
  } else if (which === 1) {
    text = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${
      pad(LIMITS.maxHeadBytes + r.range(0, 4000))
    }\r\n\r\n`;
    status = 431;
  } else if (which === 2) {
    const n = LIMITS.maxHeaderCount + r.range(1, 50);
    text = `GET / HTTP/1.1\r\nHost: x\r\n${
      Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join("")
    }\r\n`;
    status = 431;
  } else if (which === 3) {
    const cl = LIMITS.maxBodyBytes + 1 + r.range(0, 1_000_000);
    text = `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${cl}\r\n\r\nabc`;
    status = 413;
  } else {
    text = `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9${"9".repeat(r.range(16, 40))}\r\n\r\n`;
    status = 400;
  }
  return { bytes: enc.encode(text), expect: [{ kind: "reject", status }], base: "limits" };
}

/** A chunked request whose chunk size line is broken: a body error, so unknown. */
function badChunk(r: Rng): Built {
  const size = r.pick(BAD_CHUNK_SIZES);
  const method = r.pick(["POST", "PUT", "GET"]);
  const lead = r.chance(0.5) ? "5\r\nhello\r\n" : "";
  const text = `${method} / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `${lead}${size}\r\nhello\r\n0\r\n\r\n`;
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  return { bytes, expect: [], base: `chunk:${JSON.stringify(size.slice(0, 12))}` };
}

/** Offsets of syntactic boundaries in `b`: around SP, colon, CR, LF, and head/body edges. */
function boundaries(b: Uint8Array): number[] {
  const out = new Set<number>([0, 1, b.length - 1]);
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x20 || b[i] === 0x3a || b[i] === 13 || b[i] === 10 || b[i] === 0x3b) {
      out.add(i);
      out.add(i + 1);
    }
  }
  return [...out].filter((i) => i > 0 && i < b.length).sort((x, y) => x - y);
}

/**
 * A fixture cut short at a boundary. A valid fixture cut short is incomplete, never another
 * valid request, but the app may answer a complete head before its body ends: unknown.
 */
function truncate(r: Rng): Built {
  const s = r.pick(r.chance(0.8) ? VALID : INVALID);
  const cuts = boundaries(s.bytes);
  const at = cuts.length > 0 ? r.pick(cuts) : r.int(s.bytes.length);
  return { bytes: s.bytes.subarray(0, at), expect: [], base: `${s.name}@${at}` };
}

/** Good and bad requests back to back, possibly ending in a truncated one. */
function mixedPipeline(r: Rng): Built {
  const n = r.range(2, 5);
  const pieces: Piece[] = [];
  for (let k = 0; k < n; k++) {
    const roll = r.float();
    if (roll < 0.5) pieces.push(asPiece(r.pick(OK_VALID)));
    else if (roll < 0.7) pieces.push(asPiece(r.pick(KNOWN_INVALID)));
    else if (roll < 0.85) {
      const p = poisonHead(r);
      pieces.push({ bytes: p.bytes, verdict: REJECT, persistent: false, base: `poison:${p.base}` });
    } else {
      const d = r.chance(0.5) ? randomDamage(r) : truncate(r);
      pieces.push({ bytes: d.bytes, verdict: null, persistent: false, base: `damaged:${d.base}` });
    }
  }
  return pipeline(pieces);
}

/** Random bytes, sometimes after a plausible request line. */
function garbage(r: Rng): Built {
  const len = r.range(1, r.chance(0.1) ? 20000 : 600);
  const b = new Uint8Array(len);
  const ascii = r.chance(0.5);
  for (let i = 0; i < len; i++) b[i] = ascii ? r.range(0x20, 0x7e) : r.int(256);
  if (ascii) { for (let k = r.int(8); k > 0; k--) b[r.int(len)] = r.pick([13, 10, 0x3a]); }
  const prefix = r.pick(["", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n", "POST "]);
  return { bytes: concatBytes(enc.encode(prefix), b), expect: [], base: "garbage" };
}

/** A valid or known-invalid fixture sent unchanged (the transport is what varies). */
function unchanged(r: Rng): Built {
  const s = r.chance(0.6) ? r.pick(OK_VALID) : r.pick(KNOWN_INVALID);
  return pipeline([asPiece(s)]);
}

const MUTATORS: ReadonlyArray<readonly [string, number, (r: Rng) => Built]> = [
  ["damage", 22, randomDamage],
  ["poison-head", 8, poisonHead],
  ["dup-header", 6, duplicateHeader],
  ["cl-and-te", 4, conflictingFraming],
  ["no-host", 3, missingHost],
  ["limits", 4, beyondLimits],
  ["bad-chunk", 8, badChunk],
  ["truncate", 14, truncate],
  ["pipeline", 14, mixedPipeline],
  ["garbage", 9, garbage],
  ["unchanged", 8, unchanged],
];

/** Names of every mutation kind, in a stable order. */
export const KINDS: readonly string[] = MUTATORS.map(([k]) => k);

/** Builds case `id` of the run seeded with `seed` (see the module comment). */
export function generateCase(seed: number, id: number): FuzzCase {
  const r = new Rng(caseSeed(seed, id));
  const [kind, , build] = pickWeighted(r, MUTATORS);
  const built = build(r);
  const bytes = built.bytes;
  // Transport: byte by byte only for a few short inputs (it is slow by design).
  const { delivery, cuts } = pickDelivery(
    r,
    bytes.length,
    { bytewise: 0.01, split: 0.3, maxCuts: 4 },
    () => r.range(1, bytes.length - 1),
  );
  const roll2 = r.float();
  const ending: Ending = roll2 < 0.6
    ? "halfclose"
    : roll2 < 0.78
    ? "close"
    : roll2 < 0.88
    ? "reset"
    : "wait";
  return { id, kind, base: built.base, bytes, delivery, cuts, ending, expect: built.expect };
}

/**
 * Test helpers for the sans-IO layer: feed bytes every way, drive the parsers, load fixtures.
 *
 * Contract:
 * - `feedAllWays(input, drive, check, options)` runs one parser `drive`r over the same bytes split
 *   in several ways: the whole input at once; one byte at a time; line by line (a cut after every
 *   LF); a cut between every CR and the byte after it; seeded random splits (mulberry32, the seed
 *   is printed in the failure message); and, when the whole-input outcome is complete and
 *   `options.trailing` is given, every way again with those bytes (a following request) appended,
 *   which must stay unconsumed. It asserts, for every way: the same outcome as the whole input
 *   (the same value and `consumed`, or the same error `code` and `status`); a complete outcome
 *   arrives exactly with the chunk that carries its last byte and never earlier (so byte by byte
 *   means "partial until the last byte"). Then it calls `check(outcome, way)`.
 * - Drivers: `driveHead` (parseRequestHead, passing `scanned` back as `scanFrom`),
 *   `driveChunked` (a ChunkedDecoder over a buffer that keeps the unconsumed bytes and appends new
 *   ones, optionally capping data per call with `maxData`), and `driveRequest` (head, then
 *   analyzeHead, then a Content-Length or chunked body).
 * - Fixtures live in `tests/fixtures/requests/{valid,invalid}/NNN_short_name.http` with a sibling
 *   `.json`. In the `.http` file every real newline is layout only and is stripped; bytes are
 *   written with escapes: `\r`, `\n`, `\t`, `\0`, `\xHH` and `\\`. Any other backslash escape or a
 *   non-ASCII character in the file is an error. Valid expectations: `{method, target,
 *   targetForm, version, headers: [[name, value]...], body?, framing?, keepAlive?,
 *   expectContinue?, hostName?, hostPort?, trailers?, limits?}`; invalid: `{status, code,
 *   limits?}`. `limits` overrides fields of the default limits (`limitsOf(DEFAULTS)`).
 *
 * How fixtures are loaded (decision): `tests/server/http/` must run with no permissions, so fixtures are
 * not read with `Deno.readTextFile` or `Deno.readDir`. Static imports need no read permission, and
 * Deno 2.9 accepts `import text from "../../http/x.http" with { type: "text" }` without any flag, so one
 * generated module, `tests/fixtures/requests/index.ts`, imports every `.http` (as text) and
 * `.json` (as JSON) file and `fixtures_test.ts` imports that module. The `.http`/`.json` files stay
 * the source of truth: `deno task fixtures` (`tests/fixtures/requests/_gen.ts`) rewrites the index
 * from the directory listing, and `tests/fixtures/requests/_gen_test.ts` (full suite, which may
 * read) fails while the index is stale. Dynamic `import()` of a computed path would need
 * `--allow-read`.
 */
import assert from "node:assert/strict";
import { analyzeHead, type HeadInfo } from "../../../server/http/framing.ts";
import { concatBytes as concatAll } from "../../../server/http/bytes.ts";
import { ChunkedDecoder } from "../../../server/http/chunked.ts";
import { ProtocolError, type ProtocolErrorCode } from "../../../server/http/errors.ts";
import { parseRequestHead, type RequestHead } from "../../../server/http/request_head.ts";
import { DEFAULTS, type Limits, limitsOf } from "../../../server/config.ts";

/** The default parser limits (the server's defaults). */
export const DEFAULT_LIMITS: Limits = Object.freeze(limitsOf(DEFAULTS));

/** Default limits with some fields replaced. */
export function withLimits(overrides: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

// ---------------------------------------------------------------------------------------------
// Bytes

/** Encodes a string whose code units are all below 0x100 as one byte per code unit. */
export function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error(`latin1: code unit 0x${c.toString(16)} at ${i}`);
    out[i] = c;
  }
  return out;
}

/** Concatenates byte arrays (the server's own `concatBytes`, variadic). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts);
}

/**
 * Decodes the fixture escape convention: real newlines are stripped, then `\r`, `\n`, `\t`, `\0`,
 * `\xHH` and `\\` become bytes. Throws on any other escape and on non-ASCII characters.
 */
export function decodeEscapes(text: string): Uint8Array {
  const src = text.replace(/\r?\n/g, "");
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && c !== 0x09)) {
      throw new Error(`fixture: raw byte 0x${c.toString(16)} at ${i}; write it as \\xHH`);
    }
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const e = src[++i];
    if (e === "r") out.push(0x0d);
    else if (e === "n") out.push(0x0a);
    else if (e === "t") out.push(0x09);
    else if (e === "0") out.push(0x00);
    else if (e === "\\") out.push(0x5c);
    else if (e === "x" && /^[0-9A-Fa-f]{2}$/.test(src.slice(i + 1, i + 3))) {
      out.push(parseInt(src.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new Error(`fixture: unknown escape \\${e ?? "<end>"} at ${i - 1}`);
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// Splitting

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a hash of the bytes, used to derive a per-input base seed. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h;
}

/** One way of delivering bytes: increasing cut positions, the last equal to the input length. */
export interface Way {
  /** Human-readable name, including the seed for random splits. */
  readonly name: string;
  /** Cumulative byte counts delivered after each read. */
  readonly cuts: readonly number[];
}

/** Random cut positions for `len` bytes from `seed`; chunks are mostly small, sometimes large. */
export function randomCuts(len: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const cuts: number[] = [];
  let pos = 0;
  const big = 1 + Math.floor(rand() * 64);
  while (pos < len) {
    pos = Math.min(len, pos + 1 + Math.floor(rand() ** 3 * big));
    cuts.push(pos);
  }
  return cuts.length ? cuts : [0];
}

function cutsAfter(input: Uint8Array, byte: number): number[] {
  const cuts: number[] = [];
  for (let i = 0; i < input.length - 1; i++) if (input[i] === byte) cuts.push(i + 1);
  cuts.push(input.length);
  return cuts;
}

/** The ways `feedAllWays` uses for `input`. */
export function waysFor(input: Uint8Array, randomRuns = 8): Way[] {
  const n = input.length;
  const bytewise: number[] = [];
  for (let i = 1; i <= n; i++) bytewise.push(i);
  const ways: Way[] = [
    { name: "whole", cuts: [n] },
    { name: "byte-by-byte", cuts: n ? bytewise : [0] },
    { name: "line-by-line", cuts: cutsAfter(input, 0x0a) },
    { name: "split-after-CR", cuts: cutsAfter(input, 0x0d) },
  ];
  const base = fnv1a(input);
  for (let r = 0; r < randomRuns; r++) {
    const seed = (base + Math.imul(r, 0x9e3779b9)) >>> 0;
    ways.push({ name: `random(seed=0x${seed.toString(16)})`, cuts: randomCuts(n, seed) });
  }
  return ways;
}

// ---------------------------------------------------------------------------------------------
// Feeding

/** What a driver ends with after the bytes of one way. */
export type Fed<T> =
  /** A whole message: `consumed` bytes of the input, completed once `at` bytes were delivered. */
  | { readonly kind: "complete"; readonly value: T; readonly consumed: number; readonly at: number }
  /** All bytes delivered and more are still needed. */
  | { readonly kind: "partial"; readonly at: number }
  /** A `ProtocolError` thrown once `at` bytes were delivered. */
  | { readonly kind: "error"; readonly error: ProtocolError; readonly at: number };

/** Runs a parser over `input`, delivering `input.subarray(0, cut)` for each cut in turn. */
export type Driver<T> = (input: Uint8Array, cuts: readonly number[]) => Fed<T>;

/** Options for `feedAllWays`. */
export interface FeedOptions {
  /** Bytes appended in extra runs when the input completes; they must stay unconsumed. */
  readonly trailing?: Uint8Array;
  /** Number of seeded random splits (default 8). */
  readonly randomRuns?: number;
}

function normalize<T>(fed: Fed<T>): unknown {
  if (fed.kind === "complete") return { kind: fed.kind, value: fed.value, consumed: fed.consumed };
  if (fed.kind === "error") {
    return { kind: fed.kind, code: fed.error.code, status: fed.error.status };
  }
  return { kind: fed.kind };
}

function describe<T>(fed: Fed<T>): string {
  if (fed.kind === "error") return `error ${fed.error.code} (${fed.error.status}) at ${fed.at}`;
  if (fed.kind === "complete") return `complete, consumed ${fed.consumed} at ${fed.at}`;
  return `partial after ${fed.at} bytes`;
}

/** Feeds `input` every way (see the module comment) and checks each outcome. */
export function feedAllWays<T>(
  input: Uint8Array,
  drive: Driver<T>,
  check: (fed: Fed<T>, way: string) => void,
  options: FeedOptions = {},
): void {
  const reference = drive(input, [input.length]);
  const runs: Array<{ bytes: Uint8Array; prefix: string }> = [{ bytes: input, prefix: "" }];
  if (options.trailing && reference.kind === "complete") {
    runs.push({ bytes: concatBytes(input, options.trailing), prefix: "with-trailing " });
  }
  for (const run of runs) {
    for (const way of waysFor(run.bytes, options.randomRuns)) {
      const name = run.prefix + way.name;
      let fed: Fed<T> | undefined;
      try {
        fed = drive(run.bytes, way.cuts);
        assert.deepStrictEqual(normalize(fed), normalize(reference), "same outcome as whole input");
        if (fed.kind === "complete") {
          const consumed = fed.consumed;
          const due = way.cuts.find((c) => c >= consumed);
          assert.equal(fed.at, due, "completes with the chunk holding its last byte, not earlier");
        }
        check(fed, name);
      } catch (e) {
        const got = fed ? describe(fed) : "no outcome";
        const msg = e instanceof Error ? e.message : String(e);
        throw new Error(
          `feedAllWays: way ${name} failed (got ${got}; whole input: ${
            describe(reference)
          }):\n${msg}`,
          { cause: e },
        );
      }
    }
  }
}

function caught<T>(e: unknown, at: number): Fed<T> {
  if (e instanceof ProtocolError) return { kind: "error", error: e, at };
  throw e;
}

type HeadLimits = Pick<Limits, "maxRequestLineBytes" | "maxHeadBytes" | "maxHeaderCount">;

/** Drives `parseRequestHead`, passing each partial `scanned` back as `scanFrom`. */
export function driveHead(limits: HeadLimits = DEFAULT_LIMITS): Driver<RequestHead> {
  return function drive(input, cuts) {
    let scanned = 0;
    for (const cut of cuts) {
      const view = input.subarray(0, cut);
      try {
        const r = parseRequestHead(view, limits, scanned);
        if (r.kind === "complete") {
          assert.deepStrictEqual(parseRequestHead(view, limits, 0), r, "scanFrom changes nothing");
          return { kind: "complete", value: r.head, consumed: r.consumed, at: cut };
        }
        assert.ok(r.scanned >= 0 && r.scanned <= cut, `scanned ${r.scanned} within ${cut}`);
        scanned = r.scanned;
      } catch (e) {
        return caught(e, cut);
      }
    }
    return { kind: "partial", at: input.length };
  };
}

/** A decoded chunked body. */
export interface DecodedBody {
  /** The decoded payload. */
  readonly body: Uint8Array;
  /** Trailer fields (lowercase name, value). */
  readonly trailers: ReadonlyArray<readonly [string, string]>;
}

type ChunkLimits = Pick<Limits, "maxChunkLineBytes" | "maxTrailerBytes" | "maxBodyBytes">;

/**
 * Feeds a `ChunkedDecoder` from `input[start..cut]` for each cut, the way a connection does: the
 * buffer keeps the unconsumed bytes (a fresh copy each read, so views must not be kept) and new
 * bytes are appended. Decodes until no progress before delivering more.
 */
function pumpChunked(
  decoder: ChunkedDecoder,
  input: Uint8Array,
  start: number,
  cut: number,
  maxData: number,
  parts: Uint8Array[],
): { pos: number; done: boolean } {
  const buf = input.slice(start, cut);
  let off = 0;
  while (true) {
    const r = decoder.decode(buf.subarray(off), maxData);
    let given = 0;
    for (const d of r.data) {
      given += d.length;
      parts.push(d.slice());
    }
    if (maxData > 0) assert.ok(given <= maxData, `decode returned ${given} > maxData ${maxData}`);
    assert.ok(r.consumed >= 0 && r.consumed <= buf.length - off, "consumed within the buffer");
    off += r.consumed;
    assert.equal(r.done, decoder.done, "result.done matches decoder.done");
    if (r.done) return { pos: start + off, done: true };
    if (r.consumed === 0 && r.data.length === 0) return { pos: start + off, done: false };
  }
}

/** Drives a `ChunkedDecoder` over a chunked body (the bytes right after the head). */
export function driveChunked(
  limits: ChunkLimits = DEFAULT_LIMITS,
  maxData = 0,
): Driver<DecodedBody> {
  return function drive(input, cuts) {
    const decoder = new ChunkedDecoder(limits);
    const parts: Uint8Array[] = [];
    let pos = 0;
    for (const cut of cuts) {
      try {
        const r = pumpChunked(decoder, input, pos, cut, maxData, parts);
        pos = r.pos;
        if (r.done) {
          const value = { body: concatBytes(...parts), trailers: decoder.trailers };
          assert.equal(decoder.total, value.body.length, "decoder.total counts decoded bytes");
          return { kind: "complete", value, consumed: pos, at: cut };
        }
      } catch (e) {
        return caught(e, cut);
      }
    }
    return { kind: "partial", at: input.length };
  };
}

/** A whole parsed request: head, its meaning, body and trailers. */
export interface ParsedRequest {
  /** The parsed head. */
  readonly head: RequestHead;
  /** `analyzeHead`'s verdict. */
  readonly info: HeadInfo;
  /** The body (decoded when chunked). */
  readonly body: Uint8Array;
  /** Trailer fields of a chunked body. */
  readonly trailers: ReadonlyArray<readonly [string, string]>;
}

/** Drives a whole request: `parseRequestHead`, `analyzeHead`, then the framed body. */
export function driveRequest(limits: Limits = DEFAULT_LIMITS, maxData = 0): Driver<ParsedRequest> {
  return function drive(input, cuts) {
    let scanned = 0;
    let head: RequestHead | undefined;
    let info: HeadInfo | undefined;
    let decoder: ChunkedDecoder | undefined;
    const parts: Uint8Array[] = [];
    let pos = 0;
    for (const cut of cuts) {
      try {
        if (!head) {
          const r = parseRequestHead(input.subarray(0, cut), limits, scanned);
          if (r.kind === "partial") {
            scanned = r.scanned;
            continue;
          }
          head = r.head;
          pos = r.consumed;
          info = analyzeHead(head, limits);
          if (info.framing.kind === "chunked") decoder = new ChunkedDecoder(limits);
        }
        const framing = info!.framing;
        if (framing.kind === "none") {
          const value = { head, info: info!, body: new Uint8Array(0), trailers: [] };
          return { kind: "complete", value, consumed: pos, at: cut };
        }
        if (framing.kind === "length") {
          if (cut - pos < framing.length) continue;
          const body = input.slice(pos, pos + framing.length);
          const value = { head, info: info!, body, trailers: [] };
          return { kind: "complete", value, consumed: pos + framing.length, at: cut };
        }
        const r = pumpChunked(decoder!, input, pos, cut, maxData, parts);
        pos = r.pos;
        if (r.done) {
          const body = concatBytes(...parts);
          const value = { head, info: info!, body, trailers: decoder!.trailers };
          return { kind: "complete", value, consumed: pos, at: cut };
        }
      } catch (e) {
        return caught(e, cut);
      }
    }
    return { kind: "partial", at: input.length };
  };
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/** Expectations for a valid request fixture. */
export interface ValidExpectation {
  readonly method: string;
  readonly target: string;
  readonly targetForm: string;
  readonly version: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Decoded body as UTF-8 text ("" when absent). */
  readonly body?: string;
  readonly framing?: { readonly kind: string; readonly length?: number };
  readonly keepAlive?: boolean;
  readonly expectContinue?: boolean;
  readonly hostName?: string;
  readonly hostPort?: string;
  readonly upgrade?: string;
  readonly contentType?: string;
  readonly trailers?: ReadonlyArray<readonly [string, string]>;
  readonly limits?: Partial<Limits>;
}

/** Expectations for an invalid request fixture. */
export interface InvalidExpectation {
  readonly status: number;
  readonly code: ProtocolErrorCode;
  readonly limits?: Partial<Limits>;
}

/** One fixture: its name, raw `.http` text and parsed `.json`. */
export interface Fixture<E> {
  readonly name: string;
  readonly http: string;
  readonly expect: E;
}

/** A complete request pipelined after each valid fixture; it must stay unconsumed. */
export const NEXT_REQUEST: Uint8Array = latin1("GET /next HTTP/1.1\r\nHost: next\r\n\r\n");

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Feeds a valid fixture every way and compares the parsed request with its expectations. */
export function runValidFixture(fixture: Fixture<ValidExpectation>): void {
  const input = decodeEscapes(fixture.http);
  const e = fixture.expect;
  feedAllWays(input, driveRequest(withLimits(e.limits)), (fed) => {
    assert.equal(fed.kind, "complete");
    if (fed.kind !== "complete") return;
    const { head, info, body, trailers } = fed.value;
    assert.equal(head.method, e.method);
    assert.equal(head.target, e.target);
    assert.equal(head.targetForm, e.targetForm);
    assert.equal(head.version, e.version);
    assert.equal(head.minor, e.version === "HTTP/1.1" ? 1 : 0);
    assert.deepStrictEqual(head.headers, e.headers);
    assert.equal(utf8.decode(body), e.body ?? "");
    if (e.framing) assert.deepStrictEqual(info.framing, e.framing);
    if (e.keepAlive !== undefined) assert.equal(info.keepAlive, e.keepAlive, "keepAlive");
    if (e.expectContinue !== undefined) assert.equal(info.expectContinue, e.expectContinue);
    if (e.hostName !== undefined) assert.equal(info.hostName, e.hostName, "hostName");
    if (e.hostPort !== undefined) assert.equal(info.hostPort, e.hostPort, "hostPort");
    if (e.upgrade !== undefined) assert.equal(info.upgrade, e.upgrade, "upgrade");
    if (e.contentType !== undefined) assert.equal(info.contentType, e.contentType);
    assert.deepStrictEqual(trailers, e.trailers ?? []);
    // With NEXT_REQUEST appended, consumed stays the same, so the next request is untouched.
    assert.equal(fed.consumed, input.length, "the fixture holds exactly one request");
  }, { trailing: NEXT_REQUEST });
}

/** Feeds an invalid fixture every way and checks the error's status and code. */
export function runInvalidFixture(fixture: Fixture<InvalidExpectation>): void {
  const input = decodeEscapes(fixture.http);
  const e = fixture.expect;
  feedAllWays(input, driveRequest(withLimits(e.limits)), (fed) => {
    assert.equal(fed.kind, "error", "the request is rejected");
    if (fed.kind !== "error") return;
    assert.equal(fed.error.code, e.code);
    assert.equal(fed.error.status, e.status);
  });
}

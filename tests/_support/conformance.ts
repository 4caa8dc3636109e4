/**
 * Shared scaffolding for `tests/conformance/`: one in-process echo server per suite, one step
 * per case, the common verdicts ("rejected with N and closed", "answered with 200"), and request
 * builders.
 *
 * Contract:
 * - `conformanceSuite(name, cases, opts)` registers one `Deno.test` per socket backend
 *   (`[io=libc]` and `[io=deno]`; only `$LSBAWS_TEST_IO`'s when that is set; the libc one is
 *   ignored where libc cannot load), each (sanitizers on) starting
 *   `apps/echo.ts:app` (or `opts.app`) with `opts.overrides`, runs every case as its own step (sequentially, or
 *   concurrently with `concurrent: true`), then checks that the server still answers `GET /`
 *   with 200 on a fresh connection, and always closes the server. Steps turn the op and resource
 *   sanitizers off because the shared server legitimately keeps its accept loop pending between
 *   steps; the enclosing test still checks that nothing leaks overall.
 * - A request template may contain `{M}`: it is replaced by a unique marker, and
 *   `assertRejected` checks that the marker never comes back in the response bytes.
 */
import assert from "node:assert/strict";
import type { Config } from "../../server/config.ts";
import { startApp, type TestIo, testIo, type TestServer } from "./server.ts";
import { loadLibc } from "../../server/libc/ffi.ts";
import {
  hasToken,
  header,
  type RoundTrip,
  roundTrip,
  type RoundTripOptions,
} from "./raw_client.ts";

/** The conformance fixture app. */
export const ECHO_APP = "apps/echo.ts:app";

/** One conformance case. */
export interface Case {
  /** Step name: states the behaviour ("rejects ... with 400"). */
  readonly name: string;
  /** Runs the case against the server listening on `port`. */
  readonly fn: (port: number, srv: TestServer) => Promise<void>;
}

/** Options for `conformanceSuite`. */
export interface SuiteOptions {
  /** Config overrides for the server. */
  readonly overrides?: Partial<Config>;
  /** Run the cases concurrently (for cases whose verdict is a timeout). */
  readonly concurrent?: boolean;
  /** App spec to serve instead of `ECHO_APP` (the final check then only wants a 200). */
  readonly app?: string;
}

/** Registers a suite; see the module comment. */
export function conformanceSuite(
  name: string,
  cases: readonly Case[],
  opts: SuiteOptions = {},
): void {
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate case name in ${name}: ${c.name}`);
    names.add(c.name);
  }
  const only = testIo();
  const backends: TestIo[] = only === null ? ["libc", "deno"] : [only];
  for (const io of backends) {
    Deno.test({
      name: `${name} [io=${io}]`,
      ignore: io === "libc" && !loadLibc().ok,
      fn: (t) => runSuite(t, io, cases, opts),
    });
  }
}

async function runSuite(
  t: Deno.TestContext,
  io: TestIo,
  cases: readonly Case[],
  opts: SuiteOptions,
): Promise<void> {
  const app = opts.app ?? ECHO_APP;
  const srv = await startApp(app, { io, ...opts.overrides });
  const step = (c: Case) =>
    t.step({
      name: c.name,
      fn: () => c.fn(srv.port, srv),
      sanitizeOps: false,
      sanitizeResources: false,
      sanitizeExit: false,
    });
  try {
    if (opts.concurrent) await Promise.all(cases.map(step));
    else for (const c of cases) await step(c);
    await step({
      name: "still answers GET / with 200 on a fresh connection afterwards",
      fn: app === ECHO_APP
        ? assertStillServing
        : async (port) => void await expectStatus(port, get("/"), 200),
    });
  } finally {
    await srv.close();
  }
}

let markerSeq = 0;

/** A unique marker that must never be echoed by an error response. */
export function newMarker(): string {
  markerSeq++;
  return `MK${markerSeq}x${crypto.randomUUID().slice(0, 8)}`;
}

/** Replaces every `{M}` in `template` with `marker`. */
export function fill(template: string, marker: string): string {
  return template.replaceAll("{M}", marker);
}

/** Statuses lsbaws answers for malformed input or exceeded limits. */
export type RejectStatus = 400 | 408 | 413 | 414 | 417 | 431 | 501 | 505;

/**
 * Asserts the protocol-error verdict: after `prior` normal responses exactly one more final
 * response with a status in `statuses`, carrying `Connection: close` and Date, nothing after it,
 * the connection closed, and `marker` (when given) absent from everything received.
 */
export function assertRejected(
  rt: RoundTrip,
  statuses: RejectStatus | readonly RejectStatus[],
  opts: { marker?: string; prior?: number } = {},
): void {
  const allowed: readonly number[] = Array.isArray(statuses) ? statuses : [statuses];
  const prior = opts.prior ?? 0;
  const got = rt.responses.map((r) => r.status);
  assert.equal(
    rt.responses.length,
    prior + 1,
    `expected ${prior + 1} response(s), got ${JSON.stringify(got)}; raw: ${show(rt.text)}`,
  );
  const last = rt.responses[prior];
  assert.ok(allowed.includes(last.status), `status ${last.status} not in ${allowed}`);
  assert.ok(hasToken(last, "connection", "close"), `no Connection: close in ${show(last.raw)}`);
  assert.ok(header(last, "date"), "error response without Date");
  assert.equal(rt.partial, "", `bytes after the error response: ${show(rt.partial)}`);
  assert.ok(rt.closed, "connection not closed after the error response");
  if (opts.marker) {
    assert.ok(!rt.text.includes(opts.marker), `request bytes echoed: ${show(rt.text)}`);
  }
}

/** A request template: `{M}` placeholders, or a function of the marker (use it when lengths
 * are computed over bytes that contain the marker). */
export type Template = string | ((marker: string) => string);

/** Sends one request template and asserts it is rejected with `statuses`. */
export async function expectRejected(
  port: number,
  template: Template,
  statuses: RejectStatus | readonly RejectStatus[],
  opts: RoundTripOptions & { prior?: number } = {},
): Promise<RoundTrip> {
  const marker = newMarker();
  const request = typeof template === "string" ? fill(template, marker) : template(marker);
  const rt = await roundTrip(port, request, { untilClose: true, ...opts });
  assertRejected(rt, statuses, { marker, prior: opts.prior });
  return rt;
}

/** Sends `request` and asserts one response with `status` (and `body` when given). */
export async function expectStatus(
  port: number,
  request: string,
  status: number,
  body?: string,
  opts: RoundTripOptions = {},
): Promise<RoundTrip> {
  const rt = await roundTrip(port, request, opts);
  assert.ok(rt.responses.length >= 1, `no complete response; raw: ${show(rt.text)}`);
  assert.equal(rt.responses[0].status, status, `raw: ${show(rt.text)}`);
  if (body !== undefined) assert.equal(rt.responses[0].body, body);
  return rt;
}

/** Asserts that a fresh connection gets `GET /` → 200 "Hello". */
export async function assertStillServing(port: number): Promise<void> {
  await expectStatus(port, get("/"), 200, "Hello");
}

/** A GET request with Host and optional extra header lines (each ending in CRLF). */
export function get(path = "/", extra = "", version = "1.1"): string {
  const host = version === "1.1" ? "Host: t\r\n" : "";
  return `GET ${path} HTTP/${version}\r\n${host}${extra}\r\n`;
}

/** A Content-Length framed request with a body. */
export function withBody(
  method: string,
  path: string,
  body: string,
  extra = "",
  version = "1.1",
): string {
  const host = version === "1.1" ? "Host: t\r\n" : "";
  return `${method} ${path} HTTP/${version}\r\n${host}Content-Length: ${body.length}\r\n${extra}\r\n${body}`;
}

/** A chunked request whose body is `chunks` (already encoded, without the final `0` chunk). */
export function chunked(path: string, chunkBytes: string, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n${extra}\r\n${chunkBytes}`;
}

/** Encodes `data` as chunked pieces plus the last chunk (no trailers). */
export function encodeChunks(...pieces: string[]): string {
  return pieces.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join("") + "0\r\n\r\n";
}

/** JSON-quotes a short excerpt for assertion messages. */
export function show(s: string): string {
  return JSON.stringify(s.length > 600 ? s.slice(0, 600) + "..." : s);
}

/** Expected outcome of a table row: a rejection status (or set), or an app answer. */
export type Outcome =
  | RejectStatus
  | readonly RejectStatus[]
  | { readonly ok: number; readonly body?: string }
  | { readonly notRejected: true };

/** One table row: step name, request template (`{M}` = marker), outcome. */
export type Row = readonly [name: string, template: string, outcome: Outcome];

/** Turns table rows into cases. */
export function fromTable(rows: readonly Row[]): Case[] {
  return rows.map(([name, template, outcome]) => ({
    name,
    fn: async (port: number) => {
      if (typeof outcome === "number" || Array.isArray(outcome)) {
        await expectRejected(port, template, outcome as RejectStatus | RejectStatus[]);
      } else if ("ok" in outcome) {
        await expectStatus(port, fill(template, newMarker()), outcome.ok, outcome.body);
      } else {
        const rt = await roundTrip(port, fill(template, newMarker()));
        assert.equal(rt.responses.length, 1, `raw: ${show(rt.text)}`);
        const s = rt.responses[0].status;
        assert.ok(s !== 400 && s < 500, `status ${s}: the request was refused by the parser`);
      }
    },
  }));
}

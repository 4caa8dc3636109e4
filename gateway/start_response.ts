/**
 * `startResponse` and `write()` (rules SR-1 to SR-14 and WR-1 to WR-5 of types.ts).
 *
 * Contract:
 * - `createStartResponse({write})` returns the app-facing `startResponse` and the mutable
 *   `ResponseState` that the runner reads. `startResponse` validates status and headers when it
 *   is called (SR-7) and sends nothing (SR-8); sending is the runner's job.
 * - `write()` checks its argument (WR-1, WR-4, WR-5) and passes non-empty chunks to the `write`
 *   option, which sends the head if needed and applies back-pressure (WR-2).
 * - `excInfo` is never stored (SR-12). `null` and `undefined` both mean "no excInfo".
 * - `parseStatus(status)` (SR-2) and `checkHeaders(headers)` (SR-3 to SR-6) are the gateway's one
 *   status and header check, shared with the validator. Only the PEP 3333 shape is checked here
 *   (a "NNN Reason" string, a final status 200-599, an Array of `[name, value]` string pairs); the
 *   rules every app style shares (status range, reason phrase, header name token, value
 *   characters, hop-by-hop fields) are the engine's `checkStatus` and `checkResponseHeader`,
 *   reported under the spec's rule ids (`SPEC_RULE_OF`).
 */
import { AppContractError, SPEC_RULE_OF, typeName } from "./errors.ts";
import type { StartResponse, Write } from "./types.ts";
import type { ResponseRule } from "../server/http/errors.ts";
import { checkResponseHeader, checkStatus } from "../server/http/response_head.ts";

/** What the runner needs to know about the response so far. */
export interface ResponseState {
  /** SR-1: true once `startResponse` has been called successfully. */
  called: boolean;
  /** The full status string, e.g. "200 OK". */
  status: string;
  /** The numeric status code. */
  statusCode: number;
  /** The reason phrase (may be empty). */
  reason: string;
  /** The validated header list (the app's own array). */
  headers: Array<[string, string]>;
  /** SR-10, SR-11: set by the runner once the head has been handed to the connection. */
  headersSent: boolean;
  /** WR-4: set by the runner once the response has ended. */
  ended: boolean;
  /** BODY-7: true once the app called `write()` (disables the fast path). */
  writeUsed: boolean;
}

/** Options for `createStartResponse`. */
export interface StartResponseOptions {
  /** Sends one non-empty chunk (and the head first, if needed). Defaults to discarding it. */
  write?: (chunk: Uint8Array) => Promise<void>;
}

const RESOLVED: Promise<void> = Promise.resolve();
const STATUS_RE = /^([0-9]{3}) (.*)$/s;
const MAX_CACHED = 256;
const GOOD_STATUSES = new Map<string, readonly [number, string]>();

/** Creates a `startResponse` for one request, with the state the runner drives. */
export function createStartResponse(
  options: StartResponseOptions = {},
): { startResponse: StartResponse; state: ResponseState } {
  const state: ResponseState = {
    called: false,
    status: "",
    statusCode: 0,
    reason: "",
    headers: [],
    headersSent: false,
    ended: false,
    writeUsed: false,
  };
  const sink = options.write ?? function discard(): Promise<void> {
    state.headersSent = true;
    return RESOLVED;
  };

  function write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      throw new AppContractError("WR-1", `write() was given ${typeName(chunk)}, not a Uint8Array`);
    }
    if (state.ended) {
      return Promise.reject(new AppContractError("WR-4", "write() after the response ended"));
    }
    state.writeUsed = true;
    if (chunk.length === 0) return RESOLVED;
    return sink(chunk);
  }

  function startResponse(
    status: string,
    headers: Array<[string, string]>,
    excInfo?: unknown,
  ): Write {
    const hasExcInfo = excInfo !== undefined && excInfo !== null;
    if (state.called) {
      if (!hasExcInfo) {
        throw new AppContractError("SR-9", "startResponse called a second time without excInfo");
      }
      if (state.headersSent) throw excInfo;
    }
    const [code, reason] = parseStatus(status);
    checkHeaders(headers);
    state.called = true;
    state.status = status;
    state.statusCode = code;
    state.reason = reason;
    state.headers = headers;
    return write;
  }

  return { startResponse, state };
}

/** SR-2: splits a PEP 3333 status string "NNN Reason" into code and reason, or throws. */
export function parseStatus(status: unknown): readonly [number, string] {
  if (typeof status !== "string") {
    throw new AppContractError("SR-2", `status must be a string, got ${typeName(status)}`);
  }
  const cached = GOOD_STATUSES.get(status);
  if (cached !== undefined) return cached;
  const m = STATUS_RE.exec(status);
  if (m === null) {
    throw new AppContractError("SR-2", `status ${JSON.stringify(status)} is not "NNN Reason"`);
  }
  const code = Number(m[1]);
  const reason = m[2];
  if (checkStatus(code, reason) === "reason-ctl") {
    throw new AppContractError(
      "SR-2",
      `the reason phrase of ${JSON.stringify(status)} has a control or non-latin-1 character`,
    );
  }
  if (code < 200 || code > 599) {
    throw new AppContractError("SR-2", `status code ${code} is not a final status (200-599)`);
  }
  const parsed = [code, reason] as const;
  if (GOOD_STATUSES.size < MAX_CACHED) GOOD_STATUSES.set(status, parsed);
  return parsed;
}

/** SR-3 to SR-6: `headers` is an Array of acceptable `[name, value]` string pairs, or throws. */
export function checkHeaders(headers: unknown): asserts headers is Array<[string, string]> {
  if (!Array.isArray(headers)) {
    throw new AppContractError("SR-3", `headers must be an Array, got ${typeName(headers)}`);
  }
  for (let i = 0; i < headers.length; i++) {
    const h: unknown = headers[i];
    if (
      !Array.isArray(h) || h.length !== 2 || typeof h[0] !== "string" || typeof h[1] !== "string"
    ) {
      throw new AppContractError("SR-3", `header #${i} is not a [name, value] pair of strings`);
    }
    const rule = checkResponseHeader(h[0], h[1]);
    if (rule !== null) throw headerError(rule, h[0]);
  }
}

/** The `AppContractError` for a header that breaks the engine's `rule` (SR-4, SR-5 or SR-6). */
function headerError(rule: ResponseRule, name: string): AppContractError {
  const detail = rule === "header-name-token"
    ? `header name ${JSON.stringify(name)} is not a token`
    : rule === "hop-by-hop"
    ? `hop-by-hop header ${name} is set by the server`
    : `value of header ${name} contains a control character or a non-latin-1 character`;
  return new AppContractError(SPEC_RULE_OF[rule], detail);
}

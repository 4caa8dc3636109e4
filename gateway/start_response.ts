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
 */
import { AppContractError } from "./errors.ts";
import type { StartResponse, Write } from "./types.ts";
import { HOP_BY_HOP } from "../server/http/response_head.ts";

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
const STATUS_RE = /^([1-9]\d\d) ([\t\x20-\x7e\x80-\xff]*)$/;
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE_RE = /[^\t\x20-\x7e\x80-\xff]/;
const MAX_CACHED = 256;
const GOOD_NAMES = new Set<string>();
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

/** SR-2: splits "NNN Reason" into code and reason, or throws. */
function parseStatus(status: unknown): readonly [number, string] {
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
  if (code < 200 || code > 599) {
    throw new AppContractError("SR-2", `status code ${code} is not a final status (200-599)`);
  }
  const parsed = [code, m[2]] as const;
  if (GOOD_STATUSES.size < MAX_CACHED) GOOD_STATUSES.set(status, parsed);
  return parsed;
}

/** SR-3 to SR-6. */
function checkHeaders(headers: unknown): void {
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
    const [name, value] = h as [string, string];
    if (!GOOD_NAMES.has(name)) {
      if (!TOKEN_RE.test(name)) {
        throw new AppContractError("SR-4", `header name ${JSON.stringify(name)} is not a token`);
      }
      if (HOP_BY_HOP.has(name.toLowerCase())) {
        throw new AppContractError("SR-6", `hop-by-hop header ${name} is set by the server`);
      }
      if (GOOD_NAMES.size < MAX_CACHED) GOOD_NAMES.add(name);
    }
    if (BAD_VALUE_RE.test(value)) {
      throw new AppContractError(
        "SR-5",
        `value of header ${name} contains a control character or a non-latin-1 character`,
      );
    }
  }
}

/** A short description of a value's type, for messages. */
function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "object";
}

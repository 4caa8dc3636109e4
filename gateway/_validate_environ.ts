/**
 * The server-side half of the validator (private to gateway/): checks an environ against rules
 * APP-3, ENV-1 to ENV-17 and LS-1 to LS-10 of `types.ts`, as `wsgiref.validate.check_environ`
 * does for PEP 3333.
 *
 * Contract: `checkEnviron(environ, warn)` returns `null` when every rule holds, otherwise the first
 * broken rule as `[ruleId, detail]`. Things wsgiref only warns about (an unknown method) go to
 * `warn`. Pure: no I/O, no mutation.
 */
import { typeName } from "./errors.ts";

/** A broken rule: its id and what was wrong. */
export type Broken = readonly [rule: string, detail: string];

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIGITS_RE = /^[0-9]+$/;
const HTTP_KEY_RE = /^HTTP_[!#$%&'*+.^_`|~0-9A-Z]+$/;
// deno-lint-ignore no-control-regex
const LATIN1_RE = /^[\x00-\xff]*$/;
const KNOWN_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);
/** CGI variables that must be absent rather than empty when they do not apply (ENV-17). */
const ABSENT_NOT_EMPTY = ["REMOTE_ADDR", "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "HTTPS"];

/** Checks `env` (see the module comment). */
export function checkEnviron(env: unknown, warn: (msg: string) => void): Broken | null {
  if (typeof env !== "object" || env === null || Array.isArray(env)) {
    return ["APP-3", `the environ is ${env === null ? "null" : typeof env}, not a plain object`];
  }
  const proto = Object.getPrototypeOf(env);
  if (proto !== Object.prototype && proto !== null) {
    return ["APP-3", "the environ is not a plain object"];
  }
  const e = env as Record<string, unknown>;
  return checkCgi(e, warn) ?? checkHeaders(e) ?? checkLsbaws(e);
}

function checkCgi(e: Record<string, unknown>, warn: (msg: string) => void): Broken | null {
  const method = e.REQUEST_METHOD;
  if (typeof method !== "string" || !TOKEN_RE.test(method)) {
    return ["ENV-1", `REQUEST_METHOD ${show(method)} is not a non-empty method token`];
  }
  if (!KNOWN_METHODS.has(method)) warn(`unknown REQUEST_METHOD ${show(method)}`);
  const script = e.SCRIPT_NAME;
  if (typeof script !== "string") return ["ENV-2", "SCRIPT_NAME is missing"];
  if (script !== "" && (!script.startsWith("/") || script.endsWith("/"))) {
    return ["ENV-2", `SCRIPT_NAME ${show(script)} is neither "" nor "/..." without a final "/"`];
  }
  const path = e.PATH_INFO;
  if (typeof path !== "string") return ["ENV-3", "PATH_INFO is missing"];
  if (path !== "" && path !== "*" && !path.startsWith("/")) {
    return ["ENV-3", `PATH_INFO ${show(path)} is neither "", "*" nor "/..."`];
  }
  if (typeof e.QUERY_STRING !== "string") return ["ENV-7", "QUERY_STRING is missing"];
  if (e.CONTENT_LENGTH !== undefined) {
    if (typeof e.CONTENT_LENGTH !== "string" || !DIGITS_RE.test(e.CONTENT_LENGTH)) {
      return ["ENV-8", `CONTENT_LENGTH ${show(e.CONTENT_LENGTH)} is not a non-negative integer`];
    }
  }
  for (const key of ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"]) {
    if (key in e) return ["ENV-8", `${key} must not be present (use ${key.slice(5)})`];
  }
  for (const key of ["SERVER_NAME", "SERVER_PORT"]) {
    const v = e[key];
    if (typeof v !== "string" || v === "") return ["ENV-12", `${key} is missing or empty`];
  }
  if (!DIGITS_RE.test(e.SERVER_PORT as string)) {
    return ["ENV-12", `SERVER_PORT ${show(e.SERVER_PORT)} is not a port number`];
  }
  if (e.SERVER_PROTOCOL !== "HTTP/1.0" && e.SERVER_PROTOCOL !== "HTTP/1.1") {
    return ["ENV-13", `SERVER_PROTOCOL ${show(e.SERVER_PROTOCOL)} is not HTTP/1.0 or HTTP/1.1`];
  }
  if (e.REMOTE_PORT !== undefined) {
    if (typeof e.REMOTE_PORT !== "string" || !DIGITS_RE.test(e.REMOTE_PORT)) {
      return ["ENV-14", `REMOTE_PORT ${show(e.REMOTE_PORT)} is not a port number`];
    }
    if (e.REMOTE_ADDR === undefined) return ["ENV-14", "REMOTE_PORT without REMOTE_ADDR"];
  }
  const https = e.HTTPS;
  if (https !== undefined && https !== "on") return ["ENV-15", `HTTPS is ${show(https)}`];
  if ((https === "on") !== (e["lsbaws.url_scheme"] === "https")) {
    return ["ENV-15", "HTTPS and lsbaws.url_scheme disagree"];
  }
  for (const key of ABSENT_NOT_EMPTY) {
    if (e[key] === "") {
      return ["ENV-17", `${key} is empty; a variable that does not apply is absent`];
    }
  }
  for (const key of Object.keys(e)) {
    if (key.includes(".")) continue;
    const v = e[key];
    if (typeof v !== "string") return ["ENV-16", `${key} is a ${typeName(v)}, not a string`];
    if (!LATIN1_RE.test(v)) return ["ENV-16", `${key} has code units above U+00FF`];
  }
  return null;
}

function checkHeaders(e: Record<string, unknown>): Broken | null {
  for (const key of Object.keys(e)) {
    if (key.startsWith("HTTP_") && !HTTP_KEY_RE.test(key)) {
      return ["ENV-9", `${key} is not HTTP_ plus an uppercased field name with "-" as "_"`];
    }
  }
  return null;
}

function checkLsbaws(e: Record<string, unknown>): Broken | null {
  const version = e["lsbaws.version"];
  if (!Array.isArray(version) || version.length !== 2 || version[0] !== 1 || version[1] !== 0) {
    return ["LS-1", `lsbaws.version is ${show(version)}, not [1, 0]`];
  }
  const scheme = e["lsbaws.url_scheme"];
  if (scheme !== "http" && scheme !== "https") {
    return ["LS-2", `lsbaws.url_scheme is ${show(scheme)}`];
  }
  const input = e["lsbaws.input"] as Record<string | symbol, unknown> | undefined;
  if (
    typeof input !== "object" || input === null ||
    !["read", "readline", "readlines"].every((m) => typeof input[m] === "function") ||
    typeof input[Symbol.asyncIterator] !== "function" || !("stream" in input)
  ) {
    return ["LS-3", "lsbaws.input lacks read/readline/readlines/stream/async iteration"];
  }
  const errors = e["lsbaws.errors"] as Record<string, unknown> | undefined;
  if (
    typeof errors !== "object" || errors === null ||
    !["write", "writelines", "flush"].every((m) => typeof errors[m] === "function")
  ) {
    return ["LS-4", "lsbaws.errors lacks write/writelines/flush"];
  }
  if (e["lsbaws.multithread"] !== true) return ["LS-5", "lsbaws.multithread is not true"];
  if (typeof e["lsbaws.multiprocess"] !== "boolean") {
    return ["LS-6", "lsbaws.multiprocess is not a boolean"];
  }
  if (e["lsbaws.run_once"] !== false) return ["LS-7", "lsbaws.run_once is not false"];
  const raw = e["lsbaws.raw_uri"];
  if (typeof raw !== "string" || raw === "") return ["LS-8", "lsbaws.raw_uri is not a string"];
  const id = e["lsbaws.request_id"];
  if (typeof id !== "string" || id === "") return ["LS-9", "lsbaws.request_id is not a string"];
  if (!(e["lsbaws.signal"] instanceof AbortSignal)) {
    return ["LS-10", "lsbaws.signal is not an AbortSignal"];
  }
  return null;
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

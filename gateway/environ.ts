/**
 * Builds the environ for one request (rules ENV-1 to ENV-17 and LS-1 to LS-12 of types.ts).
 *
 * Contract:
 * - `buildEnviron(ex, config, input)` is pure apart from reading `ex`: it returns a fresh plain
 *   object (APP-3) and decodes strings once per request (a hot path: no repeated work).
 * - Every CGI value is a latin-1 "byte string" (ENV-16). Header values and the request target
 *   already are (the parser decodes latin-1); `PATH_INFO` is percent-decoded byte by byte
 *   (`decodePercentLatin1`), and `SCRIPT_NAME` is the UTF-8 bytes of `rootPath` as latin-1,
 *   after the prefix a trusted proxy removed (`ex.forwardedPrefix`, percent-decoded the same way).
 * - The only state is two small caches: header name → `HTTP_*` key, and the normalised rootPath.
 */
import type { Config } from "../server/config.ts";
import type { Exchange } from "../server/exchange.ts";
import { AppContractError, contractErrorOf } from "./errors.ts";
import { fileWrapper } from "./file_wrapper.ts";
import type { Environ, ErrorStream, Input } from "./types.ts";

/** The settings the environ depends on. */
export type EnvironConfig = Pick<Config, "rootPath" | "workers">;

const VERSION: readonly [1, 0] = Object.freeze([1, 0] as const);
const ABSOLUTE_PREFIX = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/;
const MAX_CACHED_NAMES = 512;
const CGI_NAMES = new Map<string, string | null>();
const UTF8_DECODER = new TextDecoder();
const UTF8_ENCODER = new TextEncoder();
let cachedRoot = "";
let cachedScriptName = "";

/** Builds the environ for `ex` (see types.ts sections 2 and 3). */
export function buildEnviron(ex: Exchange, config: EnvironConfig, input: Input): Environ {
  const head = ex.head;
  const scriptName = scriptNameFor(config.rootPath);
  const [path, query] = splitTarget(head.target, head.targetForm);
  let pathInfo = path;
  if (head.targetForm === "origin" || head.targetForm === "absolute") {
    pathInfo = stripPrefix(decodePercentLatin1(path), scriptName);
  }
  const removed = ex.forwardedPrefix;
  const env: Environ = {
    REQUEST_METHOD: head.method,
    SCRIPT_NAME: removed ? decodePercentLatin1(removed) + scriptName : scriptName,
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    SERVER_NAME: ex.serverName || ex.local.hostname || "localhost",
    SERVER_PORT: ex.serverPort || String(ex.local.port),
    SERVER_PROTOCOL: head.version,
    "lsbaws.version": VERSION,
    "lsbaws.url_scheme": ex.scheme,
    "lsbaws.input": input,
    // `ex.log` may be called detached and holds no exchange (see `Exchange.log`).
    "lsbaws.errors": createErrorStream(ex.log),
    "lsbaws.multithread": true,
    "lsbaws.multiprocess": config.workers > 1,
    "lsbaws.run_once": false,
    "lsbaws.raw_uri": head.target,
    // Plain data properties only: an accessor in this literal makes every environ ~20x slower to
    // build (measured: ~1 µs vs ~50 ns), and an AbortController costs ~30 ns.
    "lsbaws.signal": ex.res.signal,
    "lsbaws.request_id": ex.requestId,
    "lsbaws.file_wrapper": fileWrapper,
    "lsbaws.early_hints": (headers) => earlyHints(ex, headers),
  };
  if (ex.remote.transport === "tcp") {
    env.REMOTE_ADDR = ex.remote.hostname;
    env.REMOTE_PORT = String(ex.remote.port);
  } else if (ex.remote.hostname !== "") {
    env.REMOTE_ADDR = ex.remote.hostname;
  }
  if (ex.scheme === "https") env.HTTPS = "on";
  addHeaders(env, head.headers);
  return env;
}

/** LS-12: `103 Early Hints` through the exchange; its rule errors as the contract's. */
function earlyHints(ex: Exchange, headers: ReadonlyArray<readonly [string, string]>): boolean {
  if (ex.earlyHints === undefined) return false;
  if (!Array.isArray(headers) || !headers.every(isPair)) {
    throw new AppContractError("SR-3", "lsbaws.early_hints takes an array of [name, value] pairs");
  }
  try {
    return ex.earlyHints(headers);
  } catch (err) {
    throw contractErrorOf(err);
  }
}

function isPair(h: unknown): boolean {
  return Array.isArray(h) && h.length === 2 && typeof h[0] === "string" &&
    typeof h[1] === "string";
}

/** ENV-8 to ENV-11: maps request fields to CONTENT_* and HTTP_* keys. */
function addHeaders(env: Environ, headers: ReadonlyArray<readonly [string, string]>): void {
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    if (name === "content-type") {
      if (env.CONTENT_TYPE === undefined) env.CONTENT_TYPE = value;
      continue;
    }
    if (name === "content-length") {
      if (env.CONTENT_LENGTH === undefined) env.CONTENT_LENGTH = value;
      continue;
    }
    const key = cgiNameFor(name);
    if (key === null) continue;
    const prev = env[key];
    env[key] = prev === undefined ? value : prev + (name === "cookie" ? "; " : ", ") + value;
  }
}

/** `user-agent` → `HTTP_USER_AGENT`; null for names containing "_" (ENV-11). */
function cgiNameFor(name: string): `HTTP_${string}` | null {
  let key = CGI_NAMES.get(name);
  if (key === undefined) {
    key = name.includes("_") ? null : "HTTP_" + name.toUpperCase().replaceAll("-", "_");
    if (CGI_NAMES.size < MAX_CACHED_NAMES) CGI_NAMES.set(name, key);
  }
  return key as `HTTP_${string}` | null;
}

/** ENV-5 to ENV-7: the raw path and query of a request target. */
function splitTarget(target: string, form: string): [string, string] {
  if (form === "asterisk") return ["*", ""];
  if (form === "authority") return ["", ""];
  let rest = target;
  if (form === "absolute") {
    const m = ABSOLUTE_PREFIX.exec(target);
    rest = m ? target.slice(m[0].length) : target;
  }
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? "" : rest.slice(q + 1);
  return [path === "" ? "/" : path, query];
}

/** ENV-4: removes the mount prefix when the path lies under it. */
function stripPrefix(path: string, scriptName: string): string {
  if (scriptName === "" || !path.startsWith(scriptName)) return path;
  if (path.length === scriptName.length) return "";
  return path.charCodeAt(scriptName.length) === 0x2f ? path.slice(scriptName.length) : path;
}

/** ENV-2: the normalised SCRIPT_NAME for a configured rootPath (cached). */
function scriptNameFor(rootPath: string): string {
  if (rootPath === cachedRoot) return cachedScriptName;
  let s = rootPath.replace(/\/+$/, "");
  if (s !== "" && !s.startsWith("/")) s = "/" + s;
  cachedScriptName = encodeByteString(s);
  cachedRoot = rootPath;
  return cachedScriptName;
}

/**
 * ENV-3: percent-decodes `s` byte by byte: each valid `%XX` becomes the code unit 0xXX, and a
 * "%" not followed by two hex digits is kept. The result is a latin-1 byte string.
 */
export function decodePercentLatin1(s: string): string {
  let i = s.indexOf("%");
  if (i < 0) return s;
  let out = "";
  let last = 0;
  while (i >= 0) {
    const hi = hexValue(s.charCodeAt(i + 1));
    const lo = hi < 0 ? -1 : hexValue(s.charCodeAt(i + 2));
    if (lo < 0) {
      i = s.indexOf("%", i + 1);
      continue;
    }
    out += s.slice(last, i) + String.fromCharCode(hi * 16 + lo);
    last = i + 3;
    i = s.indexOf("%", last);
  }
  return out + s.slice(last);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * ENV-16: reads a latin-1 byte string (any CGI value, e.g. `PATH_INFO`) as UTF-8. Invalid UTF-8
 * sequences become U+FFFD.
 */
export function decodeByteString(value: string): string {
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i) & 0xff;
  return UTF8_DECODER.decode(bytes);
}

/** The inverse of `decodeByteString`: the UTF-8 bytes of `value` as a latin-1 byte string. */
export function encodeByteString(value: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(value)) return value;
  const bytes = UTF8_ENCODER.encode(value);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
  return out;
}

/** ERR-1 to ERR-3: an error stream writing whole lines to `log` at level "error". */
export function createErrorStream(log: Exchange["log"]): ErrorStream {
  return new LogErrorStream(log);
}

/** The error stream: one object per request, its methods on the prototype (no closures). */
class LogErrorStream implements ErrorStream {
  readonly #log: Exchange["log"];
  #pending = "";

  constructor(log: Exchange["log"]) {
    this.#log = log;
  }

  write(text: string): void {
    let s = this.#pending + String(text);
    let nl = s.indexOf("\n");
    while (nl >= 0) {
      this.#log("error", s.slice(0, nl));
      s = s.slice(nl + 1);
      nl = s.indexOf("\n");
    }
    this.#pending = s;
  }

  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }

  flush(): void {
    if (this.#pending === "") return;
    const s = this.#pending;
    this.#pending = "";
    this.#log("error", s);
  }
}

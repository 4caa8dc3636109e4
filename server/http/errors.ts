/**
 * The error model: every error that can become a response carries its exact status.
 *
 * Contract:
 * - `HttpError` is the base of every error the engine answers: `status` is the exact status sent
 *   (when nothing of the response reached the socket yet), `rule` a stable id of the broken rule,
 *   and `logged` says whether whoever threw it already logged it with its details.
 * - `ProtocolError` (the client's bytes are malformed or exceed a limit): a stable `code`; its
 *   `status` comes only from `PROTOCOL_ERROR_STATUS[code]`; the connection answers and closes.
 * - `ResponseError` (an app-supplied status, header or body breaks a response rule): `rule` is one
 *   of `RESPONSE_RULES` (`status-range`, `header-name-token`, `hop-by-hop`, ...); status 500.
 * - `statusOf(err)` is the one way to ask an error for its status (500 for anything that is not an
 *   `HttpError` with a 4xx/5xx status); `describeError(err)` the one log description (stack and
 *   cause). No code compares error names or messages as strings.
 * - `encodeErrorResponse(status)` (`encodeErrorResponseFor` with a connection's options) is the one
 *   mapping from an error status to bytes. Responses are pre-encoded at module load, always carry
 *   `Connection: close`, and never echo request bytes.
 * Tests assert on `code`, `rule` and `status`, never on message text.
 */
import { STATUS_TEXT } from "./status.ts";

/** Status for every protocol error code. */
export const PROTOCOL_ERROR_STATUS = Object.freeze(
  {
    INVALID_REQUEST_LINE: 400,
    INVALID_METHOD: 400,
    INVALID_TARGET: 400,
    INVALID_VERSION: 400,
    INVALID_LINE_ENDING: 400,
    INVALID_HEADER_NAME: 400,
    INVALID_HEADER_VALUE: 400,
    WHITESPACE_BEFORE_COLON: 400,
    OBSOLETE_LINE_FOLDING: 400,
    MISSING_HOST: 400,
    MULTIPLE_HOST: 400,
    INVALID_HOST: 400,
    INVALID_CONTENT_LENGTH: 400,
    CONFLICTING_FRAMING: 400,
    TRANSFER_ENCODING_ON_HTTP10: 400,
    INVALID_TRANSFER_ENCODING: 400,
    CHUNKED_NOT_FINAL: 400,
    INVALID_CHUNK_SIZE: 400,
    INVALID_CHUNK_EXTENSION: 400,
    CHUNK_LINE_TOO_LONG: 400,
    INVALID_CHUNK_DATA: 400,
    INVALID_TRAILER: 400,
    INCOMPLETE_BODY: 400,
    INVALID_PROXY_HEADER: 400,
    MISSING_PROXY_HEADER: 400,
    PROXY_HEADER_FORBIDDEN: 403,
    REQUEST_TIMEOUT: 408,
    BODY_TOO_LARGE: 413,
    REQUEST_LINE_TOO_LONG: 414,
    EXPECTATION_FAILED: 417,
    HEADERS_TOO_LARGE: 431,
    TOO_MANY_HEADERS: 431,
    TRAILERS_TOO_LARGE: 431,
    UNSUPPORTED_TRANSFER_CODING: 501,
    UNSUPPORTED_VERSION: 505,
  } as const,
);

/** A stable protocol error code. */
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERROR_STATUS;

/** Every error the engine turns into a response: it carries the exact status and the rule. */
export class HttpError extends Error {
  /** Exact HTTP status to answer with (400..599). */
  readonly status: number;
  /** Stable id of the broken rule (a protocol code, a response rule or a gateway spec rule). */
  readonly rule: string;
  /** True when whoever threw it already logged it with its details (the engine logs at debug). */
  readonly logged: boolean;
  /** Creates an error answered with `status` for breaking `rule`. */
  constructor(
    status: number,
    rule: string,
    message: string,
    options?: { cause?: unknown; logged?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.rule = rule;
    this.logged = options?.logged ?? false;
  }
}

/** Malformed request bytes or an exceeded limit. The connection answers `status` and closes. */
export class ProtocolError extends HttpError {
  /** Stable machine-readable code. */
  readonly code: ProtocolErrorCode;
  /** Creates an error for `code` with an optional human-readable detail (never sent to clients). */
  constructor(code: ProtocolErrorCode, detail?: string) {
    super(PROTOCOL_ERROR_STATUS[code], code, detail ? `${code}: ${detail}` : code);
    this.code = code;
  }
}

/** The rules an app-supplied response head or body can break, each a stable id. */
export const RESPONSE_RULES = Object.freeze(
  [
    /** Status not an integer in 100..999, or a 1xx other than 101 as a final status. */
    "status-range",
    /** Reason phrase with CTLs or code units above 0xFF. */
    "reason-ctl",
    /** Header name is not an RFC 9110 token. */
    "header-name-token",
    /** Header value with CR, LF, NUL or another CTL except HTAB. */
    "header-value-ctl",
    /** Header value with code units above 0xFF. */
    "header-value-latin1",
    /** A hop-by-hop field (RFC 9110 §7.6.1): the server owns it. */
    "hop-by-hop",
    /** Content-Length not 1..15 digits, or two different values. */
    "content-length-digits",
    /** Calls out of order: a body before the head, a head after it was sent, the response not ended. */
    "response-order",
    /** A body chunk that is not a `Uint8Array`. */
    "body-bytes",
    /** A field a 103 Early Hints response cannot carry (Content-Length, Date, Server). */
    "early-hints-field",
  ] as const,
);

/** A stable response rule id. */
export type ResponseRule = typeof RESPONSE_RULES[number];

/** An app-supplied status, header or body breaks `rule`; answered with 500 if nothing was sent. */
export class ResponseError extends HttpError {
  /** The broken response rule. */
  declare readonly rule: ResponseRule;
  /** Creates an error for `rule`; `detail` is for the log only. */
  constructor(rule: ResponseRule, detail: string) {
    super(500, rule, `${detail}: ${rule}`);
  }
}

/** The status to answer `err` with: its own for an `HttpError` with a 4xx/5xx status, else 500. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError && err.status >= 400 && err.status <= 599) return err.status;
  return 500;
}

/** One description of a thrown value for the error log: the stack, and the cause's if any. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) {
    try {
      return `non-Error value ${String(err)}`;
    } catch {
      return "non-Error value";
    }
  }
  const own = err.stack ?? `${err.name}: ${err.message}`;
  const cause = err.cause;
  if (cause instanceof Error) return `${own}\n  caused by: ${cause.stack ?? cause.message}`;
  return own;
}

const encoder = new TextEncoder();
const CACHE = new Map<number, Uint8Array>();

/**
 * The body of the canned error response for `status` (`"404 Not Found\n"`, plain text), the same
 * for every app style. It never echoes request bytes.
 */
export function errorBodyText(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? "Error"}\n`;
}

/** Content-Type of the canned error responses. */
export const ERROR_CONTENT_TYPE = "text/plain; charset=utf-8";

/**
 * Encodes the canned error response for `status`: a short plain-text body (`errorBodyText`),
 * `Connection: close`, no request bytes echoed. Responses are built once per status and cached.
 * `date` is the current IMF-fixdate and `server` the Server header value (either empty omits it);
 * `defaults` are the `--header` lines.
 */
export function encodeErrorResponse(
  status: number,
  date: string,
  server = "",
  defaults = "",
): Uint8Array {
  const key = status;
  let tail = CACHE.get(key);
  if (!tail) {
    const body = errorBodyText(status);
    tail = encoder.encode(
      `Content-Type: ${ERROR_CONTENT_TYPE}\r\nContent-Length: ${body.length}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
    CACHE.set(key, tail);
  }
  const head = encoder.encode(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n` +
      (date ? `Date: ${date}\r\n` : "") + (server ? `Server: ${server}\r\n` : "") + defaults,
  );
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}

/** `encodeErrorResponse` with the date, Server value and default lines a connection uses. */
export function encodeErrorResponseFor(
  status: number,
  head: { date(): string; readonly serverHeader: string; readonly defaultHeaders?: string },
): Uint8Array {
  return encodeErrorResponse(status, head.date(), head.serverHeader, head.defaultHeaders);
}

/**
 * Protocol errors: malformed input or an exceeded limit, each carrying its exact status.
 *
 * Contract:
 * - Every `ProtocolError` has a stable `code`; its `status` comes only from
 *   `PROTOCOL_ERROR_STATUS[code]`. Tests assert on `code` and `status`, never on message text.
 * - `encodeErrorResponse(status)` is the one mapping from an error status to bytes. Responses are
 *   pre-encoded at module load, always carry `Connection: close`, and never echo request bytes.
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
    INVALID_CHUNK_SIZE: 400,
    INVALID_CHUNK_EXTENSION: 400,
    CHUNK_LINE_TOO_LONG: 400,
    INVALID_CHUNK_DATA: 400,
    INVALID_TRAILER: 400,
    INCOMPLETE_BODY: 400,
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

/** Malformed request bytes or an exceeded limit. The connection answers `status` and closes. */
export class ProtocolError extends Error {
  /** Stable machine-readable code. */
  readonly code: ProtocolErrorCode;
  /** Exact HTTP status to answer with. */
  readonly status: number;
  /** Creates an error for `code` with an optional human-readable detail (never sent to clients). */
  constructor(code: ProtocolErrorCode, detail?: string) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = "ProtocolError";
    this.code = code;
    this.status = PROTOCOL_ERROR_STATUS[code];
  }
}

const encoder = new TextEncoder();
const CACHE = new Map<number, Uint8Array>();

/**
 * Encodes the canned error response for `status`: a short plain-text body, `Connection: close`,
 * no request bytes echoed. Responses are built once per status and cached. `date` is the current
 * IMF-fixdate and `server` the Server header value (empty omits it).
 */
export function encodeErrorResponse(status: number, date: string, server = ""): Uint8Array {
  const key = status;
  let tail = CACHE.get(key);
  if (!tail) {
    const reason = STATUS_TEXT[status] ?? "Error";
    const body = `${status} ${reason}\n`;
    tail = encoder.encode(
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
    CACHE.set(key, tail);
  }
  const head = encoder.encode(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nDate: ${date}\r\n` +
      (server ? `Server: ${server}\r\n` : ""),
  );
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}

/**
 * THE GATEWAY SPECIFICATION: PEP 3333 mapped to TypeScript. This file is normative.
 *
 * The key words MUST, MUST NOT, SHOULD and MAY are used as in RFC 2119. Every rule has an id
 * (`SR-2`); `AppContractError.rule` carries the id of the rule an app broke, and
 * `tests/gateway/spec_*_test.ts` has one test per rule, named after it. Rules marked "(server)"
 * are kept by the connection engine and tested under `tests/server/` or `tests/conformance/`.
 *
 * ## 1. Calling the app (APP)
 * - APP-1: The server MUST call the app once per request as `app(environ, startResponse)`.
 * - APP-2: The app MUST return a `ResponseBody`, or a Promise that resolves to one; anything
 *   else (including `undefined` and `null`) is a contract error.
 * - APP-3: Each request gets a fresh plain `environ` object, and the app MAY modify it.
 * - APP-4: When the app throws, its Promise rejects, or its body throws while being iterated, the
 *   server MUST report an `AppError` (cause = the thrown value) and log it with its stack through
 *   the error log. The client gets a canned 500 if no header was sent yet, and an aborted
 *   connection otherwise; it MUST NOT get error details.
 * - APP-5: An async app MAY be entered again for another request before an earlier call has
 *   finished, so it MUST NOT keep per-request state in module variables.
 * - APP-6: An error that the app received from `lsbaws.input` (a body that is too large or
 *   malformed, a client that went away) and let escape MUST be passed to the server unwrapped,
 *   so the client gets that error's own status (413, 400, ...).
 *
 * ## 2. The environ (ENV): CGI keys
 * - ENV-1: `REQUEST_METHOD` is the request method, case preserved, and never empty.
 * - ENV-2: `SCRIPT_NAME` is the configured mount prefix (`rootPath`) without a trailing "/"
 *   (so "/" becomes ""); it is always present and is either "" or starts with "/". When a trusted
 *   proxy says it removed a prefix before forwarding (`X-Forwarded-Prefix`, see
 *   `server/proxy.ts`), that prefix, percent-decoded as in ENV-3, comes first
 *   (`/shop` + `/api` = `/shop/api`); ENV-4 then removes only the `rootPath` part.
 * - ENV-3: `PATH_INFO` is the path part of the request target, percent-decoded byte by byte into
 *   latin-1 code units (`%C3%A9` becomes the two code units U+00C3 U+00A9); it is never decoded as
 *   UTF-8, "%2F" becomes "/", and a "%" not followed by two hex digits is kept as it is.
 * - ENV-4: When the decoded path equals the `rootPath` part of `SCRIPT_NAME` or starts with it
 *   plus "/", that prefix is removed from `PATH_INFO`; otherwise `PATH_INFO` is the whole decoded
 *   path and `SCRIPT_NAME` is still set (the behaviour of waitress's `url_prefix`). A prefix the
 *   proxy removed is not in the path and is never removed again.
 * - ENV-5: For an absolute-form target only the path and query are used, and an empty path
 *   becomes "/"; the authority is reported through `SERVER_NAME` and `SERVER_PORT`.
 * - ENV-6: For the asterisk form (`OPTIONS *`) `PATH_INFO` is "*", and for the authority form
 *   (`CONNECT host:port`) it is ""; in both cases `QUERY_STRING` is "" (a documented departure from
 *   wsgiref.validate, which wants "" or a leading "/").
 * - ENV-7: `QUERY_STRING` is the raw text after the first "?" of the target, not decoded; it is
 *   "" when there is no query, and always present.
 * - ENV-8: `CONTENT_TYPE` and `CONTENT_LENGTH` are present only when the request has those
 *   fields (the first occurrence is used), and `HTTP_CONTENT_TYPE` and `HTTP_CONTENT_LENGTH` are
 *   never present.
 * - ENV-9: Every other request header appears as `HTTP_` plus its name uppercased with "-"
 *   turned into "_" (`User-Agent` becomes `HTTP_USER_AGENT`).
 * - ENV-10: A field that occurs more than once is joined in arrival order with ", ", except
 *   `Cookie`, which is joined with "; " (RFC 9113 §8.2.3).
 * - ENV-11: A header whose name contains "_" is dropped, so that `X-Auth_User` cannot pose as
 *   `X-Auth-User` (gunicorn's `header_map=drop`).
 * - ENV-12: `SERVER_NAME` and `SERVER_PORT` are never empty: they come from the absolute-form
 *   authority, else the Host field, else the local address.
 * - ENV-13: `SERVER_PROTOCOL` is the request's version, "HTTP/1.0" or "HTTP/1.1".
 * - ENV-14: `REMOTE_ADDR` and `REMOTE_PORT` are the peer's address and port as strings; over a
 *   unix socket `REMOTE_PORT` is absent, and `REMOTE_ADDR` is absent when the peer is unnamed.
 * - ENV-15: `HTTPS` is "on" when the URL scheme is https, and absent otherwise.
 * - ENV-16: Every key without a dot has a string value made only of code units U+0000-U+00FF
 *   (a latin-1 "byte string"); use `decodeByteString()` to read one as UTF-8.
 * - ENV-17: A CGI variable that does not apply is absent rather than empty, except `SCRIPT_NAME`,
 *   `PATH_INFO` and `QUERY_STRING`, which are always present.
 *
 * ## 3. The environ (LS): lsbaws keys
 * - LS-1: `lsbaws.version` is `[1, 0]`.
 * - LS-2: `lsbaws.url_scheme` is "http" or "https".
 * - LS-3: `lsbaws.input` is the request body as an `Input` (section 7).
 * - LS-4: `lsbaws.errors` is the error stream (section 8).
 * - LS-5: `lsbaws.multithread` is true, because an async app can be re-entered concurrently.
 * - LS-6: `lsbaws.multiprocess` is true when more than one worker process serves the app.
 * - LS-7: `lsbaws.run_once` is false.
 * - LS-8: `lsbaws.raw_uri` is the request target exactly as received (latin-1, not decoded).
 * - LS-9: `lsbaws.request_id` is the request id (the client's X-Request-ID, or a generated one).
 * - LS-10: `lsbaws.signal` is an `AbortSignal` that aborts when the client goes away (the
 *   analogue of `waitress.client_disconnected`).
 * - LS-11: `lsbaws.file_wrapper(file, blockSize?)` (PEP 3333's `wsgi.file_wrapper`) takes an open
 *   `Deno.FsFile`, a path or a `file:` URL (opened read-only when called; a missing file throws)
 *   and returns a `FileWrapperBody`: an iterable of `blockSize`-byte chunks (default 64 KiB) from
 *   the file's current position to its end, whose `close()` closes the file. Iterating it, or
 *   wrapping it in a middleware, works like any body.
 * - LS-12: `lsbaws.early_hints(headers)` (gunicorn's `wsgi.early_hints`) sends a `103 Early
 *   Hints` response (RFC 8297) with `headers`, `[name, value]` pairs as in SR-3, at once, ahead
 *   of the final response; it may be called more than once. It returns whether it was sent:
 *   false for an HTTP/1.0 client, once the final head was sent, after the response ended, and
 *   where the server in front cannot send interim responses (an adapter). The headers MUST follow
 *   SR-4 to SR-6 and MUST NOT include Content-Length, Date or Server; otherwise it throws an
 *   `AppContractError` naming the rule, and sends nothing.
 *
 * ## 4. startResponse (SR)
 * - SR-1: The app MUST call `startResponse` before the body produces its first non-empty chunk
 *   or ends; the call MAY happen during the first iteration of the body.
 * - SR-2: `status` MUST be a string "NNN Reason": a code from 200 to 599 (a 1xx status is interim
 *   and cannot be final), one space, and a reason of HTAB, SP and visible latin-1 characters,
 *   which may be empty.
 * - SR-3: `headers` MUST be an Array of `[name, value]` pairs of strings.
 * - SR-4: Every header name MUST be a token (RFC 9110 §5.6.2).
 * - SR-5: A header value MUST NOT contain CR, LF, NUL or any other control character except
 *   HTAB, and MUST contain only latin-1 code units (RFC 9110 §5.5).
 * - SR-6: The app MUST NOT set a hop-by-hop field (Connection, Keep-Alive, Proxy-Authenticate,
 *   Proxy-Authorization, TE, Trailer, Trailers, Transfer-Encoding, Upgrade); the server owns
 *   connection management and framing.
 * - SR-7: `startResponse` MUST check rules SR-2 to SR-6 when it is called, and throw an
 *   `AppContractError` naming the rule.
 * - SR-8: `startResponse` MUST NOT send anything; the status and headers go out with the first
 *   non-empty chunk (from `write()` or the body), or when the body ends.
 * - SR-9: A second call without `excInfo` MUST throw an `AppContractError`.
 * - SR-10: A call with `excInfo` before the headers were sent replaces the status and headers.
 * - SR-11: A call with `excInfo` after the headers were sent MUST throw `excInfo` itself.
 * - SR-12: The server MUST NOT keep a reference to `excInfo` after the call returns.
 * - SR-13 (server): The server adds Date and Server when the app did not set them, and compares
 *   header names case-insensitively.
 * - SR-14: `startResponse` returns the `Write` function of section 5.
 *
 * ## 5. write() (WR), a legacy hook for imperative apps; apps SHOULD return a body instead
 * - WR-1: `write(chunk)` MUST be given a `Uint8Array`; anything else throws an `AppContractError`.
 * - WR-2: The chunk (preceded by the headers, if not yet sent) is handed to the connection before
 *   the returned Promise resolves; awaiting it applies back-pressure.
 * - WR-3: Chunks of the returned body go out after all data given to `write()`.
 * - WR-4: `write()` after the response has ended MUST reject with an `AppContractError`.
 * - WR-5: `write()` of an empty chunk sends nothing, not even the headers.
 *
 * ## 6. The response body (BODY)
 * - BODY-1: The body MUST be a `Uint8Array` (one chunk), an `Iterable<Uint8Array>` (an Array, a
 *   generator), an `AsyncIterable<Uint8Array>` or a `ReadableStream<Uint8Array>`.
 * - BODY-2: Every chunk MUST be a `Uint8Array`; a string, as a body or as a chunk, is a contract
 *   error (encode it with `TextEncoder`).
 * - BODY-3: The server MUST hand each chunk to the connection, and wait for back-pressure, before
 *   it pulls the next one.
 * - BODY-4: Empty chunks are skipped, and do not cause the headers to be sent.
 * - BODY-5: The server MUST release the body exactly once in every case (normal end, error, client
 *   gone): it calls `return()` on the iterator it obtained, `cancel()` on a ReadableStream, and
 *   `close()` if the body object itself has one (PEP 3333's `close()`).
 * - BODY-6: An error thrown by a release hook is logged and does not change a response that was
 *   already sent.
 * - BODY-7: When the app returns (synchronously, or as the value its Promise resolves to) an
 *   Array without a `close()` hook or a single `Uint8Array`, and did not use `write()`, the server
 *   sends the whole response at once with a computed Content-Length, and a HEAD request gets the
 *   same Content-Length a GET would have had. A synchronous return is the fast path.
 * - BODY-8 (server): If the app sets Content-Length, the server sends no more bytes than declared,
 *   and closes the connection (and logs) when the body is shorter.
 * - BODY-9: When the client goes away (`lsbaws.signal` aborts), the server stops pulling the body,
 *   releases it, and reports no error.
 * - BODY-10: When the app returns the `FileWrapperBody` of LS-11 itself as the body and did not
 *   use `write()`, the server sends the file directly (with `sendfile(2)` on the libc socket
 *   backend, by reading it otherwise): from the file's current position to its end with that
 *   length as Content-Length when the app set none, else exactly the declared number of bytes
 *   (a shorter file ends the response short and the connection closes, BODY-8). A HEAD request
 *   gets the same head and no body. The server closes the wrapper (so the file) when the
 *   response ends, fails or the client goes away.
 *
 * ## 7. lsbaws.input (IN)
 * - IN-1: `read(n)` resolves to exactly `n` bytes unless the body ends first; `read()` (or a
 *   negative `n`) resolves to the rest of the body.
 * - IN-2: At the end of the body (Content-Length reached, or the last chunk) every read resolves
 *   to an empty `Uint8Array`; the input never reads past the body.
 * - IN-3: `readline(limit?)` resolves to the bytes up to and including the next LF, or to `limit`
 *   bytes, or to the rest of the body, whichever is shortest.
 * - IN-4: `readlines(hint?)` resolves to the remaining lines, stopping once their total size
 *   reaches `hint` when `hint` is positive.
 * - IN-5: `for await (const line of input)` yields the remaining lines.
 * - IN-6: `stream` is a `ReadableStream<Uint8Array>` of the unread bytes, created on first access
 *   and the same object afterwards; it shares its buffer with the read methods.
 * - IN-7: The input has no `close()`, and the app MUST NOT try to close it.
 * - IN-8: A failed read (bad framing, limit, timeout, client gone) rejects with the server's error
 *   (see APP-6).
 * - IN-9 (server): `Expect: 100-continue` is answered on the first read.
 *
 * ## 8. lsbaws.errors (ERR)
 * - ERR-1: `write(text)` writes text to the server's error log at level "error", one log entry
 *   per complete line.
 * - ERR-2: `writelines(lines)` is `write()` applied to each item in turn.
 * - ERR-3: `flush()` logs a pending partial line; the server flushes at the end of each request.
 *
 * This module contains types only and imports nothing.
 */

/** A request body, as the app reads it (`lsbaws.input`, section 7 of this file). */
export interface Input extends AsyncIterable<Uint8Array> {
  /** IN-1, IN-2: exactly `n` bytes unless the body ends first; no `n` means the rest. */
  read(n?: number): Promise<Uint8Array>;
  /** IN-3: one line including its LF, at most `limit` bytes. */
  readline(limit?: number): Promise<Uint8Array>;
  /** IN-4: the remaining lines, stopping after `hint` bytes when positive. */
  readlines(hint?: number): Promise<Uint8Array[]>;
  /** IN-6: the unread body as a stream (the same object on every access). */
  readonly stream: ReadableStream<Uint8Array>;
}

/** The error stream (`lsbaws.errors`, section 8 of this file). */
export interface ErrorStream {
  /** ERR-1: writes text to the error log, one entry per line. */
  write(text: string): void;
  /** ERR-2: writes each item in turn. */
  writelines(lines: Iterable<string>): void;
  /** ERR-3: logs a pending partial line. */
  flush(): void;
}

/** The CGI-style request description passed to an app (sections 2 and 3 of this file). */
export interface Environ {
  /** ENV-1. */
  REQUEST_METHOD: string;
  /** ENV-2. */
  SCRIPT_NAME: string;
  /** ENV-3 to ENV-6. */
  PATH_INFO: string;
  /** ENV-7. */
  QUERY_STRING: string;
  /** ENV-8. */
  CONTENT_TYPE?: string;
  /** ENV-8. */
  CONTENT_LENGTH?: string;
  /** ENV-12. */
  SERVER_NAME: string;
  /** ENV-12. */
  SERVER_PORT: string;
  /** ENV-13. */
  SERVER_PROTOCOL: string;
  /** ENV-14. */
  REMOTE_ADDR?: string;
  /** ENV-14. */
  REMOTE_PORT?: string;
  /** ENV-15. */
  HTTPS?: "on";
  /** LS-1. */
  "lsbaws.version": readonly [1, 0];
  /** LS-2. */
  "lsbaws.url_scheme": "http" | "https";
  /** LS-3. */
  "lsbaws.input": Input;
  /** LS-4. */
  "lsbaws.errors": ErrorStream;
  /** LS-5. */
  "lsbaws.multithread": boolean;
  /** LS-6. */
  "lsbaws.multiprocess": boolean;
  /** LS-7. */
  "lsbaws.run_once": boolean;
  /** LS-8. */
  "lsbaws.raw_uri": string;
  /** LS-9. */
  "lsbaws.request_id": string;
  /** LS-10. */
  "lsbaws.signal": AbortSignal;
  /** LS-11. */
  "lsbaws.file_wrapper": FileWrapperFactory;
  /** LS-12. */
  "lsbaws.early_hints": (headers: ReadonlyArray<readonly [string, string]>) => boolean;
  /** ENV-9 to ENV-11: request headers. */
  [key: `HTTP_${string}`]: string | undefined;
  /** APP-3: apps and middleware may add their own keys. */
  [key: string]: unknown;
}

/** LS-11: what `lsbaws.file_wrapper` returns (a body the server can send from the file). */
export interface FileWrapperBody extends Iterable<Uint8Array> {
  /** The open file. */
  readonly file: Deno.FsFile;
  /** Chunk size when iterated. */
  readonly blockSize: number;
  /** Closes the file (idempotent). */
  close(): void;
}

/** LS-11: `environ["lsbaws.file_wrapper"]`. */
export type FileWrapperFactory = (
  file: Deno.FsFile | string | URL,
  blockSize?: number,
) => FileWrapperBody;

/** WR-1 to WR-5: the legacy imperative writer returned by `startResponse`. */
export type Write = (chunk: Uint8Array) => Promise<void>;

/** SR-1 to SR-14: sets the response status and headers (sent later, SR-8). */
export type StartResponse = (
  status: string,
  headers: Array<[string, string]>,
  excInfo?: unknown,
) => Write;

/** BODY-1: what an app returns. */
export type ResponseBody =
  | Uint8Array
  | Iterable<Uint8Array>
  | AsyncIterable<Uint8Array>
  | ReadableStream<Uint8Array>;

/** APP-1, APP-2: a gateway application. */
export type App = (
  environ: Environ,
  startResponse: StartResponse,
) => ResponseBody | Promise<ResponseBody>;

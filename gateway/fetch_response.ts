/**
 * The fetch path's response side: writes a `Response` through the engine's `Responder`.
 *
 * Contract:
 * - `sendResponse(ex, resp)` sends `resp`'s status, headers and body. Headers go out as
 *   `Deno.serve` sends them: names as the app wrote them, one line per entry, in the order the app
 *   added them (read from Deno's header list when `rawHeaderList` can, else by iterating the
 *   `Headers`, which lowercases, sorts and combines them).
 * - A body known to be one piece (a string or bytes given to the `Response`, `staticBodyOf`; or a
 *   stream that ends right after its first chunk) gets Content-Length; anything else streams
 *   (chunked on HTTP/1.1) with back-pressure. The body stream is cancelled if the client goes
 *   away.
 * - A `fileResponse` (gateway/file_wrapper.ts) whose body was not touched is sent from its file
 *   with `Responder.sendFile` (zero-copy where the driver can): Content-Length is the rest of the
 *   file unless the app set one (then exactly that many bytes are sent); the body stream, which
 *   owns the file, is cancelled afterwards in every case, which closes the file.
 * - Hop-by-hop headers break the same rule as in gateway apps (SR-6), with one exception:
 *   `Transfer-Encoding: chunked` alone is dropped, because it only restates what the server does
 *   for a streamed body and the Fetch API has no other way to say "stream"; frameworks set it
 *   (Hono's `streamText`), and `Deno.serve` ignores it too.
 * - A status or header the engine refuses (`ResponseError`) is thrown as the `AppContractError`
 *   for the same rule (`contractErrorOf`), logged once here; a body chunk that is not a
 *   `Uint8Array` is `fetch-body-bytes`.
 */
import type { Exchange } from "../server/exchange.ts";
import { utf8Length } from "../server/http/bytes.ts";
import { headerKind } from "../server/http/response_head.ts";
import * as responseHeadModule from "../server/http/response_head.ts";
import { rawHeaderList, staticBodyOf } from "./_deno_internals.ts";
import { AppContractError, contractErrorOf } from "./errors.ts";
import { contentLengthOf, fileOfResponse, prepareFile } from "./file_wrapper.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { KIND_CONTENT_LENGTH } = responseHeadModule;

const encoder = new TextEncoder();

/**
 * Writes `resp` through the exchange's responder (see the module comment). A body given as a
 * string or bytes is written before this returns (`undefined`, or a promise only when the
 * engine applies back-pressure); anything else returns a promise.
 */
export function sendResponse(ex: Exchange, resp: Response): void | Promise<void> {
  const res = ex.res;
  const headers = responseHeaders(resp);
  const file = res.sendFile === undefined ? null : fileOfResponse(resp);
  if (file !== null) return sendFileResponse(ex, resp, headers, file);
  // FAST PATH: a body given as a string or bytes is sent with Content-Length, without the
  // ReadableStream machinery (`staticBodyOf` returns null for streams and anything unexpected).
  let fixed = staticBodyOf(resp);
  if (fixed === null) return sendStreamed(ex, resp, headers);
  // A string body is encoded straight into the engine's output buffer when it can do that.
  if (typeof fixed === "string" && res.writeText === undefined) fixed = encoder.encode(fixed);
  const length = typeof fixed === "string" ? utf8Length(fixed) : fixed.length;
  try {
    setHead(ex, resp, headers, length);
  } catch (err) {
    if (err instanceof AppContractError) ex.log("error", err.message);
    throw err;
  }
  const p = typeof fixed === "string"
    ? res.writeText!(fixed, length)
    : fixed.length > 0
    ? res.write(fixed)
    : undefined;
  if (p) return p.then(() => res.end());
  return res.end();
}

/** A body that is neither a string, bytes nor a file: streamed (or sized when it is one piece). */
async function sendStreamed(
  ex: Exchange,
  resp: Response,
  headers: Array<[string, string]>,
): Promise<void> {
  const res = ex.res;
  const body = resp.body;
  if (body === null) {
    try {
      res.head(resp.status, headers, resp.statusText);
    } catch (err) {
      const e = contract(err);
      if (e instanceof AppContractError) ex.log("error", e.message);
      throw e;
    }
    await res.end();
    return;
  }
  const reader = body.getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  res.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const first = await reader.read();
    if (first.done) {
      setHead(ex, resp, headers, 0);
      await res.end();
      return;
    }
    let settled: ReadableStreamReadResult<Uint8Array> | null = null;
    const second = reader.read().then((r) => (settled = r));
    await microtasks(4);
    const hasLength = headers.some(isContentLength);
    if (settled !== null && (settled as ReadableStreamReadResult<Uint8Array>).done) {
      setHead(ex, resp, headers, hasLength ? -1 : first.value.length);
      const p = res.write(checkChunk(first.value));
      if (p) await p;
      await res.end();
      return;
    }
    setHead(ex, resp, headers, -1);
    let p = res.write(checkChunk(first.value));
    if (p) await p;
    let next = await second;
    while (!next.done) {
      p = res.write(checkChunk(next.value));
      if (p) await p;
      next = await reader.read();
    }
    await res.end();
  } catch (err) {
    reader.cancel().catch(() => {});
    const e = contract(err);
    if (e instanceof AppContractError) ex.log("error", e.message);
    throw e;
  } finally {
    res.signal.removeEventListener("abort", onAbort);
  }
}

/** A `fileResponse`: the file goes out through `Responder.sendFile`; its stream is cancelled. */
async function sendFileResponse(
  ex: Exchange,
  resp: Response,
  headers: Array<[string, string]>,
  file: Deno.FsFile,
): Promise<void> {
  const res = ex.res;
  try {
    const declared = contentLengthOf(headers);
    const { body, length } = prepareFile(file, declared);
    try {
      setHead(ex, resp, headers, declared >= 0 ? -1 : length);
    } catch (err) {
      if (err instanceof AppContractError) ex.log("error", err.message);
      throw err;
    }
    if (body.length > 0 && ex.head.method !== "HEAD") await res.sendFile!(body);
    await res.end();
  } finally {
    // The stream owns the file (Deno closes it with the stream): cancelling releases both.
    await resp.body?.cancel().catch(() => {});
  }
}

/**
 * The response's headers for the engine as `Deno.serve` sends them: names as the app wrote them,
 * one line per entry, in the order the app added them.
 */
function responseHeaders(resp: Response): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const raw = rawHeaderList(resp.headers);
  if (raw !== null) {
    for (let i = 0; i < raw.length; i++) {
      const name = raw[i][0];
      const value = raw[i][1];
      if (typeof name !== "string" || typeof value !== "string") return iteratedHeaders(resp);
      if (
        name.length === 17 && name.toLowerCase() === "transfer-encoding" && isBareChunked(value)
      ) {
        continue;
      }
      out.push([name, value]);
    }
    return out;
  }
  return iteratedHeaders(resp);
}

/** `responseHeaders` through the public API (combined values, set-cookie lines kept apart). */
function iteratedHeaders(resp: Response): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of resp.headers) {
    if (name === "set-cookie") continue;
    if (name === "transfer-encoding" && isBareChunked(value)) continue;
    out.push([name, value]);
  }
  for (const c of resp.headers.getSetCookie()) out.push(["set-cookie", c]);
  return out;
}

/** See the module comment: a bare "chunked" claim is the server's framing anyway. */
function isBareChunked(value: string): boolean {
  return value.trim().toLowerCase() === "chunked";
}

function isContentLength(h: readonly [string, string]): boolean {
  return headerKind(h[0]) === KIND_CONTENT_LENGTH;
}

/** Yields to the microtask queue a few times (a settled stream read resolves within these). */
async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

function setHead(
  ex: Exchange,
  resp: Response,
  headers: Array<[string, string]>,
  length: number,
): void {
  if (length >= 0 && !headers.some(isContentLength)) {
    headers.push(["content-length", String(length)]);
  }
  try {
    ex.res.head(resp.status, headers, resp.statusText);
  } catch (err) {
    throw contract(err);
  }
}

function checkChunk(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new AppContractError(
    "fetch-body-bytes",
    `Response body chunks must be Uint8Array, got ${typeof chunk}`,
  );
}

/** A header or status the engine refused is the same broken rule as in a gateway app. */
function contract(err: unknown): unknown {
  return contractErrorOf(err, "fetch-response-head");
}

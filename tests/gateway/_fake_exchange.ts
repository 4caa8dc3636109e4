/**
 * A socket-free `Exchange` for gateway tests (private to tests/gateway/).
 *
 * Contract: `fakeExchange(options)` returns an `Exchange` whose `Responder` records every call
 * (`head`, `write`, `end`, in order) and whose `BodyReader` serves the given chunks; `run()`
 * drives a gateway app through `gatewayHandler` and collects the outcome. No I/O, no timers
 * unless a test asks for back-pressure.
 */
import type { BodyReader, ConnAddr, Exchange, Responder } from "../../server/exchange.ts";
import { ResponseError } from "../../server/http/errors.ts";
import type { RequestHead, TargetForm } from "../../server/http/request_head.ts";
import { gatewayHandler } from "../../gateway/run_app.ts";
import type { App } from "../../gateway/types.ts";

/** How the fake request and responder behave. */
export interface FakeOptions {
  /** Request method (default GET). */
  method?: string;
  /** Raw request target (default "/"). */
  target?: string;
  /** Target form; guessed from `target` when omitted. */
  targetForm?: TargetForm;
  /** Request version (default HTTP/1.1). */
  version?: "HTTP/1.0" | "HTTP/1.1";
  /** Header fields, lowercase names. */
  headers?: Array<[string, string]>;
  /** Body chunks (strings are UTF-8 encoded). */
  body?: Array<Uint8Array | string>;
  /** Declared length; default: the sum of the chunks (0 without a body). */
  contentLength?: number | null;
  /** Thrown by the body read that follows the last chunk. */
  bodyError?: unknown;
  /** Give the body reader `readInto` (copying from the chunks, as the engine's does). */
  readInto?: boolean;
  /** `write()` behaviour: return undefined (default), a resolved-later promise, or never resolve. */
  writes?: "sync" | "backpressure" | "hang";
  /** Make `head()` throw a `ResponseError` with this detail. */
  headError?: string;
  /** Peer address (default tcp 203.0.113.7:50123). */
  remote?: ConnAddr;
  /** URL scheme (default http). */
  scheme?: "http" | "https";
  /** Server name and port (default example.com, 8080). */
  serverName?: string;
  /** Server port string. */
  serverPort?: string;
  /** Request id (default "req-1"). */
  requestId?: string;
  /** Give the responder a `sendFile` that records the file body (else it has none). */
  sendFile?: boolean;
}

/** Everything the fake responder and logger saw. */
export interface Recorder {
  /** Calls in order: "head", "write", "end" (and "resolved" when a back-pressure wait ends). */
  calls: string[];
  /** Arguments of each `head()` call. */
  heads: Array<{ status: number; headers: Array<[string, string]>; reason: string | undefined }>;
  /** Chunks passed to `write()`. */
  chunks: Uint8Array[];
  /** Whether `end()` was called. */
  ended: boolean;
  /** `ex.log` calls. */
  logs: Array<[string, string]>;
  /** Number of `body.read()` calls. */
  bodyReads: number;
  /** Number of `body.readInto()` calls. */
  bodyReadsInto: number;
  /** `sendFile()` calls: offset and length (recorded as "sendFile" in `calls`). */
  files: Array<{ offset: number; length: number }>;
}

/** A fake exchange plus its recorder and an abort switch (client gone). */
export interface Fake {
  /** The exchange to hand to a handler. */
  ex: Exchange;
  /** What was recorded. */
  rec: Recorder;
  /** Aborts `ex.res.signal`, as when the client goes away. */
  abort(): void;
  /** The written body bytes as one UTF-8 string. */
  text(): string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds a fake exchange (see `FakeOptions`). */
export function fakeExchange(options: FakeOptions = {}): Fake {
  const rec: Recorder = {
    calls: [],
    heads: [],
    chunks: [],
    ended: false,
    logs: [],
    bodyReads: 0,
    bodyReadsInto: 0,
    files: [],
  };
  const controller = new AbortController();
  const target = options.target ?? "/";
  const head: RequestHead = {
    method: options.method ?? "GET",
    target,
    targetForm: options.targetForm ?? guessForm(target),
    version: options.version ?? "HTTP/1.1",
    minor: options.version === "HTTP/1.0" ? 0 : 1,
    headers: options.headers ?? [],
  };
  const ex: Exchange = {
    head,
    body: fakeBody(options, rec),
    res: fakeResponder(options, rec, controller.signal),
    remote: options.remote ?? { transport: "tcp", hostname: "203.0.113.7", port: 50123 },
    local: { transport: "tcp", hostname: "127.0.0.1", port: 8080 },
    scheme: options.scheme ?? "http",
    serverName: options.serverName ?? "example.com",
    serverPort: options.serverPort ?? "8080",
    requestId: options.requestId ?? "req-1",
    completed: Promise.resolve(),
    log: (level, msg) => void rec.logs.push([level, msg]),
    takeover: () => Promise.reject(new Error("fake: takeover() is not supported")),
  };
  return {
    ex,
    rec,
    abort: () => controller.abort(new DOMException("client went away", "AbortError")),
    text: () => decoder.decode(concat(rec.chunks)),
  };
}

/** The outcome of `run()`. */
export interface RunResult extends Fake {
  /** What the handler returned synchronously (undefined on the fast path). */
  returned: unknown;
  /** What the handler threw or its promise rejected with (undefined when it succeeded). */
  error: unknown;
}

/** Runs `app` through `gatewayHandler` on a fake exchange and waits for it to finish. */
export function run(
  app: App,
  options: FakeOptions = {},
  config = { rootPath: "", workers: 1 },
): Promise<RunResult> {
  return runOn(fakeExchange(options), app, config);
}

/** Like `run`, on an exchange the test made first (so the app can look at its recorder). */
export async function runOn(
  fake: Fake,
  app: App,
  config = { rootPath: "", workers: 1 },
): Promise<RunResult> {
  let returned: unknown;
  let error: unknown;
  try {
    returned = gatewayHandler(app, config)(fake.ex);
    await returned;
  } catch (err) {
    error = err;
  }
  return { ...fake, returned, error };
}

/** Concatenates byte chunks. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** UTF-8 encodes `s`. */
export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

/** UTF-8 decodes `b`. */
export function str(b: Uint8Array): string {
  return decoder.decode(b);
}

function guessForm(target: string): TargetForm {
  if (target === "*") return "asterisk";
  if (target.startsWith("/")) return "origin";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return "absolute";
  return "authority";
}

function fakeBody(options: FakeOptions, rec: Recorder): BodyReader {
  const chunks = (options.body ?? []).map((c) => typeof c === "string" ? bytes(c) : c);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let index = 0;
  let bytesRead = 0;
  /** What `readInto` left of the current chunk. */
  let rest: Uint8Array | null = null;
  const reader: BodyReader = {
    contentLength: options.contentLength !== undefined ? options.contentLength : total,
    get done() {
      // A body that ends in `bodyError` is never complete (the engine's `done` means decoded).
      return index >= chunks.length && rest === null && options.bodyError === undefined;
    },
    get bytesRead() {
      return bytesRead;
    },
    read(): Promise<Uint8Array | null> {
      rec.bodyReads++;
      if (rest !== null || index < chunks.length) {
        const chunk = (rest ?? chunks[index++]).slice();
        rest = null;
        bytesRead += chunk.length;
        return Promise.resolve(chunk);
      }
      if (options.bodyError !== undefined) return Promise.reject(options.bodyError);
      return Promise.resolve(null);
    },
  };
  if (options.readInto) {
    reader.readInto = (target: Uint8Array): Promise<number> => {
      rec.bodyReadsInto++;
      const from = rest ?? (index < chunks.length ? chunks[index++] : null);
      if (from === null) {
        if (options.bodyError !== undefined) return Promise.reject(options.bodyError);
        return Promise.resolve(0);
      }
      const n = Math.min(from.length, target.length);
      target.set(from.subarray(0, n));
      rest = n < from.length ? from.subarray(n) : null;
      bytesRead += n;
      return Promise.resolve(n);
    };
  }
  return reader;
}

function fakeResponder(options: FakeOptions, rec: Recorder, signal: AbortSignal): Responder {
  let headSent = false;
  const pending = (): Promise<void> | undefined => {
    if (options.writes === "backpressure") {
      return new Promise((resolve) =>
        setTimeout(() => {
          rec.calls.push("resolved");
          resolve();
        }, 1)
      );
    }
    if (options.writes === "hang") {
      // Like the engine: a write that waits on the socket rejects once the connection closes.
      return new Promise((_, reject) => {
        const gone = () => reject(new Deno.errors.BrokenPipe("fake: client went away"));
        if (signal.aborted) gone();
        else signal.addEventListener("abort", gone, { once: true });
      });
    }
    return undefined;
  };
  const res: Responder = {
    head(status, headers, reason, length = -1) {
      if (options.headError !== undefined) {
        throw new ResponseError("hop-by-hop", options.headError);
      }
      if (headSent) throw new Error("fake: head() after the head was sent");
      rec.calls.push("head");
      const list: Array<[string, string]> = headers.map(([n, v]) => [n, v]);
      // Like the engine: a known length is the Content-Length unless the headers declare one.
      if (length >= 0 && !list.some(([n]) => n.toLowerCase() === "content-length")) {
        list.push(["Content-Length", String(length)]);
      }
      rec.heads.push({ status, headers: list, reason });
    },
    write(chunk) {
      if (rec.ended) throw new Error("fake: write() after end()");
      headSent = true;
      rec.calls.push("write");
      rec.chunks.push(chunk.slice());
      return pending();
    },
    end() {
      headSent = true;
      rec.calls.push("end");
      rec.ended = true;
      return undefined;
    },
    get headSent() {
      return headSent;
    },
    get aborted() {
      return signal.aborted;
    },
    signal,
  };
  if (options.sendFile) {
    res.sendFile = (body) => {
      headSent = true;
      rec.calls.push("sendFile");
      rec.files.push({ offset: body.offset, length: body.length });
      return pending() ?? Promise.resolve();
    };
  }
  return res;
}

/**
 * The contract validator (`--validate`), in the spirit of Python's `wsgiref.validate`: it sits
 * between the server and a gateway app and checks every rule of `types.ts` on both sides.
 *
 * Contract:
 * - `validateApp(app, options?)` returns an `App` that, per request: checks the environ (APP-3,
 *   ENV-*, LS-*, see `_validate_environ.ts`); wraps `lsbaws.input` (IN-1 to IN-7) and
 *   `lsbaws.errors` (ERR-1, ERR-2); wraps `startResponse` (SR-2 to SR-6 and SR-9 on the app's
 *   side, SR-11 and SR-14 on the server's) and `write()` (WR-1, WR-4; WR-2 on the server's side);
 *   and wraps the returned body (APP-2, BODY-1, BODY-2, SR-1 on the app's side; BODY-3 and BODY-5
 *   on the server's: no overlapping pulls, released exactly once, and not pulled afterwards).
 * - A violation throws `AppContractError` whose `rule` is the rule id; for a rule the server
 *   broke the message says "(server)". The gateway runner logs it ("broken gateway rule X") and
 *   answers 500 if nothing was sent yet. Violations are sticky: if the app catches one and goes
 *   on, the next call into the validator (or the next body pull) throws it again, so it cannot be
 *   swallowed. A violation found after the response ended (a late `write()`, a double release)
 *   cannot change the response and is logged through `lsbaws.errors`.
 * - wsgiref's extra checks that are not rules of `types.ts` (Content-Type missing or present on
 *   204/304, a header named Status, a name ending in "-" or "_", an unknown method, a body never
 *   released) are warnings, written to `options.warn` (default `lsbaws.errors`).
 * - The wrapped app is slower (no fast path, every chunk checked); use it in development and tests.
 */
import { checkEnviron } from "./_validate_environ.ts";
import { type BodySource, openBody } from "./body.ts";
import { AppContractError, typeName } from "./errors.ts";
import { checkHeaders, parseStatus } from "./start_response.ts";
import type {
  App,
  Environ,
  ErrorStream,
  Input,
  ResponseBody,
  StartResponse,
  Write,
} from "./types.ts";

/** Options for `validateApp`. */
export interface ValidateOptions {
  /** Receives warnings and late violations; default: the request's `lsbaws.errors` stream. */
  readonly warn?: (message: string) => void;
  /** How long after the body ended the server has to release it (BODY-5); default 1000 ms. */
  readonly releaseGraceMs?: number;
}

const LF = 0x0a;

/** Wraps `app` in the contract validator (see the module comment). */
export function validateApp(app: App, options: ValidateOptions = {}): App {
  if (typeof app !== "function") {
    throw new AppContractError("APP-1", `the app is a ${typeName(app)}, not a function`);
  }
  return function validated(environ: Environ, startResponse: StartResponse) {
    const v = new Validation(environ, options);
    const broken = checkEnviron(environ, (m) => v.warn(m));
    if (broken !== null) v.violate(broken[0], `(server) ${broken[1]}`);
    environ["lsbaws.input"] = v.wrapInput(environ["lsbaws.input"]);
    environ["lsbaws.errors"] = v.wrapErrors(environ["lsbaws.errors"]);
    let result: ReturnType<App>;
    try {
      result = app(environ, v.wrapStartResponse(startResponse));
    } catch (err) {
      throw v.violation ?? err;
    }
    if (typeof (result as PromiseLike<unknown>)?.then === "function") {
      return Promise.resolve(result).then(
        (body) => v.wrapBody(body),
        (err) => {
          throw v.violation ?? err;
        },
      );
    }
    return v.wrapBody(result);
  };
}

/** The state of one validated request. */
class Validation {
  violation: AppContractError | null = null;
  readonly #log: (message: string) => void;
  readonly #graceMs: number;
  readonly #signal: AbortSignal | undefined;
  #started = false;
  #headersSent = false;
  #ended = false;

  constructor(environ: Environ, options: ValidateOptions) {
    const errors = environ?.["lsbaws.errors"];
    this.#log = options.warn ?? ((m) => errors?.write?.(`${m}\n`));
    this.#graceMs = options.releaseGraceMs ?? 1000;
    const signal = environ?.["lsbaws.signal"];
    this.#signal = signal instanceof AbortSignal ? signal : undefined;
  }

  /** Records (first one wins) and throws a violation of `rule`. */
  violate(rule: string, detail: string): never {
    return this.record(new AppContractError(rule, detail));
  }

  /** Records (first one wins) and throws `err`. */
  record(err: AppContractError): never {
    this.violation ??= err;
    if (this.#ended) this.#log(`lsbaws validate: ${err.message}`);
    throw err;
  }

  /** Throws the recorded violation, if any. */
  recheck(): void {
    if (this.violation !== null) throw this.violation;
  }

  warn(message: string): void {
    this.#log(`lsbaws validate warning: ${message}`);
  }

  wrapStartResponse(inner: StartResponse): StartResponse {
    let called = false;
    let write: Write | null = null;
    return (status, headers, excInfo?) => {
      this.recheck();
      const hasExcInfo = excInfo !== undefined && excInfo !== null;
      if (called && !hasExcInfo) {
        this.violate("SR-9", "startResponse called a second time without excInfo");
      }
      if (called && this.#headersSent) {
        try {
          inner(status, headers, excInfo);
        } catch (err) {
          if (err === excInfo) throw err;
          this.violate("SR-11", "(server) startResponse threw something other than excInfo");
        }
        this.violate(
          "SR-11",
          "(server) startResponse with excInfo after the headers were sent " +
            "did not throw",
        );
      }
      this.#checkHead(status, headers);
      const out = inner(status, headers, excInfo);
      if (typeof out !== "function") {
        this.violate("SR-14", "(server) startResponse did not return a write function");
      }
      called = true;
      this.#started = true;
      write = out;
      return (chunk: Uint8Array) => this.#write(write!, chunk);
    };
  }

  /**
   * SR-2 to SR-6 with the server's own checks (`parseStatus`, `checkHeaders`), plus wsgiref's
   * Content-Type and naming warnings.
   */
  #checkHead(status: unknown, headers: unknown): void {
    let code: number;
    try {
      code = parseStatus(status)[0];
      checkHeaders(headers);
    } catch (err) {
      if (err instanceof AppContractError) this.record(err);
      throw err;
    }
    let contentType = false;
    for (const [name] of headers) {
      const lower = name.toLowerCase();
      if (lower === "status") this.warn(`a header named ${name} (CGI's, not HTTP's)`);
      if (/[-_]$/.test(name)) this.warn(`header name ${name} ends in "-" or "_"`);
      if (lower === "content-type") contentType = true;
    }
    const bodiless = code === 204 || code === 304;
    if (bodiless && contentType) this.warn(`Content-Type on a ${code} response`);
    if (!bodiless && !contentType) this.warn(`no Content-Type on a ${code} response`);
  }

  /** WR-1, WR-4 (app); WR-2 (server). Violations reject, as the server's write() does. */
  #write(inner: Write, chunk: unknown): Promise<void> {
    try {
      return this.#checkedWrite(inner, chunk);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #checkedWrite(inner: Write, chunk: unknown): Promise<void> {
    this.recheck();
    if (!(chunk instanceof Uint8Array)) {
      this.violate("WR-1", `write() was given ${typeName(chunk)}, not a Uint8Array`);
    }
    if (this.#ended) this.violate("WR-4", "write() after the response ended");
    const out = inner(chunk);
    if (typeof (out as PromiseLike<void>)?.then !== "function") {
      this.violate("WR-2", "(server) write() did not return a Promise");
    }
    if (chunk.length > 0) this.#headersSent = true;
    return out;
  }

  /** APP-2, BODY-1, BODY-2, SR-1 (app); BODY-3, BODY-5 (server). */
  wrapBody(body: unknown): ResponseBody {
    this.recheck();
    let src: BodySource;
    try {
      src = openBody(body);
    } catch (err) {
      if (err instanceof AppContractError) this.record(err);
      throw err;
    }
    let pulling = false;
    let releases = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watchRelease = () => {
      if (timer !== undefined || releases > 0) return;
      timer = setTimeout(() => {
        if (releases === 0) this.warn("BODY-5 (server): the body was not released after it ended");
      }, this.#graceMs);
      Deno.unrefTimer(timer);
    };
    const onAbort = () => watchRelease();
    this.#signal?.addEventListener("abort", onAbort, { once: true });
    const next = async (): Promise<IteratorResult<Uint8Array>> => {
      if (releases > 0) this.violate("BODY-5", "(server) the body was pulled after its release");
      if (pulling) this.violate("BODY-3", "(server) the next chunk was pulled before the last");
      this.recheck();
      pulling = true;
      let step;
      try {
        step = await src.next();
      } catch (err) {
        watchRelease();
        throw this.violation ?? err;
      } finally {
        pulling = false;
      }
      this.recheck();
      if (step.done) {
        if (!this.#started) this.violate("SR-1", "the body ended before startResponse was called");
        this.#ended = true;
        watchRelease();
        return { done: true, value: undefined };
      }
      const chunk = step.value;
      if (!(chunk instanceof Uint8Array)) {
        const what = typeof chunk === "string" ? "a string" : `a ${typeName(chunk)}`;
        this.violate("BODY-2", `the body yielded ${what}; chunks must be Uint8Array`);
      }
      if (chunk.length > 0) {
        if (!this.#started) {
          this.violate("SR-1", "the body produced data before startResponse was called");
        }
        this.#headersSent = true;
      }
      return { done: false, value: chunk };
    };
    return {
      [Symbol.asyncIterator]: () => ({ next }),
      close: () => {
        releases++;
        clearTimeout(timer);
        this.#signal?.removeEventListener("abort", onAbort);
        this.#ended = true;
        if (releases > 1) {
          this.#log(
            "lsbaws validate: gateway contract rule BODY-5: (server) the body was " +
              `released ${releases} times`,
          );
          return;
        }
        return closeSource(src);
      },
    } as AsyncIterable<Uint8Array> & { close(): Promise<void> | undefined };
  }

  /** IN-1 to IN-7: checks what the server's input returns and what the app does with it. */
  wrapInput(inner: Input): Input {
    return wrapInput(this, inner);
  }

  /** ERR-1, ERR-2: the app writes text. */
  wrapErrors(inner: ErrorStream): ErrorStream {
    return wrapErrors(this, inner);
  }
}

/** See `Validation.wrapInput`. */
function wrapInput(v: Validation, inner: Input): Input {
  let eof = false;
  let busy = false;
  let stream: ReadableStream<Uint8Array> | undefined;
  const guard = async <T>(what: string, p: () => Promise<T>): Promise<T> => {
    v.recheck();
    if (busy) v.warn(`${what} while another read was pending (reads must not overlap)`);
    busy = true;
    try {
      return await p();
    } finally {
      busy = false;
    }
  };
  const checkBytes = (rule: string, value: unknown, max: number): Uint8Array => {
    if (!(value instanceof Uint8Array)) {
      v.violate(rule, `(server) a read returned ${typeName(value)}, not a Uint8Array`);
    }
    const b = value as Uint8Array;
    if (b.length > max) v.violate(rule, `(server) a read returned more than ${max} bytes`);
    if (eof && b.length > 0) v.violate("IN-2", "(server) a read returned data after the end");
    return b;
  };
  const checkSize = (rule: string, n: unknown): number => {
    if (n === undefined) return Infinity;
    if (typeof n !== "number" || Number.isNaN(n)) {
      return v.violate(rule, `the size argument is ${typeName(n)}, not a number`);
    }
    return n < 0 ? Infinity : Math.floor(n);
  };
  const wrapped: Input & { close(): never } = {
    read(n?: number) {
      const max = checkSize("IN-1", n);
      return guard("read()", async () => {
        const b = checkBytes("IN-1", await inner.read(n), max);
        if (b.length < max) eof = true;
        return b;
      });
    },
    readline(limit?: number) {
      const max = checkSize("IN-3", limit);
      return guard("readline()", async () => {
        const b = checkBytes("IN-3", await inner.readline(limit), max);
        const lf = b.indexOf(LF);
        if (lf >= 0 && lf !== b.length - 1) {
          v.violate("IN-3", "(server) readline() returned bytes past the first LF");
        }
        if (lf < 0 && b.length < max) eof = true;
        return b;
      });
    },
    readlines(hint?: number) {
      checkSize("IN-4", hint);
      return guard("readlines()", async () => {
        const lines = await inner.readlines(hint);
        if (!Array.isArray(lines)) v.violate("IN-4", "(server) readlines() gave no Array");
        for (let i = 0; i < lines.length; i++) {
          const b = checkBytes("IN-4", lines[i], Infinity);
          const lf = b.indexOf(LF);
          const last = i === lines.length - 1;
          if (b.length === 0 || (lf >= 0 && lf !== b.length - 1) || (lf < 0 && !last)) {
            v.violate("IN-4", `(server) readlines() item ${i} is not one line`);
          }
        }
        if (hint === undefined || hint <= 0) eof = true;
        return lines;
      });
    },
    async *[Symbol.asyncIterator]() {
      for await (const line of inner) {
        const b = checkBytes("IN-5", line, Infinity);
        if (b.length === 0) v.violate("IN-5", "(server) iteration yielded an empty line");
        yield b;
      }
      eof = true;
    },
    get stream() {
      const s = inner.stream;
      if (!(s instanceof ReadableStream)) v.violate("IN-6", "(server) stream is no stream");
      if (stream !== undefined && s !== stream) {
        v.violate("IN-6", "(server) stream is a different object on each access");
      }
      stream = s;
      return s;
    },
    close(): never {
      return v.violate("IN-7", "the app must not close lsbaws.input");
    },
  };
  return wrapped;
}

/** See `Validation.wrapErrors`. */
function wrapErrors(v: Validation, inner: ErrorStream): ErrorStream {
  return {
    write(text: string) {
      if (typeof text !== "string") {
        v.violate("ERR-1", `lsbaws.errors.write() was given ${typeName(text)}, not text`);
      }
      inner.write(text);
    },
    writelines(lines: Iterable<string>) {
      if (
        lines === null || typeof (lines as Iterable<string>)?.[Symbol.iterator] !== "function"
      ) {
        v.violate("ERR-2", "lsbaws.errors.writelines() needs an iterable of strings");
      }
      for (const line of lines) {
        if (typeof line !== "string") {
          v.violate("ERR-2", `lsbaws.errors.writelines() was given ${typeName(line)}`);
        }
        inner.write(line);
      }
    },
    flush() {
      inner.flush();
    },
  };
}

/** Releases the app's body; hook errors are rethrown so the runner logs them (BODY-6). */
function closeSource(src: BodySource): Promise<void> | undefined {
  let first: { err: unknown } | null = null;
  const report = (err: unknown) => void (first ??= { err });
  const out = src.close(report);
  if (out !== undefined) {
    return out.then(() => {
      if (first !== null) throw first.err;
    });
  }
  if (first !== null) throw (first as { err: unknown }).err;
  return undefined;
}

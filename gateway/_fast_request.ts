/**
 * Builds `Request` objects the way `Deno.serve` does, without `new Request(url, init)`.
 *
 * Why: `new Request(url, init)` costs ~3 µs in Deno 2.9 (WebIDL conversion of `init`, a URL
 * parse, and an inner record written as an object literal with accessors, which V8 creates on a
 * slow path), more than parsing and answering a request. `Deno.serve` skips all that: it makes a
 * bare branded `Request` and attaches an inner record whose headers, URL and signal are produced
 * lazily. This module does the same with Deno's own `Request` class, so the object is a genuine
 * `Request` (`instanceof`, `clone()`, `new Request(req)`, body mixin, `fetch(req)` all work).
 *
 * Contract:
 * - `fastRequest(method, url, headers, body, cancel)` returns a `Request` whose `method` and `url`
 *   are exactly the given strings (no URL normalisation, as with `Deno.serve`), whose `headers`
 *   are built from `headers` on first use with the `immutable` guard (as with `Deno.serve`), whose
 *   body is `body` (a `ReadableStream`, or null), and whose `signal` is created on first use and
 *   aborted when `cancel` fires (Deno's own `onCancel` hook; reason: Deno's AbortError).
 * - `fastRequest` returns null when this Deno's internals do not have the expected shape. The
 *   shape is checked once, at load, by building a probe request and reading it back through the
 *   public API (method, url, headers and their guard, body, signal, clone); any mismatch disables
 *   the fast path for the process and callers fall back to `new Request`.
 * - `innerExchangeOf(request)` returns the value attached with `attach` (the engine exchange), or
 *   undefined for any other request.
 */

/** Fires the request's abort signal; see `CancelHook`. */
export type CancelCallback = () => void;

/**
 * Lets the engine abort a request's signal. `listen(cb)` is called at most once, when the app
 * first reads `request.signal`; `cb` aborts it (call it at once if the request is already over).
 */
export interface CancelHook {
  listen(cb: CancelCallback): void;
}

interface Slots {
  readonly brand: symbol;
  readonly request: symbol;
  readonly guard: symbol;
  readonly response: symbol;
}

/** Deno's inner request record, as a class (prototype accessors: cheap to create). */
class InnerRequest {
  methodInner: string;
  headerListInner: Array<[string, string]>;
  body: unknown;
  redirectMode = "follow";
  redirectCount = 0;
  urlList: Array<() => string>;
  urlListProcessed: string[];
  clientRid = null;
  blobUrlEntry = null;
  /** The engine exchange this request belongs to. */
  attached: unknown = undefined;
  readonly #cancel: CancelHook | null;

  constructor(
    method: string,
    url: string,
    headers: Array<[string, string]>,
    body: unknown,
    cancel: CancelHook | null,
  ) {
    this.methodInner = method;
    this.headerListInner = headers;
    this.body = body;
    this.urlList = [() => url];
    this.urlListProcessed = [url];
    this.#cancel = cancel;
  }

  get method(): string {
    return this.methodInner;
  }

  set method(value: string) {
    this.methodInner = value;
  }

  get headerList(): Array<[string, string]> {
    return this.headerListInner;
  }

  set headerList(value: Array<[string, string]>) {
    this.headerListInner = value;
  }

  url(): string {
    return this.urlListProcessed[0];
  }

  currentUrl(): string {
    return this.urlListProcessed[this.urlListProcessed.length - 1];
  }

  /** Deno's hook: called when `request.signal` is first created. */
  onCancel(cb: CancelCallback): void {
    this.#cancel?.listen(cb);
  }
}

function findSlots(): Slots | null {
  const probe = new Request("http://probe.invalid/");
  const own = Object.getOwnPropertySymbols(probe);
  const find = (d: string) => own.find((s) => s.description === d);
  const response = Object.getOwnPropertySymbols(new Response(null))
    .find((s) => s.description === "response");
  const brand = find("[[webidl.brand]]");
  const request = find("request");
  const guard = find("headers guard");
  if (!brand || !request || !guard || !response) return null;
  return { brand, request, guard, response };
}

function build(
  slots: Slots,
  method: string,
  url: string,
  headers: Array<[string, string]>,
  body: ReadableStream<Uint8Array> | null,
  cancel: CancelHook | null,
): Request {
  let innerBody: unknown = null;
  if (body !== null) {
    // Deno's body record for a stream, taken from a Response (whose constructor is cheap).
    innerBody = (new Response(body) as unknown as Record<symbol, { body: unknown }>)[
      slots.response
    ].body;
  }
  const RequestCtor = Request as unknown as new (brand: symbol) => Request;
  const req = new RequestCtor(slots.brand) as unknown as Record<symbol, unknown>;
  req[slots.request] = new InnerRequest(method, url, headers, innerBody, cancel);
  req[slots.guard] = "immutable";
  return req as unknown as Request;
}

/** Builds a probe through the fast path and reads it back; true if everything matches. */
async function verify(slots: Slots): Promise<boolean> {
  let fired = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array([0x6f, 0x6b]));
      c.close();
    },
  });
  const req = build(
    slots,
    "POST",
    "http://probe.invalid:8080/p?q=1",
    [
      ["x-a", "1"],
      ["content-type", "text/plain"],
    ],
    body,
    { listen: (cb) => (fired = true, cb()) },
  );
  if (!(req instanceof Request) || req.method !== "POST") return false;
  if (req.url !== "http://probe.invalid:8080/p?q=1") return false;
  if (req.headers.get("x-a") !== "1" || req.headers.get("content-type") !== "text/plain") {
    return false;
  }
  try {
    req.headers.set("x-b", "2");
    return false; // must be immutable, as with Deno.serve
  } catch {
    // expected
  }
  const copy = req.clone();
  if (copy.url !== req.url || copy.method !== "POST") return false;
  if ((await req.text()) !== "ok" || !req.bodyUsed) return false;
  if ((await copy.text()) !== "ok") return false;
  const sig = req.signal;
  if (!(sig instanceof AbortSignal) || !fired || !sig.aborted) return false;
  const get = build(slots, "GET", "http://probe.invalid/", [], null, null);
  return get.body === null && !get.signal.aborted && new Request(get).url === get.url;
}

let slots: Slots | null = null;
try {
  const found = findSlots();
  if (found !== null && await verify(found)) slots = found;
} catch {
  slots = null;
}

/** Whether the fast path is in use on this Deno (false: callers use `new Request`). */
export const fastRequestAvailable: boolean = slots !== null;

/** See the module comment; null when the fast path is unavailable. */
export function fastRequest(
  method: string,
  url: string,
  headers: Array<[string, string]>,
  body: ReadableStream<Uint8Array> | null,
  cancel: CancelHook | null,
): Request | null {
  if (slots === null) return null;
  return build(slots, method, url, headers, body, cancel);
}

/** Attaches `value` to a request built here (for `innerExchangeOf`). */
export function attach(request: Request, value: unknown): void {
  if (slots === null) return;
  const inner = (request as unknown as Record<symbol, unknown>)[slots.request];
  if (inner instanceof InnerRequest) inner.attached = value;
}

/** The value attached to a request built here, else undefined. */
export function innerExchangeOf(request: Request): unknown {
  if (slots === null) return undefined;
  const inner = (request as unknown as Record<symbol, unknown>)[slots.request];
  return inner instanceof InnerRequest ? inner.attached : undefined;
}

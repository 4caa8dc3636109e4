/**
 * Every read of Deno's private internals, in one place (private to gateway/). A Deno upgrade that
 * changes them breaks this file and `tests/gateway/deno_internals_test.ts`, nothing else.
 *
 * Why: the public API costs more than parsing and answering a request. `new Request(url, init)`
 * costs ~3 µs in Deno 2.9 (WebIDL conversion of `init`, a URL parse, and an inner record written
 * as an object literal with accessors, which V8 creates on a slow path); iterating `Headers` sorts
 * and combines every time; reading a `Response` body through its stream builds the stream
 * machinery for a body that is one string. `Deno.serve` skips all that, and so does this module,
 * with Deno's own classes, so every object stays genuine (`instanceof`, `clone()`,
 * `new Request(req)`, the body mixin and `fetch(req)` all work).
 *
 * Contract:
 * - ONE verify-at-load check decides, once per process, whether the fast paths are usable: it
 *   finds the private symbols (Request brand, inner request, headers guard; Response inner
 *   record; Headers list and its lazy slots), then builds probes through every fast path and
 *   reads them back through the public API (method, url, headers and their guard, body, signal,
 *   clone; raw header order and names; static bodies of each kind, and none once the body was
 *   touched). Any mismatch or throw disables all of them: `denoInternalsVerified` is false and
 *   every function below answers "not available" (null / undefined), so callers take their
 *   public-API fallback (`new Request`, iterating `Headers`, reading the body stream).
 * - `useDenoInternals(enabled)` is the force switch (for tests): `false` makes every function
 *   below answer "not available" as if the probe had failed; `true` restores the probe's verdict.
 * - `fastRequest(method, url, headers, body, cancel)` returns a `Request` whose `method` and `url`
 *   are exactly the given strings (no URL normalisation, as with `Deno.serve`), whose `headers`
 *   are built from `headers` on first use with the `immutable` guard (as with `Deno.serve`), whose
 *   body is `body` (a `ReadableStream`, or null), and whose `signal` is created on first use and
 *   aborted when `cancel` fires (Deno's own `onCancel` hook; reason: Deno's AbortError); null
 *   when the fast paths are off. `attach(request, value)` and `innerExchangeOf(request)` store and
 *   read one value (the engine exchange) on a request built here (undefined for any other).
 * - `rawHeaderList(headers)` is Deno's own header list (insertion order, names as given, one entry
 *   per line) when it is a plain list with no lazy getter behind it, else null.
 * - `staticBodyOf(response)` is the body of a Response whose body was given as a string,
 *   `Uint8Array` or `ArrayBuffer` and not touched yet, else null (the stream path runs).
 * - `replaceUpgradeWebSocket(fn)` / `restoreUpgradeWebSocket(fn)` swap the global
 *   `Deno.upgradeWebSocket` (idempotent) and `builtinUpgradeWebSocket()` returns the built-in one
 *   while it is replaced. These do not depend on the probe: they use only the public global.
 * Per call, the fast paths cost one null check on top of the work itself: no allocation, closure
 * or try/catch is added here.
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

/** The private symbols the fast paths use. */
interface Slots {
  /** `Request`: the WebIDL brand its constructor accepts to skip initialisation. */
  readonly brand: symbol;
  /** `Request`: the inner request record. */
  readonly request: symbol;
  /** `Request`: the headers guard. */
  readonly guard: symbol;
  /** `Response`: the inner response record. */
  readonly response: symbol;
  /** `Headers`: the header list. */
  readonly headerList: symbol;
  /** `Headers`: the slots that are non-null when the list is produced lazily. */
  readonly headerLazy: readonly symbol[];
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

/** Finds the private symbols by their descriptions; null if any is missing. */
function findSlots(): Slots | null {
  const symbolsOf = (o: object) => {
    const own = Object.getOwnPropertySymbols(o);
    return (d: string) => own.find((s) => s.description === d);
  };
  const req = symbolsOf(new Request("http://probe.invalid/"));
  const res = symbolsOf(new Response(null));
  const hdr = symbolsOf(new Headers());
  const brand = req("[[webidl.brand]]");
  const request = req("request");
  const guard = req("headers guard");
  const response = res("response");
  const headerList = hdr("header list");
  const headerLazy = ["header list getter", "header get", "header target"].map(hdr);
  if (!brand || !request || !guard || !response || !headerList) return null;
  if (!headerLazy.every((s) => s !== undefined)) return null;
  return { brand, request, guard, response, headerList, headerLazy: headerLazy as symbol[] };
}

function build(
  s: Slots,
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
      s.response
    ].body;
  }
  const RequestCtor = Request as unknown as new (brand: symbol) => Request;
  const req = new RequestCtor(s.brand) as unknown as Record<symbol, unknown>;
  req[s.request] = new InnerRequest(method, url, headers, innerBody, cancel);
  req[s.guard] = "immutable";
  return req as unknown as Request;
}

function rawList(s: Slots, h: Headers): ReadonlyArray<readonly [unknown, unknown]> | null {
  const rec = h as unknown as Record<symbol, unknown>;
  const lazy = s.headerLazy;
  for (let i = 0; i < lazy.length; i++) if (rec[lazy[i]] !== null) return null;
  const list = rec[s.headerList];
  return Array.isArray(list) ? list : null;
}

function staticBody(s: Slots, resp: Response): Uint8Array | string | null {
  // (Reading `bodyUsed` also makes Deno materialise a lazily stored static body.)
  if (resp.bodyUsed) return null;
  const inner = (resp as unknown as Record<symbol, unknown>)[s.response] as
    | { body?: { streamOrStatic?: unknown; source?: unknown } | null }
    | undefined;
  const b = inner?.body;
  if (!b || typeof b !== "object") return null;
  const sos = b.streamOrStatic as { body?: unknown; consumed?: unknown } | undefined;
  if (!sos || sos instanceof ReadableStream || sos.consumed !== false) return null;
  const src = b.source;
  if (typeof src === "string") return src;
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  return null;
}

/** Builds a probe through every fast path and reads it back; true if everything matches. */
async function verify(s: Slots): Promise<boolean> {
  // Request: method, raw url, immutable headers, streamed body, clone, lazy signal.
  let fired = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array([0x6f, 0x6b]));
      c.close();
    },
  });
  const req = build(
    s,
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
  const get = build(s, "GET", "http://probe.invalid/", [], null, null);
  if (get.body !== null || get.signal.aborted || new Request(get).url !== get.url) return false;
  const inner = (get as unknown as Record<symbol, unknown>)[s.request];
  if (!(inner instanceof InnerRequest)) return false;

  // Headers: the raw list keeps names as given and insertion order; no list behind a getter.
  const res = new Response(null, { headers: [["X-B", "1"], ["x-a", "2"]] });
  res.headers.append("Set-Cookie", "c=3");
  const list = rawList(s, res.headers);
  const want = [["X-B", "1"], ["x-a", "2"], ["Set-Cookie", "c=3"]];
  if (list === null || list.length !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    if (list[i][0] !== want[i][0] || list[i][1] !== want[i][1]) return false;
  }

  // Response: static bodies of each kind; none for streams, used bodies or a touched stream.
  if (staticBody(s, new Response("hé")) !== "hé") return false;
  const fromBytes = staticBody(s, new Response(new Uint8Array([1, 2])));
  if (!(fromBytes instanceof Uint8Array) || fromBytes.length !== 2 || fromBytes[1] !== 2) {
    return false;
  }
  const fromBuffer = staticBody(s, new Response(new ArrayBuffer(3)));
  if (!(fromBuffer instanceof Uint8Array) || fromBuffer.length !== 3) return false;
  if (staticBody(s, new Response(new ReadableStream())) !== null) return false;
  if (staticBody(s, new Response(null)) !== null) return false;
  const touched = new Response("x");
  touched.body;
  if (staticBody(s, touched) !== null) return false;
  const used = new Response("x");
  await used.text();
  return staticBody(s, used) === null;
}

let verified: Slots | null = null;
try {
  const found = findSlots();
  if (found !== null && await verify(found)) verified = found;
} catch {
  verified = null;
}

/** The slots in use: the verified ones, or null when the probe failed or the switch is off. */
let slots: Slots | null = verified;

/** Whether the verify-at-load check passed on this Deno (false: only the fallbacks run). */
export const denoInternalsVerified: boolean = verified !== null;

/**
 * Force switch (for tests): `false` turns every fast path off, as if the probe had failed;
 * `true` restores the probe's verdict. Returns whether the fast paths are now in use.
 */
export function useDenoInternals(enabled: boolean): boolean {
  slots = enabled ? verified : null;
  return slots !== null;
}

/** See the module comment; null when the fast paths are off (callers use `new Request`). */
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

/** Attaches `value` to a request built by `fastRequest` (for `innerExchangeOf`). */
export function attach(request: Request, value: unknown): void {
  if (slots === null) return;
  const inner = (request as unknown as Record<symbol, unknown>)[slots.request];
  if (inner instanceof InnerRequest) inner.attached = value;
}

/** The value attached to a request built by `fastRequest`, else undefined. */
export function innerExchangeOf(request: Request): unknown {
  if (slots === null) return undefined;
  const inner = (request as unknown as Record<symbol, unknown>)[slots.request];
  return inner instanceof InnerRequest ? inner.attached : undefined;
}

/**
 * The header list of a `Headers` object as Deno stores it (insertion order, names as given),
 * when it is a plain list (no lazy getter behind it) and the fast paths are on, else null.
 */
export function rawHeaderList(h: Headers): ReadonlyArray<readonly [unknown, unknown]> | null {
  if (slots === null) return null;
  return rawList(slots, h);
}

/**
 * The body of a Response whose body was given as a string, `Uint8Array` or `ArrayBuffer` and
 * not touched yet, read from Deno's Response internals (Deno 2.9: the `Symbol(response)` slot's
 * `body.streamOrStatic` is a plain `{body, consumed}` record for such bodies and a ReadableStream
 * otherwise). Returns null whenever the shape is not exactly that, so the stream path runs.
 */
export function staticBodyOf(resp: Response): Uint8Array | string | null {
  if (slots === null) return null;
  return staticBody(slots, resp);
}

/** A function that can stand in for `Deno.upgradeWebSocket`. */
export type UpgradeWebSocketFn = (request: Request, options?: object) => unknown;

let builtinUpgrade: UpgradeWebSocketFn | null = null;

function setUpgradeWebSocket(fn: UpgradeWebSocketFn): void {
  Object.defineProperty(Deno, "upgradeWebSocket", {
    value: fn,
    writable: true,
    configurable: true,
    enumerable: true,
  });
}

/** Makes `fn` the global `Deno.upgradeWebSocket`, keeping the built-in one (idempotent). */
export function replaceUpgradeWebSocket(fn: UpgradeWebSocketFn): void {
  const deno = Deno as unknown as { upgradeWebSocket: UpgradeWebSocketFn };
  if (deno.upgradeWebSocket === fn) return;
  builtinUpgrade = deno.upgradeWebSocket;
  setUpgradeWebSocket(fn);
}

/** Puts the built-in `Deno.upgradeWebSocket` back if `fn` is the one installed. */
export function restoreUpgradeWebSocket(fn: UpgradeWebSocketFn): void {
  const deno = Deno as unknown as { upgradeWebSocket: UpgradeWebSocketFn };
  if (deno.upgradeWebSocket !== fn || builtinUpgrade === null) return;
  setUpgradeWebSocket(builtinUpgrade);
  builtinUpgrade = null;
}

/** The built-in `Deno.upgradeWebSocket` while it is replaced, else null. */
export function builtinUpgradeWebSocket(): UpgradeWebSocketFn | null {
  return builtinUpgrade;
}

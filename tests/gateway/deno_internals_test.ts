/**
 * Deno's private internals (gateway/_deno_internals.ts): the verify-at-load probe passes on the
 * pinned Deno, the fast paths behave like the public API, and with the probe forced off the
 * fallbacks (`new Request`, iterating `Headers`, reading the body stream) give the same requests
 * and responses. A Deno upgrade that changes the internals fails here and nowhere else.
 */
import assert from "node:assert/strict";
import {
  attach,
  builtinUpgradeWebSocket,
  denoInternalsVerified,
  fastRequest,
  innerExchangeOf,
  rawHeaderList,
  replaceUpgradeWebSocket,
  restoreUpgradeWebSocket,
  staticBodyOf,
  useDenoInternals,
} from "../../gateway/_deno_internals.ts";
import { fetchHandler } from "../../gateway/fetch.ts";
import { buildRequest, exchangeOf, LazyAbort } from "../../gateway/fetch_request.ts";
import { fakeExchange, type FakeOptions } from "./_fake_exchange.ts";

/** Runs `fn` with the fast paths forced off, then restores the probe's verdict. */
async function withoutInternals<T>(fn: () => T | Promise<T>): Promise<T> {
  assert.equal(useDenoInternals(false), false);
  try {
    return await fn();
  } finally {
    useDenoInternals(true);
  }
}

Deno.test("the Deno internals probe passes on this Deno (else every fetch request is slower)", () => {
  assert.equal(denoInternalsVerified, true, `fast paths disabled on Deno ${Deno.version.deno}`);
  assert.equal(useDenoInternals(true), true);
});

Deno.test("the fast Request path is available on this Deno (else every fetch request is ~3 µs slower)", () => {
  assert.notEqual(fastRequest("GET", "http://h.test/", [], null, null), null);
});

Deno.test("a fast Request has the given method, raw url, immutable headers and a null body", async () => {
  const req = fastRequest("GET", "http://h.test:8080/a/../b?x=%20", [["x-a", "1"]], null, null)!;
  assert.ok(req instanceof Request);
  assert.equal(req.method, "GET");
  assert.equal(req.url, "http://h.test:8080/a/../b?x=%20");
  assert.equal(new URL(req.url).pathname, "/b");
  assert.equal(req.headers.get("X-A"), "1");
  assert.throws(() => req.headers.set("x-b", "2"), TypeError);
  assert.equal(req.body, null);
  assert.equal(await req.text(), "");
  assert.equal(req.signal.aborted, false);
});

Deno.test("a fast Request streams its body, clones, and can seed new Request()", async () => {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("hello"));
      c.close();
    },
  });
  const req = fastRequest("POST", "http://h.test/u", [["content-type", "text/plain"]], body, null)!;
  const copy = req.clone();
  assert.equal(await copy.text(), "hello");
  const again = new Request(req, { method: "PUT" });
  assert.equal(again.method, "PUT");
  assert.equal(again.url, "http://h.test/u");
  assert.equal(await again.text(), "hello");
});

Deno.test("a fast Request's signal is created on first use and aborts through the cancel hook", () => {
  let fire: (() => void) | null = null;
  let listened = 0;
  const req = fastRequest("GET", "http://h.test/", [], null, {
    listen(cb) {
      listened++;
      fire = cb;
    },
  })!;
  assert.equal(listened, 0);
  const sig = req.signal;
  assert.equal(listened, 1);
  assert.equal(sig.aborted, false);
  fire!();
  assert.equal(sig.aborted, true);
  assert.equal((sig.reason as DOMException).name, "AbortError");
  assert.strictEqual(req.signal, sig);
});

Deno.test("attach/innerExchangeOf find the exchange on fast requests only", () => {
  const req = fastRequest("GET", "http://h.test/", [], null, null)!;
  const token = { id: 1 };
  attach(req, token);
  assert.strictEqual(innerExchangeOf(req), token);
  assert.equal(innerExchangeOf(new Request("http://h.test/")), undefined);
  assert.equal(innerExchangeOf(req.clone()), undefined);
});

Deno.test("rawHeaderList keeps names as given and insertion order; staticBodyOf reads one-piece bodies", async () => {
  const resp = new Response(null, { headers: [["X-B", "1"], ["x-a", "2"]] });
  resp.headers.append("Set-Cookie", "c=1");
  resp.headers.append("Set-Cookie", "d=2");
  assert.deepEqual(rawHeaderList(resp.headers), [
    ["X-B", "1"],
    ["x-a", "2"],
    ["Set-Cookie", "c=1"],
    ["Set-Cookie", "d=2"],
  ]);
  assert.equal(staticBodyOf(resp), null);
  assert.equal(staticBodyOf(new Response("hi", { headers: resp.headers })), "hi");
  assert.deepEqual(
    staticBodyOf(new Response(new Uint8Array([1, 2, 3]))),
    new Uint8Array([1, 2, 3]),
  );
  assert.equal(staticBodyOf(new Response(new ReadableStream())), null);
  const used = new Response("x");
  await used.text();
  assert.equal(staticBodyOf(used), null);
});

Deno.test("forced off, every fast path answers 'not available'", async () => {
  await withoutInternals(() => {
    assert.equal(fastRequest("GET", "http://h.test/", [], null, null), null);
    assert.equal(rawHeaderList(new Headers([["x-a", "1"]])), null);
    assert.equal(staticBodyOf(new Response("hi")), null);
    assert.equal(innerExchangeOf(new Request("http://h.test/")), undefined);
  });
  assert.notEqual(fastRequest("GET", "http://h.test/", [], null, null), null);
});

/**
 * What a handler sees of a request, in comparable form. The URL is compared normalised: the fast
 * path keeps it exactly as received (as `Deno.serve` does), `new Request` normalises it.
 */
async function seen(req: Request) {
  return {
    isRequest: req instanceof Request,
    method: req.method,
    url: new URL(req.url).href,
    headers: [...req.headers],
    body: req.body === null ? null : await req.text(),
    aborted: req.signal.aborted,
  };
}

const REQUESTS: FakeOptions[] = [
  { method: "GET", target: "/a/../b?x=%20", headers: [["host", "example.com"], ["x-a", "1"]] },
  { method: "POST", target: "/u", headers: [["content-type", "text/plain"]], body: ["he", "llo"] },
  { method: "OPTIONS", target: "*" },
  { method: "GET", target: "http://other.test:81/p?q", scheme: "https" },
];

Deno.test("forced off, buildRequest gives the same Request through new Request()", async () => {
  for (const options of REQUESTS) {
    const fast = fakeExchange(options);
    const fastReq = buildRequest(fast.ex, new LazyAbort(fast.ex));
    assert.strictEqual(exchangeOf(fastReq), fast.ex);
    const want = await seen(fastReq);
    await withoutInternals(async () => {
      const slow = fakeExchange(options);
      const slowReq = buildRequest(slow.ex, new LazyAbort(slow.ex));
      assert.strictEqual(exchangeOf(slowReq), slow.ex);
      assert.deepEqual(await seen(slowReq), want, JSON.stringify(options));
    });
  }
});

Deno.test("forced off, request.signal still aborts when the client goes away", () => {
  for (const on of [true, false]) {
    useDenoInternals(on);
    try {
      const fake = fakeExchange();
      const req = buildRequest(fake.ex, new LazyAbort(fake.ex));
      const sig = req.signal;
      assert.equal(sig.aborted, false);
      fake.abort();
      assert.equal(sig.aborted, true, `fast paths ${on ? "on" : "off"}`);
      assert.equal((sig.reason as DOMException).name, "AbortError");
    } finally {
      useDenoInternals(true);
    }
  }
});

/** Response headers in comparable form: lowercase names, values per name in order. */
function normalized(headers: Array<[string, string]>): Array<[string, string]> {
  const byName = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    byName.set(lower, [...byName.get(lower) ?? [], value]);
  }
  const out: Array<[string, string]> = [];
  for (const [name, values] of [...byName].sort(([a], [b]) => a < b ? -1 : 1)) {
    if (name === "set-cookie") { for (const v of values) out.push([name, v]); }
    else out.push([name, values.join(", ")]);
  }
  return out;
}

/** Serves `make()` through fetchHandler on a fake exchange; status, reason, headers and body. */
async function served(make: () => Response) {
  const fake = fakeExchange();
  await fetchHandler(() => make())(fake.ex);
  assert.equal(fake.rec.heads.length, 1);
  assert.equal(fake.rec.ended, true);
  const head = fake.rec.heads[0];
  return {
    status: head.status,
    reason: head.reason,
    headers: normalized(head.headers),
    body: fake.text(),
  };
}

const RESPONSES: Array<[string, () => Response]> = [
  ["string body", () => new Response("héllo", { headers: { "Content-Type": "text/plain" } })],
  ["bytes body", () => new Response(new Uint8Array([104, 105]), { status: 201 })],
  ["ArrayBuffer body", () => new Response(new TextEncoder().encode("ab").buffer)],
  ["null body", () => new Response(null, { status: 204, headers: [["X-Empty", "1"]] })],
  ["one-chunk stream", () => new Response(ReadableStream.from([new TextEncoder().encode("s")]))],
  [
    "multi-chunk stream",
    () =>
      new Response(
        new ReadableStream<Uint8Array>({
          async pull(c) {
            await new Promise((r) => setTimeout(r, 1));
            c.enqueue(new TextEncoder().encode("x"));
            c.close();
          },
        }),
      ),
  ],
  [
    "repeated headers and cookies, transfer-encoding chunked dropped",
    () => {
      const h = new Headers([["X-Multi", "a"], ["Transfer-Encoding", "chunked"]]);
      h.append("x-multi", "b");
      h.append("Set-Cookie", "a=1");
      h.append("Set-Cookie", "b=2");
      return new Response("body", { status: 200, statusText: "Fine", headers: h });
    },
  ],
];

Deno.test("forced off, sendResponse gives the same status, headers and body", async () => {
  for (const [name, make] of RESPONSES) {
    const want = await served(make);
    const got = await withoutInternals(() => served(make));
    assert.deepEqual(got, want, name);
  }
});

Deno.test("replaceUpgradeWebSocket swaps the global and keeps the built-in one", () => {
  const original = Deno.upgradeWebSocket;
  const mine = (_request: Request) => "mine";
  replaceUpgradeWebSocket(mine);
  try {
    assert.strictEqual(Deno.upgradeWebSocket as unknown, mine);
    assert.strictEqual(builtinUpgradeWebSocket(), original);
    replaceUpgradeWebSocket(mine); // idempotent: the built-in one is still kept
    assert.strictEqual(builtinUpgradeWebSocket(), original);
  } finally {
    restoreUpgradeWebSocket(mine);
  }
  assert.strictEqual(Deno.upgradeWebSocket, original);
  assert.equal(builtinUpgradeWebSocket(), null);
});

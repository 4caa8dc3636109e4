/**
 * The fast `Request` path (gateway/_fast_request.ts): available on the pinned Deno, and the
 * requests it builds behave like the ones `Deno.serve` hands to handlers.
 */
import assert from "node:assert/strict";
import {
  attach,
  fastRequest,
  fastRequestAvailable,
  innerExchangeOf,
} from "../../gateway/_fast_request.ts";

Deno.test("the fast Request path is available on this Deno (else every fetch request is ~3 µs slower)", () => {
  assert.equal(fastRequestAvailable, true, `fast path disabled on Deno ${Deno.version.deno}`);
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

/**
 * `fetchHandler` over a socket-free exchange: a handler that answers synchronously with a string
 * or bytes body is served before `handle` returns (no promise for the engine to await), and every
 * other answer (an async handler, a streamed body, a throw) still goes through the promise path
 * with the same outcome.
 */
import assert from "node:assert/strict";
import { fetchHandler } from "../../gateway/fetch.ts";
import { AppError } from "../../gateway/errors.ts";
import { fakeExchange } from "./_fake_exchange.ts";

Deno.test("fetch: a synchronous Response with a string body is answered before handle returns", () => {
  const f = fakeExchange();
  const r = fetchHandler(() => new Response("hello"))(f.ex);
  assert.equal(r, undefined);
  assert.equal(f.rec.heads[0].status, 200);
  assert.equal(f.text(), "hello");
  assert.ok(f.rec.ended);
});

Deno.test("fetch: a synchronous Response with a bytes body is answered before handle returns", () => {
  const f = fakeExchange();
  const r = fetchHandler(() => new Response(new TextEncoder().encode("bytes"), { status: 201 }))(
    f.ex,
  );
  assert.equal(r, undefined);
  assert.equal(f.rec.heads[0].status, 201);
  assert.equal(f.text(), "bytes");
});

Deno.test("fetch: a synchronous answer under back-pressure returns a promise that ends it", async () => {
  const f = fakeExchange({ writes: "backpressure" });
  const r = fetchHandler(() => new Response(new Uint8Array(10)))(f.ex);
  assert.ok(r instanceof Promise);
  await r;
  assert.ok(f.rec.ended);
});

Deno.test("fetch: an async handler and a streamed body go through the promise path", async () => {
  const a = fakeExchange();
  const ra = fetchHandler(() => Promise.resolve(new Response("later")))(a.ex);
  assert.ok(ra instanceof Promise);
  await ra;
  assert.equal(a.text(), "later");
  const s = fakeExchange();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("streamed"));
      c.close();
    },
  });
  const rs = fetchHandler(() => new Response(stream))(s.ex);
  assert.ok(rs instanceof Promise);
  await rs;
  assert.equal(s.text(), "streamed");
});

Deno.test("fetch: a synchronous throw and a non-Response are errors on both paths", async () => {
  const t = fakeExchange();
  await assert.rejects(
    async () =>
      await fetchHandler(() => {
        throw new Error("boom");
      })(t.ex),
    AppError,
  );
  assert.equal(t.rec.heads.length, 0);
  const n = fakeExchange();
  assert.throws(
    () => fetchHandler(() => 42 as unknown as Response)(n.ex),
    (err: unknown) => err instanceof Error && /must return a Response/.test(err.message),
  );
  const u = fakeExchange();
  assert.equal(fetchHandler(() => undefined)(u.ex), undefined);
  assert.equal(u.rec.heads[0].status, 404);
});

/**
 * Known-length bodies in the gateway runner (gateway/run_app.ts): a body that is a list of known
 * chunks (an Array, or one `Uint8Array`) gets a `Content-Length` whether the app returned it
 * synchronously or from a Promise, for GET and HEAD alike (RFC 9110 §9.3.2, §8.6); bodies of
 * unknown length, bodies after `write()` and Arrays with a release hook are streamed without one.
 */
import assert from "node:assert/strict";
import { AppContractError } from "../../gateway/errors.ts";
import type { App, ResponseBody } from "../../gateway/types.ts";
import { bytes, run } from "./_fake_exchange.ts";

const TEXT: [string, string][] = [["Content-Type", "text/plain"]];

/** A synchronous app that starts a 200 response and returns `body()`. */
function syncApp(body: () => unknown): App {
  return (_e, sr) => {
    sr("200 OK", TEXT);
    return body() as ResponseBody;
  };
}

/** The same app, async: it awaits before starting the response and returning `body()`. */
function asyncApp(body: () => unknown): App {
  return async (_e, sr) => {
    await new Promise((r) => setTimeout(r, 1));
    sr("200 OK", TEXT);
    return body() as ResponseBody;
  };
}

/** The Content-Length the runner passed to `head()`, or undefined. */
function declared(headers: Array<[string, string]>): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === "content-length")?.[1];
}

/** "a sync" or "an async". */
function an(kind: "sync" | "async"): string {
  return kind === "sync" ? "a sync" : "an async";
}

const LISTS: ReadonlyArray<readonly [string, () => unknown, string]> = [
  ["a one-element list", () => [bytes("hello")], "5"],
  ["a several-element list", () => [bytes("ab"), bytes(""), bytes("cdé")], "6"],
  ["a single Uint8Array", () => bytes("xyz"), "3"],
  ["an empty list", () => [], "0"],
];

for (const [kind, make] of [["sync", syncApp], ["async", asyncApp]] as const) {
  for (const [what, body, length] of LISTS) {
    Deno.test(`${an(kind)} app returning ${what} gets Content-Length ${length} on GET`, async () => {
      const r = await run(make(body));
      assert.equal(r.error, undefined);
      assert.equal(r.rec.heads.length, 1);
      assert.deepEqual(r.rec.heads[0].headers, [...TEXT, ["Content-Length", length]]);
      assert.equal(r.rec.chunks.reduce((n, c) => n + c.length, 0), Number(length));
      assert.ok(r.rec.ended);
    });

    Deno.test(`${an(kind)} app returning ${what} gets the same Content-Length on HEAD`, async () => {
      const get = await run(make(body), { method: "GET" });
      const head = await run(make(body), { method: "HEAD" });
      assert.equal(head.error, undefined);
      assert.equal(declared(head.rec.heads[0].headers), length);
      assert.deepEqual(head.rec.heads[0].headers, get.rec.heads[0].headers);
      assert.ok(head.rec.ended);
    });
  }

  Deno.test(`${an(kind)} app's own Content-Length is kept, not doubled`, async () => {
    const app: App = kind === "sync"
      ? (_e, sr) => {
        sr("200 OK", [["content-length", "2"]]);
        return [bytes("ok")];
      }
      : async (_e, sr) => {
        await Promise.resolve();
        sr("200 OK", [["content-length", "2"]]);
        return [bytes("ok")];
      };
    const r = await run(app);
    assert.deepEqual(r.rec.heads[0].headers, [["content-length", "2"]]);
  });

  Deno.test(`${an(kind)} app's generator body is streamed without a Content-Length`, async () => {
    const r = await run(make(() =>
      (function* () {
        yield bytes("a");
        yield bytes("b");
      })()
    ));
    assert.equal(r.error, undefined);
    assert.equal(declared(r.rec.heads[0].headers), undefined);
    assert.equal(r.text(), "ab");
  });

  Deno.test(`${an(kind)} app's Array with a close() hook is streamed and released`, async () => {
    let closed = 0;
    const r = await run(
      make(() => Object.assign([bytes("a"), bytes("b")], { close: () => closed++ })),
    );
    assert.equal(r.error, undefined);
    assert.equal(declared(r.rec.heads[0].headers), undefined);
    assert.equal(r.text(), "ab");
    assert.equal(closed, 1);
  });
}

Deno.test("an async app that used write() gets no computed Content-Length", async () => {
  const r = await run(async (_e, sr) => {
    const write = sr("200 OK", TEXT);
    await write(bytes("first "));
    return [bytes("second")];
  });
  assert.equal(r.error, undefined);
  assert.equal(declared(r.rec.heads[0].headers), undefined);
  assert.equal(r.text(), "first second");
});

Deno.test("an async app returning a list sends head, chunks and end like a sync one", async () => {
  const r = await run(asyncApp(() => [bytes("a"), bytes("b")]));
  assert.deepEqual(r.rec.calls, ["head", "write", "write", "end"]);
  const slow = await run(asyncApp(() => [bytes("a"), bytes("b")]), { writes: "backpressure" });
  assert.equal(slow.error, undefined);
  assert.equal(slow.text(), "ab");
  assert.equal(declared(slow.rec.heads[0].headers), "2");
});

Deno.test("an async app returning a non-bytes list element breaks BODY-2 before the head", async () => {
  const r = await run(asyncApp(() => [bytes("a"), "b"]));
  assert.ok(r.error instanceof AppContractError && r.error.rule === "BODY-2", String(r.error));
  assert.equal(r.rec.heads.length, 0, "no head for a body that cannot be sent");
});

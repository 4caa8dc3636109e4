// The example and fixture apps in apps/, run in-process on a fake exchange (no socket).
import assert from "node:assert/strict";
import { AppContractError, AppError } from "../../gateway/errors.ts";
import { gatewayHandler } from "../../gateway/run_app.ts";
import { app as echo } from "../../apps/echo.ts";
import { app as environApp } from "../../apps/environ.ts";
import { app as errorApp } from "../../apps/error.ts";
import hello, { app as helloApp } from "../../apps/hello.ts";
import { app as stream } from "../../apps/stream.ts";
import { concat, fakeExchange, run } from "./_fake_exchange.ts";

function header(headers: Array<[string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

Deno.test("hello answers synchronously with 'Hello, world!' and a computed Content-Length", () => {
  assert.equal(hello, helloApp);
  const fake = fakeExchange();
  const returned = gatewayHandler(helloApp, { rootPath: "", workers: 1 })(fake.ex);
  assert.equal(returned, undefined);
  assert.equal(fake.text(), "Hello, world!\n");
  assert.equal(fake.rec.heads[0].status, 200);
  assert.equal(header(fake.rec.heads[0].headers, "content-length"), "14");
});

Deno.test("echo answers GET and HEAD / with exactly 'Hello' as text/plain", async () => {
  for (const method of ["GET", "HEAD"]) {
    const r = await run(echo, { method, target: "/" });
    assert.equal(r.text(), "Hello");
    assert.equal(header(r.rec.heads[0].headers, "content-type"), "text/plain");
  }
});

Deno.test("echo returns the request body byte for byte on /echo", async () => {
  const payload = new Uint8Array(256).map((_, i) => i);
  const r = await run(echo, {
    method: "PUT",
    target: "/echo",
    headers: [["content-length", "256"]],
    body: [payload.subarray(0, 100), payload.subarray(100)],
  });
  assert.equal(r.error, undefined);
  assert.deepEqual(concat(r.rec.chunks), payload);
  assert.equal(r.rec.chunks.length, 2, "streamed chunk by chunk");
  assert.equal(header(r.rec.heads[0].headers, "content-type"), "application/octet-stream");
  assert.equal(header(r.rec.heads[0].headers, "content-length"), "256");
  const chunked = await run(echo, {
    method: "POST",
    target: "/echo",
    body: ["a", "b"],
    contentLength: null,
  });
  assert.equal(chunked.text(), "ab");
  assert.equal(header(chunked.rec.heads[0].headers, "content-length"), undefined);
  const empty = await run(echo, { method: "POST", target: "/echo" });
  assert.deepEqual(empty.rec.calls, ["head", "end"]);
});

Deno.test("echo answers anything else with 404", async () => {
  for (const [method, target] of [["GET", "/nope"], ["POST", "/"], ["GET", "/echo/x"]]) {
    const r = await run(echo, { method, target });
    assert.equal(r.rec.heads[0].status, 404, `${method} ${target}`);
  }
});

Deno.test("environ app returns the serialisable environ as sorted JSON", async () => {
  const r = await run(environApp, {
    target: "/p%20q?x=1",
    headers: [["host", "example.com"], ["x-thing", "v"]],
  });
  const body = JSON.parse(r.text());
  assert.deepEqual(Object.keys(body), Object.keys(body).sort());
  assert.equal(body.PATH_INFO, "/p q");
  assert.equal(body.QUERY_STRING, "x=1");
  assert.equal(body.HTTP_X_THING, "v");
  assert.deepEqual(body["lsbaws.version"], [1, 0]);
  assert.equal(body["lsbaws.request_id"], "req-1");
  assert.ok(!("lsbaws.input" in body) && !("lsbaws.errors" in body) && !("lsbaws.signal" in body));
  assert.equal(header(r.rec.heads[0].headers, "content-type"), "application/json");
});

Deno.test("stream app sends five delayed chunks without a Content-Length", async () => {
  const r = await run(stream, { target: "/?delay=0" });
  assert.equal(r.error, undefined);
  assert.equal(r.rec.chunks.length, 5);
  assert.equal(r.text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
  assert.equal(header(r.rec.heads[0].headers, "content-length"), undefined);
});

Deno.test("stream app sends /big?n=BYTES in 64 KiB pieces", async () => {
  const r = await run(stream, { target: "/big?n=200000" });
  assert.equal(r.rec.chunks.reduce((n, c) => n + c.length, 0), 200000);
  assert.ok(r.rec.chunks.every((c) => c.length <= 65536));
  assert.equal(r.rec.chunks.length, 4);
  for (const target of ["/big?n=abc", "/big?n=99999999999", "/?delay=-1"]) {
    assert.equal((await run(stream, { target })).rec.heads[0].status, 400, target);
  }
});

Deno.test("error app fails in the way each path names", async () => {
  const before = await run(errorApp, { target: "/before" });
  assert.ok(before.error instanceof AppError);
  assert.deepEqual(before.rec.calls, []);
  const after = await run(errorApp, { target: "/after" });
  assert.ok(after.error instanceof AppError);
  assert.deepEqual(after.rec.calls, ["head", "write"]);
  const contract = await run(errorApp, { target: "/contract" });
  assert.ok(contract.error instanceof AppContractError && contract.error.rule === "BODY-2");
  assert.deepEqual(contract.rec.calls, []);
  const hop = await run(errorApp, { target: "/hop" });
  assert.ok(hop.error instanceof AppContractError && hop.error.rule === "SR-6");
  const index = await run(errorApp, { target: "/" });
  assert.equal(index.rec.heads[0].status, 200);
});

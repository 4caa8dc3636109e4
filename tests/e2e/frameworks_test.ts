// Real frameworks from npm run unchanged on lsbaws (apps/hono.ts, apps/itty.ts, apps/elysia.ts,
// apps/h3.ts), each end to end through a socket: route parameters, JSON, form posts (urlencoded
// and multipart), streamed responses, the connection-info convention and 404s.
import assert from "node:assert/strict";
import { startApp, type TestServer } from "../_support/server.ts";
import { roundTrip } from "../_support/raw_client.ts";

async function withApp(spec: string, fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startApp(spec);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

async function get(port: number, path: string, init?: RequestInit) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    text: await res.text(),
  };
}

Deno.test("hono: route parameter, JSON and 404", async () => {
  await withApp("apps/hono.ts", async (s) => {
    const home = await get(s.port, "/");
    assert.equal(home.status, 200);
    assert.match(home.type, /^text\/plain/);
    assert.equal(home.text, "hono on lsbaws");
    const hello = await get(s.port, "/hello/w%C3%B6rld");
    assert.equal(hello.text, "Hello, wörld!");
    const json = await get(s.port, "/json?q=42");
    assert.match(json.type, /^application\/json/);
    assert.deepEqual(JSON.parse(json.text), { framework: "hono", q: "42" });
    assert.equal((await get(s.port, "/nope")).status, 404);
  });
});

Deno.test("hono: form POST, urlencoded and multipart with a file", async () => {
  await withApp("apps/hono.ts", async (s) => {
    const urlencoded = await get(s.port, "/form", {
      method: "POST",
      body: new URLSearchParams({ name: "Ada", lang: "en" }),
    });
    assert.deepEqual(JSON.parse(urlencoded.text), { name: "Ada", lang: "en" });
    const form = new FormData();
    form.append("title", "report");
    form.append("tag", "a");
    form.append("tag", "b");
    form.append(
      "file",
      new File([new Uint8Array(100_000).fill(7)], "data.bin", {
        type: "application/octet-stream",
      }),
    );
    const multipart = await get(s.port, "/form", { method: "POST", body: form });
    assert.deepEqual(JSON.parse(multipart.text), {
      title: "report",
      tag: ["a", "b"],
      file: { name: "data.bin", type: "application/octet-stream", size: 100_000 },
    });
  });
});

Deno.test("hono: a streamed response arrives chunked, line by line", async () => {
  await withApp("apps/hono.ts", async (s) => {
    const r = await roundTrip(s.port, "GET /stream?n=4 HTTP/1.1\r\nHost: x\r\n\r\n");
    const res = r.responses[0];
    assert.equal(res.status, 200);
    assert.equal(res.framing, "chunked");
    assert.equal(res.body, "line 0\nline 1\nline 2\nline 3\n");
    // Each line was flushed on its own (the stream was not buffered to the end).
    assert.ok((res.raw.match(/\r\n7\r\n/g) ?? []).length >= 3, JSON.stringify(res.raw));
  });
});

Deno.test("hono: getConnInfo reads lsbaws's ServeHandlerInfo", async () => {
  await withApp("apps/hono.ts", async (s) => {
    const info = JSON.parse((await get(s.port, "/conninfo")).text);
    assert.equal(info.address, "127.0.0.1");
    assert.equal(info.transport, "tcp");
    assert.equal(typeof info.port, "number");
  });
});

/** The routes apps/itty.ts, apps/elysia.ts and apps/h3.ts share. */
async function sharedRoutes(spec: string, framework: string): Promise<void> {
  await withApp(spec, async (s) => {
    const hello = await get(s.port, "/hello/deno");
    assert.equal(hello.status, 200, spec);
    assert.equal(hello.text, "Hello, deno!");
    const json = await get(s.port, "/json?q=x");
    assert.match(json.type, /^application\/json/);
    assert.deepEqual(JSON.parse(json.text), { framework, q: "x" });
    const posted = await get(s.port, "/json", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: [1, 2, { b: "ü" }] }),
    });
    assert.deepEqual(JSON.parse(posted.text), { received: { a: [1, 2, { b: "ü" }] } });
    assert.equal((await get(s.port, "/nope")).status, 404, spec);
  });
}

Deno.test("itty-router: AutoRouter routes, JSON in and out, 404", async () => {
  await sharedRoutes("apps/itty.ts", "itty");
});

Deno.test("itty-router: a base Router that falls through gets lsbaws's 404 and a log hint", async () => {
  await withApp("apps/itty.ts:bare", async (s) => {
    assert.equal((await get(s.port, "/hello/x")).text, "Hello, x!");
    assert.equal((await get(s.port, "/other")).status, 404);
    assert.ok(s.logs.some((l) => l.includes("returned no Response")), s.logs.join("\n"));
  });
});

Deno.test("elysia: an inherited fetch getter; routes, JSON in and out, 404", async () => {
  await sharedRoutes("apps/elysia.ts", "elysia");
});

Deno.test("h3: routes, JSON in and out, 404", async () => {
  await sharedRoutes("apps/h3.ts", "h3");
});

// The adapters both ways (gateway/adapters.ts): the same apps are served by lsbaws directly and
// through `toFetchHandler` under Deno.serve (gateway apps), or directly and through
// `fromFetchHandler` under lsbaws (fetch apps), and the responses are compared.
import assert from "node:assert/strict";
import { fromFetchHandler, toFetchHandler } from "../../gateway/mod.ts";
import type { App } from "../../gateway/mod.ts";
import { app as echoApp } from "../../apps/echo.ts";
import { app as helloApp } from "../../apps/hello.ts";
import { app as streamApp } from "../../apps/stream.ts";
import { app as environApp } from "../../apps/environ.ts";
import { app as errorApp } from "../../apps/error.ts";
import { handler as fetchApp } from "./fixtures/fetch_app.ts";
import { startApp } from "../_support/server.ts";
import { isValidRequestId } from "../../server/http/request_id.ts";

/** What is compared between two servers. */
interface Seen {
  status: number;
  type: string | null;
  length: string | null;
  cookies: string[];
  custom: string | null;
  /** Body length, a checksum and its first 60 characters (bodies can be large). */
  body: string;
}

function digest(text: string): string {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  return `${text.length} bytes, sum ${h}: ${JSON.stringify(text.slice(0, 60))}`;
}

interface Req {
  path: string;
  method?: string;
  body?: Uint8Array | (() => ReadableStream<Uint8Array>);
}

async function ask(port: number, r: Req): Promise<Seen> {
  const body = typeof r.body === "function" ? r.body() : r.body;
  const res = await fetch(`http://127.0.0.1:${port}${r.path}`, {
    method: r.method ?? "GET",
    body,
    // deno-lint-ignore no-explicit-any
    ...(body instanceof ReadableStream ? { duplex: "half" } as any : {}),
  });
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    length: res.headers.get("content-length"),
    cookies: res.headers.getSetCookie(),
    custom: res.headers.get("x-custom"),
    body: digest(await res.text()),
  };
}

/** Serves a fetch handler with Deno.serve on an ephemeral loopback port. */
function denoServe(handler: Deno.ServeHandler): { port: number; close(): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return { port: server.addr.port, close: () => server.shutdown() };
}

const payload = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
const streamed = () =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < 4; i++) c.enqueue(payload.subarray(i * 50_000, (i + 1) * 50_000));
      c.close();
    },
  });

/** Runs `reqs` against lsbaws serving `spec` and against Deno.serve(toFetchHandler(app)). */
async function compareGateway(spec: string, app: App, reqs: Req[], skipLength = false) {
  const direct = await startApp(spec);
  const adapted = denoServe(toFetchHandler(app, { log: () => {} }));
  try {
    for (const r of reqs) {
      const a = await ask(direct.port, r);
      const b = await ask(adapted.port, r);
      if (skipLength) a.length = b.length = null;
      assert.deepEqual(b, a, `${r.method ?? "GET"} ${r.path}`);
    }
  } finally {
    await direct.close();
    await adapted.close();
  }
}

Deno.test("toFetchHandler: apps/echo.ts answers the same under Deno.serve as under lsbaws", async () => {
  await compareGateway("apps/echo.ts:app", echoApp, [
    { path: "/" },
    { path: "/", method: "HEAD" },
    { path: "/nope" },
    { path: "/echo", method: "POST", body: payload },
  ]);
  // A chunked upload has no Content-Length, so the echo streams (lengths differ by design:
  // lsbaws sends chunked, Deno.serve too; compare bodies).
  await compareGateway("apps/echo.ts:app", echoApp, [
    { path: "/echo", method: "POST", body: streamed },
  ], true);
});

Deno.test("toFetchHandler: apps/hello.ts and apps/stream.ts answer the same both ways", async () => {
  await compareGateway("apps/hello.ts:app", helloApp, [{ path: "/" }, { path: "/x?y=1" }]);
  await compareGateway("apps/stream.ts:app", streamApp, [
    { path: "/?delay=1" },
    { path: "/big?n=300000" },
    { path: "/big?n=abc" },
  ]);
});

Deno.test("toFetchHandler: app errors are a 500 without details both ways", async () => {
  await compareGateway("apps/error.ts:app", errorApp, [
    { path: "/" },
    { path: "/before" },
    { path: "/contract" },
    { path: "/hop" },
  ]);
  const adapted = toFetchHandler(errorApp, { log: () => {} });
  const res = await adapted(new Request("http://x/before"));
  assert.equal(res.status, 500);
  assert.ok(!(await res.text()).includes("boom"));
});

Deno.test("toFetchHandler: the environ matches lsbaws's for the same request", async () => {
  const direct = await startApp("apps/environ.ts:app");
  const adapted = denoServe(toFetchHandler(environApp));
  const keys = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "HTTP_X_CUSTOM",
    "lsbaws.url_scheme",
    "lsbaws.version",
  ];
  try {
    const pick = async (port: number) => {
      const res = await fetch(`http://127.0.0.1:${port}/a%20b/c?q=1&r`, {
        method: "POST",
        headers: { "content-type": "text/plain", "x-custom": "v" },
        body: "abc",
      });
      const env = await res.json();
      return Object.fromEntries(keys.map((k) => [k, env[k]]));
    };
    const a = await pick(direct.port);
    const b = await pick(adapted.port);
    assert.deepEqual(b, a);
    assert.equal(a.PATH_INFO, "/a b/c");
    assert.equal(a.REMOTE_ADDR, "127.0.0.1");
  } finally {
    await direct.close();
    await adapted.close();
  }
});

Deno.test("toFetchHandler: without info the REMOTE_* keys are absent, with info they are set", async () => {
  const handler = toFetchHandler(environApp);
  const bare = await (await handler(new Request("http://example.com:8080/p"))).json();
  assert.equal(bare.REMOTE_ADDR, undefined);
  assert.equal(bare.REMOTE_PORT, undefined);
  assert.equal(bare.SERVER_NAME, "example.com");
  assert.equal(bare.SERVER_PORT, "8080");
  const remoteAddr = { transport: "tcp" as const, hostname: "192.0.2.9", port: 4242 };
  const withInfo = await (await handler(new Request("https://example.com/p"), { remoteAddr }))
    .json();
  assert.equal(withInfo.REMOTE_ADDR, "192.0.2.9");
  assert.equal(withInfo.REMOTE_PORT, "4242");
  assert.equal(withInfo.HTTPS, "on");
  assert.equal(withInfo.SERVER_PORT, "443");
});

Deno.test("toFetchHandler: lsbaws.request_id is the client's X-Request-ID if acceptable, else a fresh one", async () => {
  const handler = toFetchHandler(environApp);
  const idOf = async (given?: string) => {
    const headers = given === undefined ? undefined : { "x-request-id": given };
    const env = await (await handler(new Request("http://example.com/p", { headers }))).json();
    return env["lsbaws.request_id"] as string;
  };
  assert.equal(await idOf("client-id.1"), "client-id.1");
  for (const given of [undefined, "bad id with spaces", "x".repeat(201)]) {
    const id = await idOf(given);
    assert.notEqual(id, given);
    assert.ok(isValidRequestId(id), id);
  }
  assert.notEqual(await idOf(), await idOf());
});

Deno.test("toFetchHandler: a streamed body is pulled only as fast as it is read, and released", async () => {
  let pulled = 0;
  let closed = 0;
  const piece = new Uint8Array(16 * 1024);
  const app: App = (_env, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 100_000; i++) {
          pulled++;
          await null;
          yield piece;
        }
      },
      close() {
        closed++;
      },
    } as AsyncIterable<Uint8Array>;
  };
  const res = await toFetchHandler(app)(new Request("http://x/"));
  const reader = res.body!.getReader();
  await reader.read();
  await new Promise((r) => setTimeout(r, 50));
  // At most the 64 KiB queue (4 pieces) plus the pieces in flight were pulled.
  assert.ok(pulled <= 8, `pulled ${pulled} pieces for one read`);
  await reader.cancel();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(closed, 1, "the body is released exactly once after cancel");
});

/** Runs `reqs` against lsbaws serving the fetch handler directly and through fromFetchHandler. */
async function compareFetch(reqs: Req[], overrides = {}) {
  const direct = await startApp("tests/gateway/fixtures/fetch_app.ts:handler", {
    interface: "fetch",
    ...overrides,
  });
  const adapted = await startApp("tests/gateway/fixtures/fetch_app.ts:gateway", overrides);
  try {
    for (const r of reqs) {
      const a = await ask(direct.port, r);
      const b = await ask(adapted.port, r);
      assert.deepEqual(b, a, `${r.method ?? "GET"} ${r.path}`);
    }
  } finally {
    await direct.close();
    await adapted.close();
  }
}

Deno.test("fromFetchHandler: a fetch app answers the same as a gateway app under lsbaws", async () => {
  await compareFetch([
    { path: "/hello" },
    { path: "/hello", method: "HEAD" },
    { path: "/json" },
    { path: "/cookies" },
    { path: "/stream?n=4" },
    { path: "/echo", method: "POST", body: payload },
    { path: "/count", method: "POST", body: streamed },
    { path: "/missing" },
    { path: "/throw" },
    { path: "/hop" },
    { path: "/elsewhere" },
  ]);
});

Deno.test("fromFetchHandler: the reference (Deno.serve) agrees on the successful routes", async () => {
  const reference = denoServe(fetchApp as Deno.ServeHandler);
  const adapted = await startApp("tests/gateway/fixtures/fetch_app.ts:gateway");
  try {
    for (const path of ["/hello", "/json", "/cookies", "/stream?n=4"]) {
      const a = await ask(reference.port, { path });
      const b = await ask(adapted.port, { path });
      a.length = b.length = null; // Deno.serve streams what lsbaws sends with a length
      assert.deepEqual(b, a, path);
    }
    const r = { path: "/echo", method: "POST", body: payload };
    assert.equal((await ask(adapted.port, r)).body, (await ask(reference.port, r)).body);
  } finally {
    await reference.close();
    await adapted.close();
  }
});

Deno.test("fromFetchHandler: a body over --max-body-bytes is a 413 both ways", async () => {
  // compareFetch asserts both servers answer alike; the answer must be the limit's 413.
  const limited = { maxBodyBytes: 1000 };
  await compareFetch([{ path: "/count", method: "POST", body: streamed }], limited);
  const s = await startApp("tests/gateway/fixtures/fetch_app.ts:gateway", limited);
  try {
    const seen = await ask(s.port, { path: "/count", method: "POST", body: streamed });
    assert.equal(seen.status, 413);
    assert.ok(!s.logs.some((l) => l.includes("[ERROR]")), s.logs.join("\n"));
  } finally {
    await s.close();
  }
});

Deno.test("fromFetchHandler: a throw is logged once with its stack and not leaked", async () => {
  const server = await startApp("tests/gateway/fixtures/fetch_app.ts:gateway");
  try {
    const seen = await ask(server.port, { path: "/throw" });
    assert.equal(seen.status, 500);
    assert.ok(!seen.body.includes("secret"));
    const hits = server.logs.filter((l) => l.includes("secret internal detail 7f3a"));
    assert.equal(hits.length, 1, server.logs.join("\n"));
    const missing = await ask(server.port, { path: "/missing" });
    assert.equal(missing.status, 404);
    assert.ok(server.logs.some((l) => l.includes("returned no Response")));
  } finally {
    await server.close();
  }
});

Deno.test("adapters compose: toFetchHandler(fromFetchHandler(h)) answers like h", async () => {
  const round = toFetchHandler(fromFetchHandler(fetchApp), { log: () => {} });
  for (const path of ["/hello", "/json", "/cookies", "/stream?n=2"]) {
    const a = await fetchApp(new Request(`http://x${path}`), {
      remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
      completed: Promise.resolve(),
    });
    const b = await round(new Request(`http://x${path}`));
    assert.equal(b.status, a!.status, path);
    assert.equal(b.headers.get("content-type"), a!.headers.get("content-type"), path);
    assert.deepEqual(b.headers.getSetCookie(), a!.headers.getSetCookie(), path);
    assert.equal(await b.text(), await a!.text(), path);
  }
  const echoed = await round(new Request("http://x/echo", { method: "POST", body: payload }));
  assert.deepEqual(new Uint8Array(await echoed.arrayBuffer()), payload);
  const missing = await round(new Request("http://x/missing"));
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

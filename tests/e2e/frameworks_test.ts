/**
 * Real frameworks from npm run unchanged on lsbaws (apps/frameworks/hono.ts, itty.ts, elysia.ts,
 * h3.ts and hono_ws.ts), each end to end through a socket: route parameters, JSON, form posts
 * (urlencoded and multipart), streamed responses, the connection-info convention, 404s and Hono's
 * WebSocket helper.
 *
 * The examples have their own config and lock (apps/frameworks/deno.json and deno.lock), so the
 * project's lock holds no npm package and `deno task start` downloads nothing. Each test therefore
 * runs lsbaws as a real process under that config, as `deno task examples:*` does, rather than
 * importing the app into this process (which would resolve its npm packages against the project's
 * lock). The last test keeps the `examples:*` tasks pointing at these files and that config.
 */
import assert from "node:assert/strict";
import { type Proc, PROJECT_ROOT, startLsbaws } from "../_support/proc.ts";
import { roundTrip } from "../_support/raw_client.ts";

/** The examples' own config file, relative to the project root. */
const EXAMPLES_CONFIG = "apps/frameworks/deno.json";

/** A running example: its port and the lsbaws process (stderr lines in `proc.err`). */
interface Example {
  port: number;
  proc: Proc;
}

async function withApp(spec: string, fn: (s: Example) => Promise<void>): Promise<void> {
  // The first run under a cold cache fetches the examples' npm packages (pinned by their lock).
  // A zero grace closes fetch's idle keep-alive connection at the end, as `shutdown(0)` does for
  // the in-process servers of the other e2e tests.
  const proc = await startLsbaws(["--port", "0", "--shutdown-grace-ms", "0", spec], {
    config: EXAMPLES_CONFIG,
    timeoutMs: 120_000,
  });
  try {
    await fn({ port: proc.port(), proc });
  } finally {
    await proc.stop();
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
  await withApp("apps/frameworks/hono.ts", async (s) => {
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
  await withApp("apps/frameworks/hono.ts", async (s) => {
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
  await withApp("apps/frameworks/hono.ts", async (s) => {
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
  await withApp("apps/frameworks/hono.ts", async (s) => {
    const info = JSON.parse((await get(s.port, "/conninfo")).text);
    assert.equal(info.address, "127.0.0.1");
    assert.equal(info.transport, "tcp");
    assert.equal(typeof info.port, "number");
  });
});

/** The routes apps/frameworks/itty.ts, elysia.ts and h3.ts share. */
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
  await sharedRoutes("apps/frameworks/itty.ts", "itty");
});

Deno.test("itty-router: a base Router that falls through gets lsbaws's 404 and a log hint", async () => {
  await withApp("apps/frameworks/itty.ts:bare", async (s) => {
    assert.equal((await get(s.port, "/hello/x")).text, "Hello, x!");
    assert.equal((await get(s.port, "/other")).status, 404);
    await s.proc.waitForErr(/returned no Response/);
  });
});

Deno.test("elysia: an inherited fetch getter; routes, JSON in and out, 404", async () => {
  await sharedRoutes("apps/frameworks/elysia.ts", "elysia");
});

Deno.test("h3: routes, JSON in and out, 404", async () => {
  await sharedRoutes("apps/frameworks/h3.ts", "h3");
});

/** Collects a WebSocket's messages; `next()` resolves with the next one. */
function inbox(ws: WebSocket): { next(): Promise<unknown>; closed: Promise<CloseEvent> } {
  const queue: unknown[] = [];
  const waiters: Array<(v: unknown) => void> = [];
  ws.onmessage = (e) => {
    const w = waiters.shift();
    if (w) w(e.data);
    else queue.push(e.data);
  };
  const closed = new Promise<CloseEvent>((r) => ws.addEventListener("close", (e) => r(e)));
  return {
    next: () => queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)),
    closed,
  };
}

Deno.test("hono: the upgradeWebSocket helper (hono/deno) works unchanged", async () => {
  await withApp("apps/frameworks/hono_ws.ts", async (s) => {
    assert.equal((await get(s.port, "/")).text, "hono");
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    ws.binaryType = "arraybuffer";
    const box = inbox(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) => reject(new Error(`open failed: ${(e as ErrorEvent).message}`));
    });
    ws.onerror = null;
    ws.send("hi");
    assert.equal(await box.next(), "hono:hi");
    ws.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(new Uint8Array(await box.next() as ArrayBuffer), new Uint8Array([1, 2, 3]));
    ws.close(1000, "done");
    const ev = await box.closed;
    assert.equal(ev.code, 1000);
    assert.equal(ev.reason, "done");
  });
});

Deno.test("every examples:* task runs lsbaws on an existing example under the examples' config", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}deno.json`));
  const tasks = Object.entries(config.tasks as Record<string, string>)
    .filter(([name]) => name.startsWith("examples:"));
  assert.ok(tasks.length >= 5, "one task per framework example");
  const prefix = `deno run --unstable-net -A --config ${EXAMPLES_CONFIG} main.ts `;
  assert.equal(config.tasks.examples, prefix.trimEnd());
  for (const [name, cmd] of tasks) {
    assert.ok(cmd.startsWith(prefix), `${name}: ${cmd}`);
    const spec = cmd.slice(prefix.length);
    assert.match(spec, /^apps\/frameworks\/\w+\.ts$/, name);
    assert.ok((await Deno.stat(`${PROJECT_ROOT}${spec}`)).isFile, `${name}: ${spec}`);
  }
});

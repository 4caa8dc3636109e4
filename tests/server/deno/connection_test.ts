/**
 * The `deno` socket driver over an in-memory `Deno.Conn`: batching of pipelined responses,
 * partial writes, timeouts, peer-gone detection and back-pressure, deterministically (no
 * network).
 */
import assert from "node:assert/strict";
import { DEFAULTS, limitsOf } from "../../../server/config.ts";
import { DenoConnection } from "../../../server/deno/connection.ts";
import type { EngineContext } from "../../../server/engine.ts";
import type { Exchange, Handler } from "../../../server/exchange.ts";
import { createGatekeeper, type ServerState } from "../../../server/policy.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An in-memory connection: reads come from `push`, writes are recorded. */
class FakeConn {
  readonly remoteAddr = { transport: "tcp", hostname: "127.0.0.1", port: 40000 } as const;
  readonly localAddr = { transport: "tcp", hostname: "127.0.0.1", port: 8000 } as const;
  readonly writes: Uint8Array[] = [];
  closed = false;
  #inbox: Array<Uint8Array | null> = [];
  #waiting: ((v: void) => void) | null = null;
  /** Largest number of bytes one write accepts (partial writes below the asked size). */
  maxWrite = Infinity;
  /** When set, writes wait for this promise (a client that does not read). */
  stall: Promise<void> | null = null;

  push(bytes: string | Uint8Array | null): void {
    this.#inbox.push(typeof bytes === "string" ? enc.encode(bytes) : bytes);
    this.#waiting?.();
    this.#waiting = null;
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#inbox.length === 0) {
      if (this.closed) throw new Deno.errors.BadResource("closed");
      await new Promise<void>((r) => this.#waiting = r);
    }
    const next = this.#inbox.shift()!;
    if (next === null) return null;
    const n = Math.min(p.length, next.length);
    p.set(next.subarray(0, n));
    if (n < next.length) this.#inbox.unshift(next.subarray(n));
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.stall) await this.stall;
    if (this.closed) throw new Deno.errors.BrokenPipe("closed");
    const n = Math.min(p.length, this.maxWrite);
    this.writes.push(p.slice(0, n));
    return n;
  }

  close(): void {
    this.closed = true;
    this.#waiting?.();
  }

  setNoDelay(): void {}

  text(): string {
    return this.writes.map((w) => dec.decode(w)).join("");
  }
}

function context(handler: Handler, over: Partial<typeof DEFAULTS> = {}): EngineContext {
  const config = { ...DEFAULTS, ...over };
  const state: ServerState = { shuttingDown: false, inflight: 0, requests: 0 };
  return {
    config,
    limits: limitsOf(config),
    handler,
    gatekeeper: createGatekeeper(config, state),
    logger: {
      accessEnabled: false,
      log() {},
      enabled: () => false,
      access() {},
      flush() {},
    } as unknown as EngineContext["logger"],
    clock: {
      now: () => Date.now(),
      recent: () => Date.now(),
      hold() {},
      release() {},
      date: () => "Thu, 01 Jan 2026 00:00:00 GMT",
    },
    state,
    scheme: "http",
  };
}

const hello: Handler = (ex: Exchange) => {
  const body = enc.encode(`hi ${ex.head.target}`);
  ex.res.head(200, [["content-length", String(body.length)]]);
  ex.res.write(body);
  ex.res.end();
};

function start(conn: FakeConn, ctx: EngineContext): { c: DenoConnection; done: Promise<void> } {
  const c = new DenoConnection(conn as unknown as Deno.Conn, ctx);
  return { c, done: c.run() };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
}

Deno.test("pipelined requests in one read are answered in order with one write", async () => {
  const conn = new FakeConn();
  const { done } = start(conn, context(hello));
  conn.push("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  await settle();
  assert.equal(conn.writes.length, 1);
  const text = conn.text();
  assert.ok(text.indexOf("hi /a") < text.indexOf("hi /b"), text);
  conn.push(null);
  await done;
  assert.ok(conn.closed);
});

Deno.test("partial writes are resumed until every byte is written, in order", async () => {
  const conn = new FakeConn();
  conn.maxWrite = 7;
  const { done } = start(conn, context(hello));
  conn.push(
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  await done;
  const text = conn.text();
  assert.ok(conn.writes.every((w) => w.length <= 7));
  assert.ok(text.endsWith("hi /b"), text);
  assert.equal(text.split("HTTP/1.1 200 OK").length, 3);
});

Deno.test("an idle keep-alive connection is closed silently at its timeout", async () => {
  const conn = new FakeConn();
  const { c, done } = start(conn, context(hello));
  await settle();
  c.checkTimeout(Date.now() + DEFAULTS.keepAliveTimeoutMs + 1);
  await done;
  assert.equal(conn.text(), "");
  assert.ok(conn.closed);
});

Deno.test("an incomplete request head gets 408 at the headers timeout", async () => {
  const conn = new FakeConn();
  const { c, done } = start(conn, context(hello));
  conn.push("GET / HTTP/1.1\r\nHo");
  await settle();
  c.checkTimeout(Date.now() + DEFAULTS.headersTimeoutMs + 1);
  await done;
  assert.ok(conn.text().startsWith("HTTP/1.1 408 Request Timeout\r\n"), conn.text());
});

Deno.test("a client that goes away while an async handler waits aborts the request signal", async () => {
  const conn = new FakeConn();
  let aborted = false;
  const gate = Promise.withResolvers<void>();
  const handler: Handler = async (ex) => {
    ex.res.signal.addEventListener("abort", () => {
      aborted = true;
      gate.resolve();
    });
    await gate.promise;
    ex.res.head(200, [["content-length", "0"]]);
    ex.res.end();
  };
  const { done } = start(conn, context(handler));
  conn.push("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await settle();
  conn.push(null); // EOF while the handler waits.
  await done;
  assert.ok(aborted);
});

Deno.test("past the high-water mark a streaming writer waits for the socket", async () => {
  const conn = new FakeConn();
  const release = Promise.withResolvers<void>();
  conn.stall = release.promise;
  let waited = 0;
  const handler: Handler = async (ex) => {
    ex.res.head(200, []);
    for (let i = 0; i < 8; i++) {
      const p = ex.res.write(new Uint8Array(4096).fill(0x61));
      if (p) {
        waited++;
        await p;
      }
    }
    await ex.res.end();
  };
  const { done } = start(conn, context(handler, { writeHighWaterBytes: 8192 }));
  conn.push("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  await settle();
  assert.ok(waited >= 1, "the writer was asked to wait");
  release.resolve();
  conn.stall = null;
  await done;
  assert.ok(conn.text().endsWith("0\r\n\r\n"));
});

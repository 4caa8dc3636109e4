/**
 * End-to-end WebSocket tests: lsbaws runs in-process with apps/websocket.ts (a plain
 * `Deno.upgradeWebSocket` echo app) and a misuse fixture; the clients are Deno's built-in
 * `WebSocket` and a raw TCP client (tests/_support/ws_raw.ts) for hand-made handshakes, pings,
 * fragments and invalid frames. Hono's helper (apps/frameworks/hono_ws.ts) is tested with the
 * other npm frameworks in tests/e2e/frameworks_test.ts, under the examples' own config.
 *
 * Handshake errors: the shim's `TypeError` escapes the app and lsbaws answers 400 with the reason
 * (`Sec-WebSocket-Version: 13` for a version mismatch); a 101 without the shim is a 500.
 */
import assert from "node:assert/strict";
import { startApp, type TestServer } from "../_support/server.ts";
import { RawWs } from "../_support/ws_raw.ts";
import { decodeClosePayload, type Frame, Opcode } from "../../server/http/websocket_frame.ts";
import { closeAll, liveWebSockets } from "../../server/websocket.ts";

const dec = new TextDecoder();

/** Runs `fn` against a fresh server, then waits for every server socket to close. */
async function withServer(spec: string, fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startApp(spec, {});
  try {
    await fn(srv);
  } finally {
    await until(() => liveWebSockets() === 0, 3000);
    await srv.close();
  }
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Opens a Deno WebSocket client and waits for `open`. */
async function open(
  srv: TestServer,
  path = "/",
  protocols?: string | string[],
): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${path}`, protocols);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`open failed: ${(e as ErrorEvent).message}`));
  });
  ws.onerror = null;
  return ws;
}

/** Collects messages; `next()` resolves with the next one. */
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

async function closeClient(ws: WebSocket, box: { closed: Promise<CloseEvent> }): Promise<void> {
  if (ws.readyState < WebSocket.CLOSING) ws.close();
  await box.closed;
}

function asFrame(f: Frame | "eof" | "timeout"): Frame {
  assert.ok(typeof f !== "string", `expected a frame, got ${f}`);
  return f as Frame;
}

/** Expects a close frame with `code` and then the server closing TCP. */
async function expectCloseAndEof(raw: RawWs, code: number): Promise<void> {
  let f = asFrame(await raw.nextFrame());
  while (f.opcode !== Opcode.CLOSE) f = asFrame(await raw.nextFrame());
  assert.equal(decodeClosePayload(f.payload).code, code);
  assert.ok(await raw.waitEof(), "server closed TCP");
  raw.close();
}

// --- Deno's WebSocket client -----------------------------------------------------------------

Deno.test("text echo, subprotocol negotiation, close 4000 with the reason echoed", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const ws = await open(srv, "/", ["chat", "echo"]);
    assert.equal(ws.protocol, "echo");
    assert.equal(ws.extensions, "");
    const box = inbox(ws);
    ws.send("hello");
    assert.equal(await box.next(), "hello");
    ws.send("héllo wörld ✓ 🎉");
    assert.equal(await box.next(), "héllo wörld ✓ 🎉");
    ws.send("");
    assert.equal(await box.next(), "");
    ws.close(4000, "bye now");
    const ev = await box.closed;
    assert.equal(ev.code, 4000);
    assert.equal(ev.reason, "bye now");
    assert.equal(ev.wasClean, true);
  });
});

Deno.test("binary echo: ArrayBuffer, Uint8Array view, empty", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const ws = await open(srv);
    const box = inbox(ws);
    ws.send(new Uint8Array([0, 1, 2, 255]).buffer);
    assert.deepEqual(
      new Uint8Array(await box.next() as ArrayBuffer),
      new Uint8Array([0, 1, 2, 255]),
    );
    const big = new Uint8Array([9, 8, 7, 6, 5]);
    ws.send(big.subarray(1, 4));
    assert.deepEqual(new Uint8Array(await box.next() as ArrayBuffer), new Uint8Array([8, 7, 6]));
    ws.send(new Uint8Array(0));
    assert.equal((await box.next() as ArrayBuffer).byteLength, 0);
    await closeClient(ws, box);
  });
});

Deno.test("1 MiB messages, binary and text", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const ws = await open(srv);
    const box = inbox(ws);
    const bin = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
    ws.send(bin);
    assert.deepEqual(new Uint8Array(await box.next() as ArrayBuffer), bin);
    const text = "0123456789abcdef".repeat(65536);
    ws.send(text);
    assert.equal(await box.next(), text);
    await closeClient(ws, box);
  });
});

Deno.test("many messages come back in order", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const ws = await open(srv);
    const box = inbox(ws);
    const n = 2000;
    for (let i = 0; i < n; i++) {
      if (i % 3 === 0) ws.send(new Uint8Array([i & 0xff, i >> 8]));
      else ws.send(`m${i}`);
    }
    for (let i = 0; i < n; i++) {
      const got = await box.next();
      if (i % 3 === 0) {
        assert.deepEqual(new Uint8Array(got as ArrayBuffer), new Uint8Array([i & 0xff, i >> 8]));
      } else assert.equal(got, `m${i}`);
    }
    await closeClient(ws, box);
  });
});

Deno.test("server-initiated close: code and reason reach the client, cleanly", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const ws = await open(srv);
    const box = inbox(ws);
    ws.send("!close 4001 server says bye");
    const ev = await box.closed;
    assert.equal(ev.code, 4001);
    assert.equal(ev.reason, "server says bye");
    assert.equal(ev.wasClean, true);
  });
});

Deno.test("a message over maxMessageBytes closes with 1009", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const ws = await open(srv, "/?max=1024");
    const box = inbox(ws);
    ws.send("x".repeat(1024));
    assert.equal(await box.next(), "x".repeat(1024));
    ws.send("x".repeat(1025));
    const ev = await box.closed;
    assert.equal(ev.code, 1009);
  });
});

Deno.test("graceful shutdown hook: closeAll() closes every socket with 1001", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const a = await open(srv);
    const b = await open(srv);
    const boxA = inbox(a);
    const boxB = inbox(b);
    await until(() => liveWebSockets() === 2, 2000);
    await closeAll();
    assert.equal((await boxA.closed).code, 1001);
    assert.equal((await boxB.closed).code, 1001);
    assert.equal(liveWebSockets(), 0);
  });
});

Deno.test("server shutdown closes open WebSockets with 1001 before finishing", async () => {
  const srv = await startApp("apps/websocket.ts", {});
  const ws = await open(srv);
  const box = inbox(ws);
  await until(() => liveWebSockets() === 1, 2000);
  await srv.server.shutdown(5000, 0);
  const ev = await box.closed;
  assert.equal(ev.code, 1001);
  assert.equal(liveWebSockets(), 0);
  await srv.close();
});

// --- raw TCP client --------------------------------------------------------------------------

Deno.test("raw handshake: 101 head, RFC 6455 accept key, no Content-Length", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const raw = await RawWs.connect(srv.port);
    assert.equal(raw.status, 101, raw.head);
    assert.match(raw.head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.equal(raw.header("upgrade"), "websocket");
    assert.equal(raw.header("connection"), "Upgrade");
    assert.equal(raw.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(raw.header("content-length"), undefined);
    assert.equal(raw.header("transfer-encoding"), undefined);
    assert.equal(raw.header("sec-websocket-protocol"), undefined);
    await raw.sendFrame(Opcode.CLOSE, new Uint8Array([0x03, 0xe8]));
    await expectCloseAndEof(raw, 1000);
  });
});

Deno.test("ping gets a pong with the same payload; an empty ping too", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const raw = await RawWs.connect(srv.port);
    await raw.sendFrame(Opcode.PING, "are you there?");
    const pong = asFrame(await raw.nextFrame());
    assert.equal(pong.opcode, Opcode.PONG);
    assert.equal(pong.masked, false);
    assert.equal(dec.decode(pong.payload), "are you there?");
    await raw.sendFrame(Opcode.PING);
    const empty = asFrame(await raw.nextFrame());
    assert.equal(empty.opcode, Opcode.PONG);
    assert.equal(empty.payload.length, 0);
    // An unsolicited pong is ignored.
    await raw.sendFrame(Opcode.PONG, "x");
    await raw.sendFrame(Opcode.TEXT, "after");
    assert.equal(dec.decode(asFrame(await raw.nextFrame()).payload), "after");
    await raw.sendFrame(Opcode.CLOSE);
    await expectCloseAndEof(raw, 1005);
  });
});

Deno.test("a text message in 3 fragments (with a ping between) is echoed as one", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const raw = await RawWs.connect(srv.port);
    await raw.sendFrame(Opcode.TEXT, "Hel", { fin: false });
    await raw.sendFrame(Opcode.CONTINUATION, "lo, ", { fin: false });
    await raw.sendFrame(Opcode.PING, "mid");
    await raw.sendFrame(Opcode.CONTINUATION, "world");
    const pong = asFrame(await raw.nextFrame());
    assert.equal(pong.opcode, Opcode.PONG);
    assert.equal(dec.decode(pong.payload), "mid");
    const msg = asFrame(await raw.nextFrame());
    assert.equal(msg.opcode, Opcode.TEXT);
    assert.equal(msg.fin, true);
    assert.equal(dec.decode(msg.payload), "Hello, world");
    await raw.sendFrame(Opcode.CLOSE, new Uint8Array([0x0f, 0xa0, 0x68, 0x69])); // 4000 "hi"
    let f = asFrame(await raw.nextFrame());
    assert.equal(f.opcode, Opcode.CLOSE);
    assert.deepEqual(decodeClosePayload(f.payload), { code: 4000, reason: "hi" });
    assert.ok(await raw.waitEof());
    raw.close();
    f = f as Frame;
  });
});

Deno.test("frames sent together with the handshake request are not lost", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const { encodeFrame } = await import("../../server/http/websocket_frame.ts");
    const mask = new Uint8Array([1, 2, 3, 4]);
    const extra = encodeFrame(Opcode.TEXT, new TextEncoder().encode("early"), { mask });
    const raw = await RawWs.connect(srv.port, { extra });
    assert.equal(raw.status, 101);
    assert.equal(dec.decode(asFrame(await raw.nextFrame()).payload), "early");
    await raw.sendFrame(Opcode.CLOSE);
    await expectCloseAndEof(raw, 1005);
  });
});

Deno.test("invalid frames get a 1002 close frame and a TCP close", async (t) => {
  await withServer("apps/websocket.ts", async (srv) => {
    const cases: Array<[string, (raw: RawWs) => Promise<void>, number]> = [
      ["unmasked frame", (r) => r.sendFrame(Opcode.TEXT, "hi", { masked: false }), 1002],
      ["reserved opcode 0x3", (r) => r.sendFrame(0x3, "hi"), 1002],
      ["reserved control opcode 0xB", (r) => r.sendFrame(0xb, "hi"), 1002],
      ["RSV1 set", (r) => r.sendFrame(Opcode.TEXT, "hi", { rsv: 4 }), 1002],
      ["continuation without start", (r) => r.sendFrame(Opcode.CONTINUATION, "hi"), 1002],
      ["fragmented ping", (r) => r.sendFrame(Opcode.PING, "hi", { fin: false }), 1002],
      ["ping over 125 bytes", (r) => r.sendFrame(Opcode.PING, new Uint8Array(126)), 1002],
      ["close with 1 byte", (r) => r.sendFrame(Opcode.CLOSE, new Uint8Array([3])), 1002],
      ["close code 1005", (r) => r.sendFrame(Opcode.CLOSE, new Uint8Array([3, 0xed])), 1002],
      ["invalid UTF-8 text", (r) => r.sendFrame(Opcode.TEXT, new Uint8Array([0xff, 0xfe])), 1007],
      [
        "new text inside a fragmented message",
        async (r) => {
          await r.sendFrame(Opcode.TEXT, "a", { fin: false });
          await r.sendFrame(Opcode.TEXT, "b");
        },
        1002,
      ],
      [
        "64-bit length declaring 20 MiB (default 16 MiB limit)",
        (r) => r.send(new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x01, 0x40, 0, 0, 1, 2, 3, 4])),
        1009,
      ],
    ];
    for (const [name, send, code] of cases) {
      await t.step(name, async () => {
        const raw = await RawWs.connect(srv.port);
        assert.equal(raw.status, 101);
        await send(raw);
        await expectCloseAndEof(raw, code);
      });
    }
  });
});

Deno.test("idle timeout: a ping at half the time, then close 1001 without a pong", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const raw = await RawWs.connect(srv.port, { path: "/?idle=0.4" });
    const started = Date.now();
    const ping = asFrame(await raw.nextFrame());
    assert.equal(ping.opcode, Opcode.PING);
    assert.ok(Date.now() - started >= 150, "ping after about half the idle time");
    const close = asFrame(await raw.nextFrame());
    assert.equal(close.opcode, Opcode.CLOSE);
    assert.deepEqual(decodeClosePayload(close.payload), {
      code: 1001,
      reason: "No response from ping frame.",
    });
    assert.ok(await raw.waitEof());
    raw.close();
  });
});

Deno.test("idle timeout: answering pings keeps the connection open", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const raw = await RawWs.connect(srv.port, { path: "/?idle=0.3" });
    for (let i = 0; i < 3; i++) {
      const ping = asFrame(await raw.nextFrame());
      assert.equal(ping.opcode, Opcode.PING);
      await raw.sendFrame(Opcode.PONG, ping.payload);
    }
    await raw.sendFrame(Opcode.TEXT, "still here");
    const f = asFrame(await raw.nextFrame());
    assert.equal(dec.decode(f.payload), "still here");
    await raw.sendFrame(Opcode.CLOSE);
    await expectCloseAndEof(raw, 1005);
  });
});

Deno.test("a client that vanishes without a close frame leaves nothing behind", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const raw = await RawWs.connect(srv.port);
    await raw.sendFrame(Opcode.TEXT, "bye");
    raw.close();
    await until(() => liveWebSockets() === 0, 2000);
  });
});

// --- handshake errors and misuse ---------------------------------------------------------------

function handshake(lines: string[]): string {
  return [...lines, "", ""].join("\r\n");
}

Deno.test("handshake errors are answered 400 with the reason (the shim's TypeError)", async (t) => {
  await withServer("apps/websocket.ts", async (srv) => {
    const host = `Host: 127.0.0.1:${srv.port}`;
    const base = ["Upgrade: websocket", "Connection: Upgrade"];
    const cases: Array<[string, string, RegExp, string | undefined]> = [
      [
        "missing key",
        handshake(["GET / HTTP/1.1", host, ...base, "Sec-WebSocket-Version: 13"]),
        /sec-websocket-key/,
        undefined,
      ],
      [
        "key not 16 bytes",
        handshake([
          "GET / HTTP/1.1",
          host,
          ...base,
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: c2hvcnQ=",
        ]),
        /16 bytes/,
        undefined,
      ],
      [
        "wrong version",
        handshake([
          "GET / HTTP/1.1",
          host,
          ...base,
          "Sec-WebSocket-Version: 8",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]),
        /version/,
        "13",
      ],
      [
        "POST",
        handshake([
          "POST / HTTP/1.1",
          host,
          ...base,
          "Content-Length: 0",
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]),
        /GET/,
        undefined,
      ],
      [
        "HTTP/1.0",
        handshake([
          "GET / HTTP/1.0",
          host,
          ...base,
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]),
        /HTTP\/1\.1/,
        undefined,
      ],
      [
        "Connection without upgrade",
        handshake([
          "GET / HTTP/1.1",
          host,
          "Upgrade: websocket",
          "Connection: keep-alive",
          "Sec-WebSocket-Version: 13",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]),
        /connection/,
        undefined,
      ],
    ];
    for (const [name, request, pattern, version] of cases) {
      await t.step(name, async () => {
        const raw = await RawWs.connect(srv.port, { request });
        assert.equal(raw.status, 400, raw.head);
        assert.equal(raw.header("sec-websocket-version"), version);
        const length = Number(raw.header("content-length"));
        let body = raw.pending;
        while (body.length < length) {
          const more = new Uint8Array(1024);
          const n = await raw.conn.read(more);
          if (n === null) break;
          body = new Uint8Array([...body, ...more.subarray(0, n)]);
        }
        assert.match(dec.decode(body), pattern);
        raw.close();
      });
    }
    assert.ok(srv.logs.some((l) => /websocket handshake refused/.test(l)), srv.logs.join(""));
  });
});

Deno.test("a plain GET gets the HTML page", async () => {
  await withServer("apps/websocket.ts", async (srv) => {
    const res = await fetch(`http://127.0.0.1:${srv.port}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await res.text(), /new WebSocket/);
  });
});

Deno.test("misuse: 101 without the shim is a 500; abandoned and thrown upgrades", async () => {
  await withServer("tests/e2e/fixtures/ws_misuse.ts", async (srv) => {
    const events = (globalThis as { wsMisuseEvents?: string[] }).wsMisuseEvents!;
    const bad = await RawWs.connect(srv.port, { path: "/bad101" });
    assert.equal(bad.status, 500, bad.head);
    bad.close();
    assert.ok(srv.logs.some((l) => /fetch-101/.test(l)), srv.logs.join(""));

    const abandoned = await RawWs.connect(srv.port, { path: "/abandon" });
    assert.equal(abandoned.status, 200, abandoned.head);
    abandoned.close();
    const thrown = await RawWs.connect(srv.port, { path: "/throw" });
    assert.equal(thrown.status, 500, thrown.head);
    thrown.close();
    const bogus = await RawWs.connect(srv.port, { path: "/bogus" });
    assert.equal(bogus.status, 500, bogus.head);
    bogus.close();
    assert.deepEqual(events, [
      "/abandon:error",
      "/abandon:close:1006:false",
      "/throw:error",
      "/throw:close:1006:false",
      "/bogus:error",
      "/bogus:close:1006:false",
    ]);

    const builtin = await RawWs.connect(srv.port, { path: "/builtin" });
    assert.equal(builtin.status, 200, builtin.head);
    builtin.close();
  });
});

Deno.test("the built-in Deno.upgradeWebSocket still serves Deno.serve requests", async () => {
  const { installUpgradeWebSocket } = await import("../../gateway/websocket.ts");
  installUpgradeWebSocket();
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`native:${e.data}`);
      return response;
    },
  );
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  await new Promise((r) => (ws.onopen = r));
  const box = inbox(ws);
  ws.send("x");
  assert.equal(await box.next(), "native:x");
  await closeClient(ws, box);
  ac.abort();
  await server.finished;
});

/**
 * Unit tests of server/websocket.ts (with its I/O and message assembly modules) over an in-memory
 * fake `Deno.Conn` (no network, no permissions): the WebSocket surface (constants, binaryType,
 * handler properties, send/close validation), the write queue (ordering with Blobs,
 * bufferedAmount), close before open, the close timeout, abandoned upgrades, a peer that vanishes
 * mid-write, and the process-wide defaults from the websocket settings.
 */
import assert from "node:assert/strict";
import {
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  type Frame,
  Opcode,
  parseFrame,
} from "../../server/http/websocket_frame.ts";
import { DEFAULTS } from "../../server/config.ts";
import { abandonSocket, attachSocket, ServerWebSocket } from "../../server/websocket.ts";
import { setWebSocketDefaults } from "../../server/websocket_options.ts";

const MASK = new Uint8Array([9, 8, 7, 6]);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** An in-memory connection: `push` feeds the server, `frames()` parses what it wrote. */
class FakeConn {
  written: Uint8Array[] = [];
  closed = false;
  writeClosed = false;
  failWrites: Error | null = null;
  #incoming: Uint8Array[] = [];
  #eof = false;
  #waiter: (() => void) | null = null;

  push(bytes: Uint8Array): void {
    this.#incoming.push(bytes);
    this.#wake();
  }
  end(): void {
    this.#eof = true;
    this.#wake();
  }
  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
  async read(buf: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.closed) throw new Deno.errors.BadResource("closed");
      const next = this.#incoming[0];
      if (next) {
        const n = Math.min(buf.length, next.length);
        buf.set(next.subarray(0, n));
        if (n === next.length) this.#incoming.shift();
        else this.#incoming[0] = next.subarray(n);
        return n;
      }
      if (this.#eof) return null;
      await new Promise<void>((r) => (this.#waiter = r));
    }
  }
  async write(bytes: Uint8Array): Promise<number> {
    await null;
    if (this.failWrites) throw this.failWrites;
    if (this.closed) throw new Deno.errors.BadResource("closed");
    this.written.push(bytes.slice());
    return bytes.length;
  }
  closeWrite(): Promise<void> {
    this.writeClosed = true;
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
    this.#wake();
  }
  frames(): Frame[] {
    const all = new Uint8Array(this.written.reduce((n, b) => n + b.length, 0));
    let o = 0;
    for (const b of this.written) {
      all.set(b, o);
      o += b.length;
    }
    const out: Frame[] = [];
    let off = 0;
    while (off < all.length) {
      const r = parseFrame(all.subarray(off), { expectMasked: false });
      if (r.kind === "partial") break;
      out.push(r.frame);
      off += r.consumed;
    }
    return out;
  }
}

function attach(ws: ServerWebSocket, conn: FakeConn, buffered = new Uint8Array(0)): void {
  attachSocket(ws, conn as unknown as Deno.Conn, buffered);
}

function nextEvent<T extends Event>(ws: EventTarget, type: string): Promise<T> {
  return new Promise((r) => ws.addEventListener(type, (e) => r(e as T), { once: true }));
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Closes `ws`, ends its connection and waits until it is CLOSED. */
async function closeBoth(ws: ServerWebSocket, conn: FakeConn): Promise<void> {
  ws.close();
  conn.end();
  await until(() => ws.readyState === ServerWebSocket.CLOSED);
}

/**
 * Counts the timers armed from now on (websocket.ts uses the global `setTimeout`); they still run.
 * `restore()` puts the real `setTimeout` back.
 */
function countTimers(): { armed: number; realSet: typeof setTimeout; restore(): void } {
  const realSet = globalThis.setTimeout;
  const counter = {
    armed: 0,
    realSet,
    restore: () => void (globalThis.setTimeout = realSet),
  };
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    counter.armed++;
    return realSet(fn, ms);
  }) as typeof setTimeout;
  return counter;
}

const opts = { idleTimeout: 0 };

Deno.test("surface: constants, defaults, binaryType, url and protocol", () => {
  const ws = new ServerWebSocket({ protocol: "chat", url: "ws://h/x", ...opts });
  assert.deepEqual(
    [
      ServerWebSocket.CONNECTING,
      ServerWebSocket.OPEN,
      ServerWebSocket.CLOSING,
      ServerWebSocket.CLOSED,
    ],
    [0, 1, 2, 3],
  );
  assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
  assert.equal(ws.readyState, 0);
  assert.equal(ws.binaryType, "arraybuffer");
  ws.binaryType = "blob";
  assert.equal(ws.binaryType, "blob");
  ws.binaryType = "nonsense" as BinaryType;
  assert.equal(ws.binaryType, "blob");
  assert.equal(ws.extensions, "");
  assert.equal(ws.protocol, "chat");
  assert.equal(ws.url, "ws://h/x");
  assert.equal(ws.bufferedAmount, 0);
  assert.ok(ws instanceof EventTarget);
});

Deno.test("send before open throws InvalidStateError; close validates code and reason", () => {
  const ws = new ServerWebSocket(opts);
  assert.throws(
    () => ws.send("x"),
    (e: unknown) => (e as DOMException).name === "InvalidStateError",
  );
  for (const code of [999, 1004, 1005, 1006, 1015, 2000, 2999, 5000]) {
    assert.throws(
      () => ws.close(code),
      (e: unknown) => (e as DOMException).name === "InvalidAccessError",
      String(code),
    );
  }
  assert.throws(
    () => ws.close(1000, "é".repeat(62)),
    (e: unknown) => (e as DOMException).name === "SyntaxError",
  );
  assert.equal(ws.readyState, 0, "failed close() calls change nothing");
  ws.close(1001, "é".repeat(61)); // 122 bytes: fine; a server may send 1001
  assert.equal(ws.readyState, 2);
  abandonSocket(ws, new Error("test over"));
});

Deno.test("handler properties: replace, clear, and coexist with listeners", async () => {
  const ws = new ServerWebSocket(opts);
  const calls: string[] = [];
  ws.onclose = () => calls.push("first");
  ws.onclose = () => calls.push("second");
  ws.addEventListener("close", () => calls.push("listener"));
  ws.onerror = () => calls.push("error");
  ws.onerror = null;
  assert.equal(ws.onerror, null);
  assert.equal(typeof ws.onclose, "function");
  abandonSocket(ws, new Error("gone"));
  await null;
  assert.deepEqual(calls, ["second", "listener"]);
  assert.equal(ws.readyState, 3);
});

Deno.test("abandonSocket: error, then close 1006 not clean", () => {
  const ws = new ServerWebSocket(opts);
  const seen: string[] = [];
  ws.onerror = (e) => seen.push(`error:${(e as ErrorEvent).message}`);
  ws.onclose = (e) => seen.push(`close:${e.code}:${e.wasClean}`);
  abandonSocket(ws, new Error("no 101"));
  assert.deepEqual(seen, ["error:Error: no 101", "close:1006:false"]);
  abandonSocket(ws, new Error("again"));
  assert.equal(seen.length, 2, "only once");
});

Deno.test("open, receive, and writes in send() order (Blobs included)", async () => {
  const conn = new FakeConn();
  const ws = new ServerWebSocket(opts);
  const opened = nextEvent(ws, "open");
  const hello = encodeFrame(Opcode.TEXT, enc.encode("early"), { mask: MASK });
  attach(ws, conn, hello);
  await opened;
  assert.equal(ws.readyState, 1);
  const msg = await nextEvent<MessageEvent>(ws, "message");
  assert.equal(msg.data, "early");
  ws.send("a");
  ws.send(new Blob([new Uint8Array([1, 2])]));
  ws.send(new Uint8Array([3]).buffer);
  ws.send(new Uint16Array([0x0504]));
  assert.ok(ws.bufferedAmount >= 5);
  await until(() => conn.frames().length === 4);
  assert.equal(ws.bufferedAmount, 0);
  const f = conn.frames();
  assert.deepEqual(f.map((x) => x.opcode), [
    Opcode.TEXT,
    Opcode.BINARY,
    Opcode.BINARY,
    Opcode.BINARY,
  ]);
  assert.equal(dec.decode(f[0].payload), "a");
  assert.deepEqual(f[1].payload, new Uint8Array([1, 2]));
  assert.deepEqual(f[2].payload, new Uint8Array([3]));
  assert.equal(f[3].payload.length, 2);
  // Peer closes: we answer and close TCP.
  const closed = nextEvent<CloseEvent>(ws, "close");
  conn.push(encodeFrame(Opcode.CLOSE, encodeClosePayload(4000, "bye"), { mask: MASK }));
  const ev = await closed;
  assert.deepEqual([ev.code, ev.reason, ev.wasClean], [4000, "bye", true]);
  assert.ok(conn.closed);
  const last = conn.frames().at(-1)!;
  assert.equal(last.opcode, Opcode.CLOSE);
  assert.deepEqual(decodeClosePayload(last.payload), { code: 4000, reason: "bye" });
  ws.send("ignored after close");
  assert.equal(ws.bufferedAmount, 0);
});

Deno.test("binaryType blob delivers a Blob", async () => {
  const conn = new FakeConn();
  const ws = new ServerWebSocket(opts);
  ws.binaryType = "blob";
  attach(ws, conn);
  const got = nextEvent<MessageEvent>(ws, "message");
  conn.push(encodeFrame(Opcode.BINARY, new Uint8Array([7, 7]), { mask: MASK }));
  const data = (await got).data;
  assert.ok(data instanceof Blob);
  assert.deepEqual(new Uint8Array(await data.arrayBuffer()), new Uint8Array([7, 7]));
  const closed = nextEvent(ws, "close");
  conn.end();
  await closed;
});

Deno.test("close() before the 101: close frame first, no open event", async () => {
  const conn = new FakeConn();
  const ws = new ServerWebSocket(opts);
  let opened = false;
  ws.onopen = () => (opened = true);
  ws.close(4002, "not today");
  attach(ws, conn);
  await until(() => conn.frames().length === 1);
  assert.deepEqual(decodeClosePayload(conn.frames()[0].payload), {
    code: 4002,
    reason: "not today",
  });
  const closed = nextEvent<CloseEvent>(ws, "close");
  conn.push(encodeFrame(Opcode.CLOSE, encodeClosePayload(4002, ""), { mask: MASK }));
  const ev = await closed;
  assert.equal(ev.code, 4002);
  assert.equal(ev.wasClean, true);
  assert.equal(opened, false);
});

Deno.test("close() without a reply closes after closeTimeout with 1006", async () => {
  const conn = new FakeConn();
  const ws = new ServerWebSocket({ ...opts, closeTimeout: 0.05 });
  attach(ws, conn);
  ws.close();
  assert.equal(ws.readyState, 2);
  const ev = await nextEvent<CloseEvent>(ws, "close");
  assert.deepEqual([ev.code, ev.wasClean], [1006, false]);
  assert.equal(conn.frames()[0].payload.length, 0, "close() without a code sends no status");
  assert.ok(conn.closed);
});

Deno.test("messages after close() are dropped; a protocol error lingers then closes", async () => {
  const conn = new FakeConn();
  const ws = new ServerWebSocket(opts);
  attach(ws, conn);
  const seen: string[] = [];
  ws.onmessage = (e) => seen.push(String(e.data));
  ws.onerror = () => seen.push("error");
  ws.close(1000);
  conn.push(encodeFrame(Opcode.TEXT, enc.encode("late"), { mask: MASK }));
  conn.push(encodeFrame(Opcode.TEXT, enc.encode("unmasked")));
  const ev = await nextEvent<CloseEvent>(ws, "close");
  assert.deepEqual(seen, ["error"]);
  assert.deepEqual([ev.code, ev.wasClean], [1002, false]);
  assert.ok(conn.writeClosed, "half-closed before closing");
  assert.ok(conn.closed);
});

Deno.test("a peer that vanishes mid-write gives close 1006 and no unhandled rejection", async () => {
  const conn = new FakeConn();
  const ws = new ServerWebSocket(opts);
  attach(ws, conn);
  conn.failWrites = new Deno.errors.BrokenPipe("gone");
  const closed = nextEvent<CloseEvent>(ws, "close");
  ws.send("into the void");
  const ev = await closed;
  assert.deepEqual([ev.code, ev.wasClean], [1006, false]);
  assert.equal(ws.readyState, 3);
  assert.equal(ws.bufferedAmount, 0);
});

Deno.test("setWebSocketDefaults: options left out take the websocket settings", async () => {
  setWebSocketDefaults({
    ...DEFAULTS,
    websocketMaxMessageBytes: 4,
    websocketCloseTimeoutMs: 50,
    websocketIdleTimeoutMs: 0,
  });
  try {
    // Message limit: 5 bytes over a default of 4 closes with 1009.
    const conn = new FakeConn();
    const ws = new ServerWebSocket();
    attach(ws, conn);
    const closed = nextEvent<CloseEvent>(ws, "close");
    conn.push(encodeFrame(Opcode.TEXT, enc.encode("12345"), { mask: MASK }));
    assert.deepEqual([(await closed).code, conn.frames()[0].opcode], [1009, Opcode.CLOSE]);
    // An explicit option still wins.
    const conn2 = new FakeConn();
    const ws2 = new ServerWebSocket({ maxMessageBytes: 16 });
    attach(ws2, conn2);
    const got = nextEvent<MessageEvent>(ws2, "message");
    conn2.push(encodeFrame(Opcode.TEXT, enc.encode("12345"), { mask: MASK }));
    assert.equal((await got).data, "12345");
    // Close timeout: no reply within the default 50 ms gives 1006.
    const started = Date.now();
    ws2.close();
    assert.equal((await nextEvent<CloseEvent>(ws2, "close")).code, 1006);
    assert.ok(Date.now() - started < 2000);
  } finally {
    setWebSocketDefaults(DEFAULTS);
  }
});

Deno.test("idle timer: frames only note the time; no timer is armed per frame", async () => {
  const timers = countTimers();
  const ws = new ServerWebSocket({ idleTimeout: 0.3 }); // ping after 150 ms of quiet
  const conn = new FakeConn();
  try {
    attach(ws, conn);
    let echoed = 0;
    ws.onmessage = () => echoed++;
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      conn.push(encodeFrame(Opcode.TEXT, enc.encode(`m${i}`), { mask: MASK }));
      await new Promise((r) => timers.realSet(r, 50)); // a frame every 50 ms: never quiet for 150
    }
    await until(() => echoed === 8);
    const pings = conn.frames().filter((f) => f.opcode === Opcode.PING).length;
    assert.equal(pings, 0, "no ping while frames keep coming");
    assert.equal(ws.readyState, ServerWebSocket.OPEN);
    // One timer at open, then one per ~150 ms of elapsed time; not one per frame.
    const bound = 2 + Math.ceil((Date.now() - started) / 150);
    assert.ok(
      timers.armed <= bound,
      `${timers.armed} timers armed for 8 frames (at most ${bound})`,
    );
    // Then quiet: the ping comes about half the idle time after the last frame.
    await until(() => conn.frames().some((f) => f.opcode === Opcode.PING), 1000);
  } finally {
    timers.restore();
    await closeBoth(ws, conn);
  }
});

Deno.test("attach arms no timer: the read loop starts a macrotask later through setImmediate", async () => {
  const timers = countTimers();
  const ws = new ServerWebSocket(opts); // no idle timer
  const conn = new FakeConn();
  let opened = false;
  let early = false;
  ws.onopen = () => opened = true;
  ws.onmessage = () => early ||= !opened;
  try {
    attach(ws, conn, encodeFrame(Opcode.TEXT, enc.encode("with the upgrade"), { mask: MASK }));
    const got = await nextEvent<MessageEvent>(ws, "message");
    assert.equal(got.data, "with the upgrade");
    assert.equal(early, false, "no message in the task that fired open");
    assert.equal(timers.armed, 0, "the transport armed a timer (a 0 ms timeout waits 1-2 ms)");
  } finally {
    timers.restore();
    await closeBoth(ws, conn);
  }
});

Deno.test("the receive buffer starts at the idle read size and grows once a read fills it", async () => {
  const sizes: number[] = [];
  const conn = new FakeConn();
  const read = conn.read.bind(conn);
  conn.read = (buf: Uint8Array) => {
    sizes.push(buf.length);
    return read(buf);
  };
  const ws = new ServerWebSocket(opts);
  const big = "x".repeat(10_000); // more than the idle buffer holds
  try {
    attach(ws, conn);
    const got = nextEvent<MessageEvent>(ws, "message");
    await until(() => sizes.length > 0);
    conn.push(encodeFrame(Opcode.TEXT, enc.encode(big), { mask: MASK }));
    assert.equal((await got).data, big);
    assert.equal(sizes[0], DEFAULTS.idleReadBufferBytes, "first read: the idle size, not 64 KiB");
    assert.ok(Math.max(...sizes) >= 64 * 1024, `reads grew: ${sizes.join(", ")}`);
  } finally {
    await closeBoth(ws, conn);
  }
});

Deno.test("idle timeouts: sockets share one timer; each still gets its ping at its own time", async () => {
  const timers = countTimers();
  const many: [ServerWebSocket, FakeConn][] = [];
  const quick = new ServerWebSocket({ idleTimeout: 0.2 });
  const slow = new ServerWebSocket({ idleTimeout: 0.6 });
  const qc = new FakeConn();
  const sc = new FakeConn();
  try {
    for (let i = 0; i < 50; i++) {
      const pair: [ServerWebSocket, FakeConn] = [
        new ServerWebSocket({ idleTimeout: 30 }),
        new FakeConn(),
      ];
      attach(...pair);
      many.push(pair);
    }
    assert.ok(timers.armed <= 2, `${timers.armed} timers for 50 sockets`);
    const started = Date.now();
    attach(slow, sc);
    attach(quick, qc);
    const ping = (c: FakeConn) => c.frames().some((f) => f.opcode === Opcode.PING);
    await until(() => ping(qc), 2000);
    const quickAt = Date.now() - started;
    assert.equal(ping(sc), false, "the 0.6 s socket is not pinged with the 0.2 s one");
    await until(() => ping(sc), 2000);
    const slowAt = Date.now() - started;
    assert.ok(quickAt >= 90 && slowAt >= 290, `pings at ${quickAt} and ${slowAt} ms`);
  } finally {
    timers.restore();
    const all: [ServerWebSocket, FakeConn][] = [...many, [quick, qc], [slow, sc]];
    await Promise.all(all.map(([ws, c]) => closeBoth(ws, c)));
  }
});

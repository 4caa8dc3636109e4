/**
 * The WebSocket fuzz oracle (`judgeWs` in tests/fuzz/ws_runner.ts) on hand-made outcomes: it must
 * flag every kind of wrong answer it claims to catch (a wrong close code, a masked or otherwise
 * malformed server frame, bytes after a Close, a missing or different echo, an unanswered case, a
 * TCP connection left open), and pass the right ones.
 */
import assert from "node:assert/strict";
import { CLOSE_BOUND_MS, judgeWs, type WsOutcome } from "../fuzz/ws_runner.ts";
import {
  Op,
  type ServerFrame,
  WS_ACCEPT,
  type WsCase,
  type WsVerdict,
} from "../fuzz/ws_generator.ts";

const enc = new TextEncoder();
const HEAD = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Accept: ${WS_ACCEPT}\r\n\r\n`;

/** A server frame, unmasked with a minimal length unless told otherwise. */
function sf(
  opcode: number,
  payload: Uint8Array | string = "",
  opts: { fin?: boolean; rsv?: number; mask?: boolean; len16?: boolean } = {},
): Uint8Array {
  const p = typeof payload === "string" ? enc.encode(payload) : payload;
  const head = [(opts.fin === false ? 0 : 0x80) | ((opts.rsv ?? 0) << 4) | opcode];
  const m = opts.mask ? 0x80 : 0;
  if (p.length < 126 && !opts.len16) head.push(m | p.length);
  else head.push(m | 126, p.length >> 8, p.length & 0xff);
  if (opts.mask) head.push(0, 0, 0, 0); // a zero key: the payload bytes stay as they are
  return new Uint8Array([...head, ...p]);
}

function close(code: number, reason = ""): Uint8Array {
  return new Uint8Array([code >> 8, code & 0xff, ...enc.encode(reason)]);
}

function reply(opcode: number, payload: Uint8Array | string): ServerFrame {
  return { opcode, payload: typeof payload === "string" ? enc.encode(payload) : payload };
}

function wsCase(verdict: WsVerdict, replies: ServerFrame[] = [], ending = "close"): WsCase {
  return {
    id: 0,
    kind: "test",
    mutations: [],
    base: "test",
    bytes: new Uint8Array(0),
    eager: false,
    delivery: "whole",
    cuts: [],
    ending: ending as WsCase["ending"],
    verdict,
    replies,
  };
}

/** An outcome: the 101 head (unless `head` is given), then `frames`; the server closed at 5 ms. */
function outcome(frames: Uint8Array[], o: Partial<WsOutcome> & { head?: string } = {}): WsOutcome {
  const head = enc.encode(o.head ?? HEAD);
  const size = frames.reduce((n, f) => n + f.length, head.length);
  const bytes = new Uint8Array(size);
  bytes.set(head);
  let at = head.length;
  for (const f of frames) {
    bytes.set(f, at);
    at += f.length;
  }
  const hasClose = frames.some((f) => (f[0] & 0x0f) === Op.CLOSE);
  return {
    bytes,
    closed: true,
    timedOut: false,
    closeAt: hasClose ? 4 : -1,
    eofAt: 5,
    halfCloseAt: -1,
    endAt: 6,
    ...o,
  };
}

function problems(c: WsCase, o: WsOutcome): string[] {
  return judgeWs(c, o).problems;
}

const ECHO = wsCase("echo", [
  reply(Op.TEXT, "hi"),
  reply(Op.PONG, "p"),
  reply(Op.BINARY, new Uint8Array([0, 255])),
  reply(Op.CLOSE, close(1000, "bye")),
]);
const ECHO_FRAMES = [
  sf(Op.TEXT, "hi"),
  sf(Op.PONG, "p"),
  sf(Op.BINARY, new Uint8Array([0, 255])),
  sf(Op.CLOSE, close(1000, "bye")),
];
const FAIL = wsCase("close:1002", [reply(Op.TEXT, "a")]);

Deno.test("websocket fuzz oracle: passes right answers", () => {
  assert.deepEqual(problems(ECHO, outcome(ECHO_FRAMES)), []);
  assert.deepEqual(problems(FAIL, outcome([sf(Op.TEXT, "a"), sf(Op.CLOSE, close(1002, "x"))])), []);
  // An echo case without a client Close: the client closed after the replies.
  const open = wsCase("echo", [reply(Op.TEXT, "a")]);
  assert.deepEqual(problems(open, outcome([sf(Op.TEXT, "a")], { closed: false, eofAt: -1 })), []);
  // After a half-close the server closes without a Close frame.
  const half = wsCase("echo", [reply(Op.TEXT, "a")], "halfclose");
  assert.deepEqual(problems(half, outcome([sf(Op.TEXT, "a")], { halfCloseAt: 3 })), []);
  assert.deepEqual(problems(wsCase("echo"), outcome([], { closed: false, eofAt: -1 })), []);
  // "any": only the general oracles; an empty Close (1005) is a valid server frame.
  assert.deepEqual(problems(wsCase("any"), outcome([sf(Op.CLOSE)])), []);
  assert.deepEqual(problems(wsCase("any"), outcome([])), []);
  // A fragmented server message and a 16-bit length are fine.
  const frag = [sf(Op.TEXT, "a", { fin: false }), sf(Op.PING), sf(Op.CONT, "b".repeat(200))];
  assert.deepEqual(problems(wsCase("any"), outcome(frag)), []);
  assert.equal(
    judgeWs(FAIL, outcome([sf(Op.TEXT, "a"), sf(Op.CLOSE, close(1002))])).closeCode,
    1002,
  );
});

Deno.test("websocket fuzz oracle: flags wrong answers", () => {
  const flagged = (c: WsCase, o: WsOutcome, what: string) =>
    assert.ok(problems(c, o).length > 0, `not flagged: ${what}`);
  const a = sf(Op.TEXT, "a");
  flagged(FAIL, outcome([a, sf(Op.CLOSE, close(1007))]), "a wrong close code");
  flagged(FAIL, outcome([a, sf(Op.CLOSE)]), "a Close without a code where 1002 is due");
  flagged(FAIL, outcome([a]), "no Close where 1002 is due");
  flagged(FAIL, outcome([sf(Op.CLOSE, close(1002))]), "a missing echo before the Close");
  flagged(FAIL, outcome([a, sf(Op.TEXT, "b"), sf(Op.CLOSE, close(1002))]), "an extra frame");
  flagged(ECHO, outcome(ECHO_FRAMES.slice(0, 3)), "a missing Close reply");
  flagged(ECHO, outcome([ECHO_FRAMES[0], ...ECHO_FRAMES.slice(2)]), "a missing pong");
  flagged(ECHO, outcome([sf(Op.TEXT, "hI"), ...ECHO_FRAMES.slice(1)]), "a different echo");
  flagged(ECHO, outcome([sf(Op.BINARY, "hi"), ...ECHO_FRAMES.slice(1)]), "text echoed as binary");
  flagged(
    ECHO,
    outcome([...ECHO_FRAMES.slice(0, 3), sf(Op.CLOSE, close(1001, "bye"))]),
    "a Close reply with another code",
  );
  flagged(
    wsCase("echo", [reply(Op.TEXT, "a")]),
    outcome([a, sf(Op.TEXT, "a")], { closed: false, eofAt: -1 }),
    "an echo too many",
  );
  flagged(
    wsCase("echo", [reply(Op.TEXT, "a")]),
    outcome([], { closed: false, eofAt: -1, timedOut: true }),
    "an unanswered case",
  );
  flagged(wsCase("any"), outcome([], { head: "" }), "no 101 at all");
  flagged(wsCase("any"), outcome([], { head: "HTTP/1.1 400 Bad Request\r\n\r\n" }), "a 400");
  flagged(wsCase("any"), outcome([], { head: HEAD.replace(WS_ACCEPT, "x") }), "a wrong accept");
  // Malformed server frames, whatever the verdict.
  const bad: Array<[string, Uint8Array]> = [
    ["a masked server frame", sf(Op.TEXT, "a", { mask: true })],
    ["RSV bits", sf(Op.TEXT, "a", { rsv: 4 })],
    ["a reserved opcode", sf(0x3, "a")],
    ["a fragmented control frame", sf(Op.PONG, "a", { fin: false })],
    ["a control frame over 125 bytes", sf(Op.PONG, "x".repeat(126))],
    ["a non-minimal length", sf(Op.TEXT, "a", { len16: true })],
    ["a 1-byte close payload", sf(Op.CLOSE, new Uint8Array([3]))],
    ["close code 1005 on the wire", sf(Op.CLOSE, close(1005))],
    ["a close reason that is not UTF-8", sf(Op.CLOSE, new Uint8Array([3, 0xe8, 0xff]))],
    ["text that is not UTF-8", sf(Op.TEXT, new Uint8Array([0xed, 0xa0, 0x80]))],
    ["a continuation without a start", sf(Op.CONT, "a")],
  ];
  for (const [what, f] of bad) flagged(wsCase("any"), outcome([f]), what);
  // After a Close: nothing more, and the TCP close within the bound.
  flagged(wsCase("any"), outcome([sf(Op.CLOSE, close(1002)), a]), "a frame after a Close");
  flagged(
    wsCase("any"),
    outcome([sf(Op.CLOSE, close(1002)), new Uint8Array([0x81])]),
    "a byte after a Close",
  );
  flagged(
    wsCase("any"),
    outcome([sf(Op.CLOSE, close(1002))], { closed: false, eofAt: -1, endAt: 4 + CLOSE_BOUND_MS }),
    "no TCP close after the Close",
  );
  flagged(
    wsCase("any"),
    outcome([sf(Op.CLOSE, close(1002))], { eofAt: 5 + CLOSE_BOUND_MS }),
    "a late TCP close after the Close",
  );
  flagged(
    wsCase("any", [], "halfclose"),
    outcome([], { closed: false, eofAt: -1, halfCloseAt: 10, endAt: 10 + CLOSE_BOUND_MS }),
    "no TCP close after the client's half-close",
  );
  flagged(wsCase("any"), outcome([sf(Op.TEXT, "abc").subarray(0, 3)]), "a cut frame before EOF");
});

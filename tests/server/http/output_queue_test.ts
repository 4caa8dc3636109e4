/**
 * The output queue: latin-1 encoding, small pieces copied and large ones referenced, marks, and
 * response heads written straight into it.
 */
import assert from "node:assert/strict";
import { COPY_LIMIT, OutputQueue } from "../../../server/http/output_queue.ts";
import {
  encodeResponseHead,
  headerKind,
  KIND_CONTENT_LENGTH,
  KIND_DATE,
  KIND_HOP_BY_HOP,
  KIND_INVALID,
  KIND_OTHER,
  KIND_SERVER,
  writeResponseHead,
} from "../../../server/http/response_head.ts";

function drain(q: OutputQueue): number[] {
  const out: number[] = [];
  for (const piece of q.take()) out.push(...piece);
  return out;
}

Deno.test("pushAscii writes code units 0-255 as bytes and anything higher as '?'", () => {
  const q = new OutputQueue();
  q.pushAscii("A\u00e9\u00ff\u0100\u20ac\r\n");
  assert.deepStrictEqual(drain(q), [0x41, 0xe9, 0xff, 0x3f, 0x3f, 0x0d, 0x0a]);
});

Deno.test("pushBytes copies small chunks (so the caller may reuse them) and keeps order", () => {
  const q = new OutputQueue();
  const small = new Uint8Array([1, 2, 3]);
  const mid = new Uint8Array(100).fill(7);
  q.pushBytes(small);
  q.pushBytes(mid);
  q.pushAscii("x");
  small[0] = 99;
  mid[0] = 99;
  const got = drain(q);
  assert.deepStrictEqual(got.slice(0, 3), [1, 2, 3]);
  assert.equal(got[3], 7);
  assert.equal(got.length, 3 + 100 + 1);
  assert.equal(got[103], 0x78);
});

Deno.test("pushBytes queues chunks of COPY_LIMIT or more by reference, in order", () => {
  const q = new OutputQueue();
  const big = new Uint8Array(COPY_LIMIT).fill(5);
  q.pushAscii("ab");
  q.pushBytes(big);
  q.pushAscii("cd");
  const pieces = q.take();
  assert.equal(pieces.length, 3);
  assert.strictEqual(pieces[1], big);
  assert.deepStrictEqual([...pieces[0], ...pieces[2]], [0x61, 0x62, 0x63, 0x64]);
});

Deno.test("truncate drops what was queued after a mark", () => {
  const q = new OutputQueue();
  q.pushAscii("keep");
  const m = q.mark();
  q.pushAscii("drop");
  q.pushBytes(new Uint8Array(COPY_LIMIT));
  q.truncate(m);
  assert.equal(q.size, 4);
  assert.equal(String.fromCharCode(...drain(q)), "keep");
});

Deno.test("truncate keeps earlier bytes when later pushes crossed a segment boundary", () => {
  const q = new OutputQueue();
  const first = "r1".repeat(3000); // 6000 bytes: the first pipelined response
  q.pushAscii(first);
  const m = q.mark();
  for (let i = 0; i < 40; i++) q.pushAscii("y".repeat(1000)); // spills into new segments
  q.truncate(m);
  assert.equal(q.size, first.length);
  q.pushAscii("!");
  assert.equal(String.fromCharCode(...drain(q)), first + "!");
});

Deno.test("mark(into) fills the caller's record; truncate to it works like a fresh mark", () => {
  const q = new OutputQueue();
  const slot = { pieces: -1, seg: null, start: -1, len: -1, size: -1 };
  q.pushAscii("keep");
  assert.strictEqual(q.mark(slot), slot);
  assert.equal(slot.size, 4);
  q.pushAscii("drop");
  q.pushBytes(new Uint8Array(COPY_LIMIT));
  q.truncate(slot);
  assert.equal(String.fromCharCode(...drain(q)), "keep");
});

Deno.test("take alternates two lists; release forgets the written one (no large body kept)", () => {
  const q = new OutputQueue();
  const big = new Uint8Array(COPY_LIMIT).fill(9);
  q.pushAscii("a");
  const first = q.take();
  assert.deepStrictEqual(first.map((p) => [...p]), [[0x61]]);
  q.pushBytes(big);
  const second = q.take();
  assert.notStrictEqual(second, first);
  assert.strictEqual(second[0], big);
  assert.equal(first.length, 0); // valid only until the next take(), which emptied it for reuse
  q.pushAscii("b");
  const third = q.take();
  assert.strictEqual(third, first); // reused, refilled
  assert.deepStrictEqual(third.map((p) => [...p]), [[0x62]]);
  q.pushBytes(big);
  const fourth = q.take();
  assert.strictEqual(fourth, second);
  assert.strictEqual(fourth[0], big);
  q.release(); // written: the list that held `big` is emptied
  assert.equal(fourth.length, 0);
});

Deno.test("writeResponseHead into a queue gives exactly encodeResponseHead's bytes and length", () => {
  const cases = [
    { headers: [["Content-Type", "text/plain"], ["Content-Length", "5"]] as [string, string][] },
    { headers: [["date", "x"]] as [string, string][], connection: "close" as const },
    { headers: [["SERVER", "mine"]] as [string, string][], framing: "chunked" as const },
    { headers: [["X-Caf\u00e9", "\u00e9t\u00e9"]] as [string, string][], reason: "Fine" },
    { headers: [] as [string, string][], status: 404, connection: "keep-alive" as const },
    { headers: [] as [string, string][], status: 101, extra: "Upgrade: websocket\r\n" },
    { headers: [] as [string, string][], server: "" },
  ];
  for (const c of cases) {
    const p = {
      status: 200,
      date: "Sun, 06 Nov 1994 08:49:37 GMT",
      server: "lsbaws",
      framing: "length" as const,
      connection: "" as const,
      ...c,
    };
    const q = new OutputQueue();
    const n = writeResponseHead(q, p);
    const got = drain(q);
    const want = [...encodeResponseHead(p)];
    assert.deepStrictEqual(got, want, JSON.stringify(c));
    assert.equal(n, want.length);
  }
});

Deno.test("headerKind classifies names case-insensitively, the same on a cache hit", () => {
  for (let round = 0; round < 2; round++) {
    assert.equal(headerKind("Content-Length"), KIND_CONTENT_LENGTH);
    assert.equal(headerKind("content-LENGTH"), KIND_CONTENT_LENGTH);
    assert.equal(headerKind("Date"), KIND_DATE);
    assert.equal(headerKind("SERVER"), KIND_SERVER);
    assert.equal(headerKind("Transfer-Encoding"), KIND_HOP_BY_HOP);
    assert.equal(headerKind("Connection"), KIND_HOP_BY_HOP);
    assert.equal(headerKind("X-Thing"), KIND_OTHER);
    assert.equal(headerKind("Bad Name"), KIND_INVALID);
    assert.equal(headerKind(""), KIND_INVALID);
    assert.equal(headerKind("Caf\u00e9"), KIND_INVALID);
  }
});

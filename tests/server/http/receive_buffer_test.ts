/**
 * ReceiveBuffer: cursors, compaction, growth, the size cap, and use with parseRequestHead.
 */
import assert from "node:assert/strict";
import { ReceiveBuffer } from "../../../server/http/receive_buffer.ts";
import { parseRequestHead } from "../../../server/http/request_head.ts";
import { DEFAULT_LIMITS, latin1, mulberry32 } from "./_helpers.ts";

/** Writes `bytes` the way the I/O layer does: into writable(), then commit(). */
function put(rb: ReceiveBuffer, bytes: Uint8Array): number {
  const w = rb.writable();
  const n = Math.min(w.length, bytes.length);
  w.set(bytes.subarray(0, n));
  rb.commit(n);
  return n;
}

Deno.test("starts empty with at least readSize writable bytes", () => {
  const rb = new ReceiveBuffer(16, 64);
  assert.equal(rb.length, 0);
  assert.equal(rb.view().length, 0);
  assert.ok(rb.writable().length >= 16);
});

Deno.test("shows committed bytes in view() and drops consumed ones from the front", () => {
  const rb = new ReceiveBuffer(16, 64);
  put(rb, latin1("hello world"));
  assert.equal(rb.length, 11);
  assert.deepStrictEqual(rb.view(), latin1("hello world"));
  rb.consume(6);
  assert.equal(rb.length, 5);
  assert.deepStrictEqual(rb.view(), latin1("world"));
});

Deno.test("resets the cursors when everything is consumed", () => {
  const rb = new ReceiveBuffer(8, 8);
  put(rb, latin1("abcdefgh"));
  rb.consume(8);
  assert.equal(rb.length, 0);
  assert.equal(rb.writable().length, 8, "the whole storage is writable again");
});

Deno.test("compacts the unconsumed tail instead of growing when that makes room", () => {
  const rb = new ReceiveBuffer(8, 8);
  put(rb, latin1("abcdefgh"));
  rb.consume(5);
  const w = rb.writable();
  assert.equal(w.length, 5);
  assert.deepStrictEqual(rb.view(), latin1("fgh"));
  put(rb, latin1("ijklm"));
  assert.deepStrictEqual(rb.view(), latin1("fghijklm"));
});

Deno.test("compact() moves the unconsumed bytes to the front and keeps them", () => {
  const rb = new ReceiveBuffer(8, 32);
  put(rb, latin1("0123456"));
  rb.consume(3);
  rb.compact();
  assert.deepStrictEqual(rb.view(), latin1("3456"));
  rb.compact();
  assert.deepStrictEqual(rb.view(), latin1("3456"));
});

Deno.test("grows by doubling while keeping its content, up to maxBytes", () => {
  const rb = new ReceiveBuffer(4, 20);
  let all = "";
  for (let i = 0; i < 5; i++) {
    const chunk = `${i}${i}${i}${i}`;
    assert.equal(put(rb, latin1(chunk)), 4);
    all += chunk;
    assert.deepStrictEqual(rb.view(), latin1(all));
  }
  assert.equal(rb.length, 20);
  assert.equal(rb.writable().length, 0, "full at the cap: the caller must treat it as a limit");
});

Deno.test("returns a short writable view near the cap", () => {
  const rb = new ReceiveBuffer(8, 12);
  put(rb, latin1("12345678"));
  put(rb, latin1("9a"));
  const w = rb.writable();
  assert.equal(w.length, 2);
});

Deno.test("never has less storage than readSize even if maxBytes is smaller", () => {
  const rb = new ReceiveBuffer(16, 4);
  assert.equal(rb.writable().length, 16);
});

Deno.test("keeps content intact through random reads, consumes and compactions", () => {
  const rand = mulberry32(7);
  const rb = new ReceiveBuffer(16, 1 << 16);
  let model: number[] = [];
  let next = 0;
  for (let step = 0; step < 2000; step++) {
    const op = rand();
    if (op < 0.5) {
      const w = rb.writable();
      const n = Math.min(w.length, Math.floor(rand() * 20));
      for (let i = 0; i < n; i++) {
        w[i] = next & 0xff;
        model.push(next & 0xff);
        next++;
      }
      rb.commit(n);
    } else if (op < 0.9) {
      const n = Math.floor(rand() * (model.length + 1));
      rb.consume(n);
      model = model.slice(n);
    } else rb.compact();
    assert.equal(rb.length, model.length);
    assert.deepStrictEqual(Array.from(rb.view()), model, `step ${step}`);
  }
});

Deno.test("feeds pipelined heads to parseRequestHead byte by byte, resuming with scanned", () => {
  const heads = ["GET /1 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"];
  const wire = latin1(heads.join(""));
  const rb = new ReceiveBuffer(4, 1024);
  const targets: string[] = [];
  let scanned = 0;
  for (const byte of wire) {
    put(rb, Uint8Array.of(byte));
    const r = parseRequestHead(rb.view(), DEFAULT_LIMITS, scanned);
    if (r.kind === "partial") {
      scanned = r.scanned;
      continue;
    }
    targets.push(r.head.target);
    rb.consume(r.consumed);
    scanned = 0;
  }
  assert.deepStrictEqual(targets, ["/1", "/2"]);
  assert.equal(rb.length, 0);
});

Deno.test("release refuses while a view is lent, then empties the buffer for good", () => {
  const rb = new ReceiveBuffer(64, 256, 16);
  const w = rb.writable();
  w.set([1, 2, 3]);
  assert.equal(rb.release(), false);
  rb.commit(3);
  assert.equal(rb.length, 3);
  assert.equal(rb.release(), true);
  assert.equal(rb.length, 0);
  assert.equal(rb.view().length, 0);
  assert.equal(rb.writable().length, 0);
  rb.commit(0);
  rb.shrink();
  assert.equal(rb.writable().length, 0);
  assert.equal(rb.release(), true);
});

Deno.test("pooled storage never shows a previous connection's bytes", () => {
  const first = new ReceiveBuffer(64, 256, 16);
  const w = first.writable();
  w.fill(0x41);
  first.commit(w.length);
  first.consume(first.length);
  assert.equal(first.release(), true);
  for (let i = 0; i < 3; i++) {
    const next = new ReceiveBuffer(64, 256, 16);
    assert.equal(next.length, 0);
    const v = next.writable();
    v.set([7, 8]);
    next.commit(2);
    assert.deepStrictEqual([...next.view()], [7, 8]);
    assert.equal(next.release(), true);
  }
});

Deno.test("reuses a view while its window is unchanged and makes a new one when it moves", () => {
  const rb = new ReceiveBuffer(16, 64);
  put(rb, latin1("GET / HTTP/1.1\r\n"));
  const v = rb.view();
  assert.strictEqual(rb.view(), v, "same window, same view");
  rb.consume(4);
  const moved = rb.view();
  assert.notStrictEqual(moved, v);
  assert.deepStrictEqual(moved, latin1("/ HTTP/1.1\r\n"));
  rb.consume(moved.length);
  // Every request of a keep-alive connection reads into the same free region.
  const w = rb.writable();
  rb.commit(0);
  assert.strictEqual(rb.writable(), w, "same free region, same view");
  rb.commit(0);
  put(rb, latin1("abc"));
  assert.notStrictEqual(rb.writable(), w, "the free region moved");
  rb.commit(0);
  assert.deepStrictEqual(rb.view(), latin1("abc"));
});

Deno.test("views of replaced storage are never handed out again (growth, shrink, release)", () => {
  const rb = new ReceiveBuffer(8, 64, 4);
  const idle = rb.writable();
  assert.equal(idle.length, 4);
  idle.set([1, 2, 3, 4]);
  rb.commit(4); // a full read: the next read asks for readSize, so the storage grows
  const grown = rb.writable();
  assert.notStrictEqual(grown.buffer, idle.buffer, "growth replaced the storage");
  grown.set([5, 6]);
  rb.commit(2);
  assert.deepStrictEqual([...rb.view()], [1, 2, 3, 4, 5, 6]);
  rb.consume(6);
  const emptyGrown = rb.writable(); // the next read's view, at the same offset (0) as after shrink
  rb.commit(0);
  assert.strictEqual(emptyGrown.buffer, grown.buffer);
  rb.shrink(); // idle again: back to idle-sized storage
  const after = rb.writable();
  assert.notStrictEqual(after.buffer, grown.buffer, "no view of the grown storage survives");
  after.set([9]);
  rb.commit(1);
  assert.deepStrictEqual([...rb.view()], [9]);
  rb.consume(1);
  assert.equal(rb.release(), true);
  assert.equal(rb.view().length, 0);
  assert.equal(rb.writable().length, 0, "a released buffer offers no view of pooled storage");
});

/**
 * A bounded fuzz of permessage-deflate through the real server (apps/websocket.ts, message limit
 * 20,000 bytes): 250 seeded cases, each a connection that offers compression and sends 1-4
 * messages, compressed with context takeover by a streaming zlib deflater (as browsers do),
 * sometimes plain, sometimes fragmented, text or binary, some over the limit once inflated; the
 * last compressed message is often damaged (bytes flipped, truncated, extended or replaced).
 *
 * The oracle is an independent decompressor: one streaming zlib inflater fed the same compressed
 * messages in order, which holds the LZ77 window the way a long-lived stream does (the server
 * rebuilds it per message). For each message it decides the one right answer: the echo of what
 * it inflates to, or a close with 1002 (it cannot be inflated), 1009 (over the limit on the wire
 * or once inflated) or 1007 (text that is not UTF-8); a case ends at its first close. After the last case the server must
 * have no socket left open and still echo. `LSBAWS_FUZZ_SEED` changes the seed (default 1).
 * Runs on both socket backends (`LSBAWS_TEST_IO`).
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { startApp } from "../_support/server.ts";
import { RawWs } from "../_support/ws_raw.ts";
import { inflateMessage } from "../_support/deflate.ts";
import { decodeClosePayload, type Frame, Opcode } from "../../server/http/websocket_frame.ts";
import { liveWebSockets } from "../../server/websocket.ts";
import { caseSeed, Rng } from "../fuzz/common.ts";

const CASES = 250;
const MAX = 20_000;
const SEED = Number(Deno.env.get("LSBAWS_FUZZ_SEED") ?? 1);
const OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";
const TAIL = new Uint8Array([0, 0, 0xff, 0xff]);
const enc = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * A zlib stream flushed once per call: its output, or `{ failed }` with the bytes it produced
 * before it failed (then and from then on).
 */
function zstream(
  stream: zlib.DeflateRaw | zlib.InflateRaw,
): (input: Uint8Array) => Promise<Uint8Array | { failed: number }> {
  const chunks: Uint8Array[] = [];
  let failed = false;
  stream.on("data", (c: Uint8Array) => chunks.push(c));
  stream.on("error", () => (failed = true));
  return async (input) => {
    if (failed) return { failed: 0 };
    const failure = new Promise<void>((r) => stream.once("error", () => r()));
    stream.write(input);
    await Promise.race([
      new Promise<void>((r) => stream.flush(zlib.constants.Z_SYNC_FLUSH, () => r())),
      failure,
    ]);
    const out = new Uint8Array(Buffer.concat(chunks.splice(0)));
    return failed ? { failed: out.length } : out;
  };
}

/** One message of a case: what is sent, and how. */
interface Message {
  op: number;
  compressed: boolean;
  payload: Uint8Array; // as sent (compressed, maybe damaged)
  plain: Uint8Array; // before compression (for plain messages, what is sent)
  fragments: number;
}

function content(r: Rng, binary: boolean): Uint8Array {
  const len = r.pick([0, r.int(64), r.int(2000), r.int(MAX), MAX + 1 + r.int(10_000)]);
  if (binary && r.chance(0.4)) return r.bytes(len);
  const words = ["lorem", "ipsum", "dolor", "é", "✓", "sit", "amet", "\n"];
  let s = "";
  while (s.length < len) s += r.pick(words) + " ";
  return enc.encode(s).slice(0, len);
}

function damage(r: Rng, z: Uint8Array): Uint8Array {
  const out = z.slice();
  switch (r.int(4)) {
    case 0:
      for (let i = 0; i < 1 + r.int(3) && out.length > 0; i++) {
        out[r.int(out.length)] ^= 1 << r.int(8);
      }
      return out;
    case 1:
      return out.subarray(0, r.int(out.length));
    case 2:
      return join(out, r.bytes(1 + r.int(8)));
    default:
      return r.bytes(1 + r.int(64));
  }
}

async function buildCase(r: Rng): Promise<Message[]> {
  const compress = zstream(zlib.createDeflateRaw({ windowBits: 15 }));
  const messages: Message[] = [];
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const binary = r.chance(0.4);
    const plain = content(r, binary);
    const compressed = r.chance(0.85);
    let payload = plain;
    if (compressed) {
      const z = await compress(plain);
      assert.ok(z instanceof Uint8Array);
      payload = z.subarray(0, z.length - 4);
      if (i === n - 1 && r.chance(0.5)) payload = damage(r, payload);
    }
    const op = binary ? Opcode.BINARY : Opcode.TEXT;
    messages.push({ op, compressed, payload, plain, fragments: 1 + r.int(3) });
  }
  return messages;
}

/** The echo owed, or the close codes allowed (one, except where two violations race). */
type Expect = { echo: Uint8Array } | { close: number[] };

async function frame(raw: RawWs, what: string): Promise<Frame> {
  const f = await raw.nextFrame(5000);
  assert.ok(typeof f === "object", `${what}: expected a frame, got ${f}`);
  return f;
}

async function runCase(port: number, id: number, tally: Map<string, number>): Promise<void> {
  const r = new Rng(caseSeed(SEED, id));
  const messages = await buildCase(r);
  const reference = zstream(zlib.createInflateRaw({ windowBits: 15 }));
  const raw = await RawWs.connect(port, { path: `/?max=${MAX}`, headers: [OFFER] });
  try {
    assert.equal(raw.status, 101);
    for (const [i, m] of messages.entries()) {
      const what = `seed ${SEED} case ${id} message ${i}`;
      let expect: Expect;
      if (!m.compressed) {
        expect = m.plain.length > MAX ? { close: [1009] } : { echo: m.plain };
      } else if (m.payload.length > MAX) {
        // The limit holds on the wire too (as in Python's websockets): 1009 from the header.
        expect = { close: [1009] };
      } else {
        const out = await reference(join(m.payload, TAIL));
        // Corrupt data found after the limit was passed may be reported either way: the server
        // stops inflating at the limit.
        expect = !(out instanceof Uint8Array)
          ? { close: out.failed > MAX ? [1009, 1002] : [1002] }
          : out.length > MAX
          ? { close: [1009] }
          : { echo: out };
      }
      if ("echo" in expect && m.op === Opcode.TEXT) {
        try {
          strict.decode(expect.echo);
        } catch {
          expect = { close: [1007] };
        }
      }
      const cuts = [0];
      for (let f = 1; f < m.fragments; f++) {
        cuts.push(Math.floor((m.payload.length * f) / m.fragments));
      }
      cuts.push(m.payload.length);
      for (let f = 0; f + 1 < cuts.length; f++) {
        await raw.sendFrame(
          f === 0 ? m.op : Opcode.CONTINUATION,
          m.payload.subarray(cuts[f], cuts[f + 1]),
          {
            fin: f + 2 === cuts.length,
            rsv: f === 0 && m.compressed ? 4 : 0,
          },
        );
      }
      const got = await frame(raw, what);
      if ("close" in expect) {
        assert.equal(got.opcode, Opcode.CLOSE, `${what}: expected close ${expect.close}`);
        const code = decodeClosePayload(got.payload).code;
        assert.ok(expect.close.includes(code), `${what}: close ${code}, expected ${expect.close}`);
        tally.set(`close:${code}`, (tally.get(`close:${code}`) ?? 0) + 1);
        return;
      }
      assert.equal(got.opcode, m.op, what);
      const data = got.compressed ? inflateMessage(got.payload) : got.payload;
      assert.deepEqual(data, expect.echo, what);
      tally.set(
        m.compressed ? "echo:compressed" : "echo:plain",
        (tally.get(m.compressed ? "echo:compressed" : "echo:plain") ?? 0) + 1,
      );
    }
    await raw.sendFrame(Opcode.CLOSE, new Uint8Array([0x03, 0xe8]));
    const bye = await frame(raw, `case ${id} close`);
    assert.equal(bye.opcode, Opcode.CLOSE);
  } finally {
    raw.close();
  }
}

Deno.test(`permessage-deflate fuzz: ${CASES} cases against an independent streaming decompressor`, async () => {
  const srv = await startApp("apps/websocket.ts", {});
  const tally = new Map<string, number>();
  try {
    for (let id = 0; id < CASES; id++) await runCase(srv.port, id, tally);
    const deadline = Date.now() + 3000;
    while (liveWebSockets() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(liveWebSockets(), 0, "every socket closed");
    const raw = await RawWs.connect(srv.port, { headers: [OFFER] });
    await raw.sendFrame(Opcode.TEXT, "still here");
    assert.equal(new TextDecoder().decode((await frame(raw, "after")).payload), "still here");
    raw.close();
  } finally {
    await srv.close();
  }
  const summary = [...tally].sort().map(([k, v]) => `${k} ${v}`).join(", ");
  Deno.stderr.writeSync(enc.encode(`deflate fuzz (seed ${SEED}): ${summary}\n`));
  for (const k of ["echo:compressed", "echo:plain", "close:1002", "close:1009", "close:1007"]) {
    assert.ok((tally.get(k) ?? 0) >= 3, `few ${k}: ${summary}`);
  }
});

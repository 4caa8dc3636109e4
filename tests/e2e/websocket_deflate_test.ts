/**
 * permessage-deflate end to end (apps/websocket.ts, the echo app, unchanged), with a raw client
 * that compresses as browsers do (one deflate stream with context takeover, flushed per message):
 * the handshake's answer, compressed text and binary echoed compressed, a compressed message
 * split over fragments, plain messages on a compressing socket, a decompression bomb (1009),
 * undecodable data (1002), and the setting turned off (no extension; RSV1 is then a 1002). Runs
 * on both socket backends (`LSBAWS_TEST_IO`).
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { startApp, type TestServer } from "../_support/server.ts";
import { RawWs } from "../_support/ws_raw.ts";
import { inflateMessage, streamingDeflater } from "../_support/deflate.ts";
import { decodeClosePayload, type Frame, Opcode } from "../../server/http/websocket_frame.ts";
import { liveWebSockets } from "../../server/websocket.ts";
import { setWebSocketDefaults } from "../../server/websocket_options.ts";
import { DEFAULTS, parseCli } from "../../server/config.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

async function withServer(fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startApp("apps/websocket.ts", {});
  try {
    await fn(srv);
  } finally {
    const deadline = Date.now() + 3000;
    while (liveWebSockets() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await srv.close();
  }
}

async function frame(raw: RawWs): Promise<Frame> {
  const f = await raw.nextFrame(5000);
  assert.ok(typeof f === "object", `expected a frame, got ${f}`);
  return f;
}

/** The next message's bytes: inflated when it came compressed. */
async function echoed(raw: RawWs): Promise<{ data: Uint8Array; compressed: boolean; op: number }> {
  const f = await frame(raw);
  return {
    data: f.compressed ? inflateMessage(f.payload) : f.payload,
    compressed: f.compressed === true,
    op: f.opcode,
  };
}

Deno.test("handshake: permessage-deflate offered by a browser is accepted, other offers not", async () => {
  await withServer(async (srv) => {
    const raw = await RawWs.connect(srv.port, { headers: [OFFER] });
    assert.equal(raw.status, 101);
    assert.equal(
      raw.header("sec-websocket-extensions"),
      "permessage-deflate; server_no_context_takeover",
    );
    raw.close();
    const other = await RawWs.connect(srv.port, {
      headers: ["Sec-WebSocket-Extensions: permessage-deflate; bogus, x-webkit-deflate-frame"],
    });
    assert.equal(other.status, 101);
    assert.equal(other.header("sec-websocket-extensions"), undefined);
    other.close();
  });
});

Deno.test("compressed text and binary echoed, with context takeover across 30 messages", async () => {
  await withServer(async (srv) => {
    const raw = await RawWs.connect(srv.port, { headers: [OFFER] });
    const compress = streamingDeflater();
    try {
      for (let i = 0; i < 30; i++) {
        const text = `message ${i % 4}: ${"lorem ipsum dolor sit amet ".repeat(40 + i)}`;
        const bin = i % 3 === 0;
        const bytes = enc.encode(text);
        const z = await compress(bytes);
        assert.ok(z.length < bytes.length / 4);
        await raw.sendFrame(bin ? Opcode.BINARY : Opcode.TEXT, z, { rsv: 4 });
        const back = await echoed(raw);
        assert.equal(back.op, bin ? Opcode.BINARY : Opcode.TEXT);
        assert.equal(back.compressed, true, "the echo is compressed too");
        assert.equal(dec.decode(back.data), text, `message ${i}`);
      }
      // A compressed message in three fragments: RSV1 on the first only.
      const z = await compress(enc.encode("fragmented ".repeat(50)));
      const third = Math.floor(z.length / 3);
      await raw.sendFrame(Opcode.TEXT, z.subarray(0, third), { rsv: 4, fin: false });
      await raw.sendFrame(Opcode.PING, "between");
      await raw.sendFrame(Opcode.CONTINUATION, z.subarray(third, 2 * third), { fin: false });
      await raw.sendFrame(Opcode.CONTINUATION, z.subarray(2 * third));
      const pong = await frame(raw);
      assert.equal(pong.opcode, Opcode.PONG);
      assert.equal(pong.compressed, undefined, "control frames are never compressed");
      assert.equal(dec.decode((await echoed(raw)).data), "fragmented ".repeat(50));
      // Plain messages still work on a compressing socket; short ones come back plain.
      await raw.sendFrame(Opcode.TEXT, "short and plain");
      const short = await echoed(raw);
      assert.deepEqual([short.compressed, dec.decode(short.data)], [false, "short and plain"]);
    } finally {
      raw.close();
    }
  });
});

/** Sends `payload` compressed as-is and returns the close code the server answers with. */
async function closeCodeFor(srv: TestServer, path: string, payload: Uint8Array): Promise<number> {
  const raw = await RawWs.connect(srv.port, { path, headers: [OFFER] });
  try {
    await raw.sendFrame(Opcode.BINARY, payload, { rsv: 4 });
    const f = await frame(raw);
    assert.equal(f.opcode, Opcode.CLOSE);
    assert.ok(await raw.waitEof(5000), "the server closes TCP");
    return decodeClosePayload(f.payload).code;
  } finally {
    raw.close();
  }
}

Deno.test("a decompression bomb is 1009 at the message limit; undecodable data is 1002", async () => {
  await withServer(async (srv) => {
    const bomb = zlib.deflateRawSync(new Uint8Array(8 << 20), SYNC); // 8 MiB of zeros
    assert.ok(bomb.length < 16384);
    assert.equal(await closeCodeFor(srv, "/?max=1048576", bomb.subarray(0, bomb.length - 4)), 1009);
    assert.equal(await closeCodeFor(srv, "/", new Uint8Array([0xff, 0xee, 0xdd, 0xcc])), 1002);
  });
});

Deno.test("--no-websocket-per-message-deflate: no extension, and RSV1 is a protocol error", async () => {
  setWebSocketDefaults({ ...DEFAULTS, websocketPerMessageDeflate: false });
  try {
    await withServer(async (srv) => {
      const raw = await RawWs.connect(srv.port, { headers: [OFFER] });
      try {
        assert.equal(raw.status, 101);
        assert.equal(raw.header("sec-websocket-extensions"), undefined);
        await raw.sendFrame(Opcode.TEXT, "plain");
        assert.equal(dec.decode((await frame(raw)).payload), "plain");
        const z = zlib.deflateRawSync(enc.encode("compressed anyway"), SYNC);
        await raw.sendFrame(Opcode.TEXT, z.subarray(0, z.length - 4), { rsv: 4 });
        const f = await frame(raw);
        assert.equal(f.opcode, Opcode.CLOSE);
        assert.equal(decodeClosePayload(f.payload).code, 1002);
      } finally {
        raw.close();
      }
    });
  } finally {
    setWebSocketDefaults(DEFAULTS);
  }
});

Deno.test("the setting: on by default, --no-websocket-per-message-deflate turns it off", () => {
  assert.equal(DEFAULTS.websocketPerMessageDeflate, true);
  const off = parseCli(["--no-websocket-per-message-deflate", "app.ts:app"], {}, () => "");
  assert.ok("config" in off);
  assert.equal(off.config.websocketPerMessageDeflate, false);
});

/**
 * Limits and timeouts (RFC 9112 §3 414, RFC 9110 §5.4 / RFC 6585 431, RFC 9110 §15.5.14 413,
 * §15.5.9 408), with small overrides so every limit is cheap to hit: growth without end must hit
 * 414, 431 or 413 instead of buffering, 413 goes out before the body is sent, and slow or idle
 * clients are cut off.
 */
import assert from "node:assert/strict";
import {
  type Case,
  chunked,
  conformanceSuite,
  encodeChunks,
  expectRejected,
  get,
  show,
  withBody,
} from "../_support/conformance.ts";
import { RawClient, roundTrip, sleep } from "../_support/raw_client.ts";

const HOST = "Host: t\r\n";
const X = "X-Mark: {M}\r\n";
const LIMITS = {
  maxRequestLineBytes: 256,
  maxHeadBytes: 1024,
  maxHeaderCount: 10,
  maxBodyBytes: 1024,
  maxChunkLineBytes: 64,
  maxTrailerBytes: 128,
} as const;

/** A GET whose request line (CRLF excluded) is exactly `n` bytes. */
function requestLineOf(n: number): string {
  const fixed = "GET /? HTTP/1.1".length;
  return `GET /?${"a".repeat(n - fixed)} HTTP/1.1`;
}

async function withClient(port: number, fn: (c: RawClient) => Promise<void>): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

const limitCases: Case[] = [
  {
    name: "a request line of exactly maxRequestLineBytes is accepted",
    fn: async (port) => {
      const rt = await roundTrip(port, `${requestLineOf(256)}\r\n${HOST}\r\n`);
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
    },
  },
  {
    name: "a request line one byte over maxRequestLineBytes gets 414",
    fn: async (port) =>
      void await expectRejected(port, `${requestLineOf(257)}\r\n${HOST}${X}\r\n`, 414),
  },
  {
    name: "a 4 KiB request line gets 414",
    fn: async (port) =>
      void await expectRejected(port, `${requestLineOf(4096)}\r\n${HOST}${X}\r\n`, 414),
  },
  {
    name: "an endless request line gets 414 without waiting for its CRLF",
    fn: async (port) => void await expectRejected(port, `GET /{M}${"a".repeat(600)}`, 414),
  },
  {
    name: "one huge header field gets 431",
    fn: async (port) =>
      void await expectRejected(
        port,
        `GET / HTTP/1.1\r\n${HOST}X-Big: ${"b".repeat(1500)}\r\n${X}\r\n`,
        431,
      ),
  },
  {
    name: "many mid-sized header fields over maxHeadBytes get 431",
    fn: async (port) => {
      const fields = Array.from({ length: 8 }, (_, i) => `X-F${i}: ${"f".repeat(150)}\r\n`).join(
        "",
      );
      await expectRejected(port, `GET / HTTP/1.1\r\n${HOST}${fields}${X}\r\n`, 431);
    },
  },
  {
    name: "an endless header block gets 431 without waiting for its end",
    fn: async (port) =>
      void await expectRejected(port, `GET / HTTP/1.1\r\n${HOST}${X}` + "X-Y: z\r\n".repeat(200), [
        431,
      ]),
  },
  {
    name: "exactly maxHeaderCount fields are accepted",
    fn: async (port) => {
      const fields = Array.from({ length: 9 }, (_, i) => `X-F${i}: v\r\n`).join("");
      const rt = await roundTrip(port, `GET / HTTP/1.1\r\n${HOST}${fields}\r\n`);
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
    },
  },
  {
    name: "one field more than maxHeaderCount gets 431",
    fn: async (port) => {
      const fields = Array.from({ length: 9 }, (_, i) => `X-F${i}: v\r\n`).join("");
      await expectRejected(port, `GET / HTTP/1.1\r\n${HOST}${fields}${X}\r\n`, 431);
    },
  },
  {
    name: "Content-Length over maxBodyBytes gets 413 before any body byte is sent",
    fn: async (port) =>
      void await expectRejected(
        port,
        `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 1025\r\n${X}\r\n`,
        413,
      ),
  },
  {
    name: "Content-Length over maxBodyBytes on / (app ignores the body) still gets 413",
    fn: async (port) =>
      void await expectRejected(
        port,
        `GET / HTTP/1.1\r\n${HOST}Content-Length: 999999\r\n${X}\r\n`,
        413,
      ),
  },
  {
    name: "Content-Length over maxBodyBytes with Expect: 100-continue: 413 and no 100",
    fn: async (port) => {
      const rt = await expectRejected(
        port,
        `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 5000\r\nExpect: 100-continue\r\n${X}\r\n`,
        413,
      );
      assert.ok(rt.all.every((r) => r.status !== 100));
    },
  },
  {
    name: "a body of exactly maxBodyBytes is accepted",
    fn: async (port) => {
      const body = "q".repeat(1024);
      const rt = await roundTrip(port, withBody("POST", "/echo", body));
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
      assert.equal(rt.responses[0].body, body);
    },
  },
  {
    name: "a chunked body of exactly maxBodyBytes is accepted",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        chunked("/echo", encodeChunks("a".repeat(1000), "b".repeat(24))),
      );
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
      assert.equal(rt.responses[0].body.length, 1024);
    },
  },
  {
    name: "a single chunk over maxBodyBytes gets 413",
    fn: async (port) =>
      void await expectRejected(port, chunked("/echo", encodeChunks("c".repeat(1025)), X), 413),
  },
  {
    name: "chunks adding up past maxBodyBytes get 413",
    fn: async (port) =>
      void await expectRejected(
        port,
        chunked("/echo", encodeChunks("d".repeat(400), "e".repeat(400), "f".repeat(400)), X),
        413,
      ),
  },
  {
    name: "a chunk announced over maxBodyBytes gets 413 before its data is sent",
    fn: async (port) => void await expectRejected(port, chunked("/echo", "100000\r\n", X), 413),
  },
  {
    name: "a chunk-size line over maxChunkLineBytes (long extension) gets 400",
    fn: async (port) =>
      void await expectRejected(
        port,
        chunked("/echo", `5;ext=${"x".repeat(100)}\r\nhello\r\n0\r\n\r\n`, X),
        400,
      ),
  },
  {
    name: "an endless chunk-size line gets 400 without waiting for its CRLF",
    fn: async (port) =>
      void await expectRejected(port, chunked("/echo", `5;ext=${"x".repeat(200)}`, X), 400),
  },
  {
    name: "a trailer section within maxTrailerBytes is accepted",
    fn: async (port) => {
      const rt = await roundTrip(port, chunked("/echo", "2\r\nok\r\n0\r\nX-T: 1\r\n\r\n"));
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
      assert.equal(rt.responses[0].body, "ok");
    },
  },
  {
    name: "a trailer section over maxTrailerBytes gets 431",
    fn: async (port) =>
      void await expectRejected(
        port,
        chunked("/echo", `2\r\nok\r\n0\r\nX-T: ${"t".repeat(200)}\r\n\r\n`, X),
        431,
      ),
  },
  {
    name: "many small trailers over maxTrailerBytes get 431",
    fn: async (port) =>
      void await expectRejected(
        port,
        chunked("/echo", "2\r\nok\r\n0\r\n" + "X-T: 12345678\r\n".repeat(20) + "\r\n", X),
        431,
      ),
  },
];

conformanceSuite("conformance: limits", limitCases, { overrides: LIMITS });

const T = 300;

const timeoutCases: Case[] = [
  {
    name: "a partial head gets 408 after headersTimeoutMs, then close",
    fn: async (port) => {
      const started = Date.now();
      const rt = await expectRejected(port, `GET /{M} HTTP/1.1\r\n${HOST}`, 408, {
        timeoutMs: 3000,
      });
      assert.ok(Date.now() - started >= T - 50, "408 came before the timeout");
      assert.ok(rt.closed);
    },
  },
  {
    name: "a head split before its LF gets 408 (not 400) once the timeout passes",
    fn: async (port) =>
      void await expectRejected(port, `GET / HTTP/1.1\r\nHost: t{M}\r`, 408, { timeoutMs: 3000 }),
  },
  {
    name: "a slowloris trickle gets 408 although bytes keep arriving",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send("GET / HTTP/1.1\r\n");
        const started = Date.now();
        for (let i = 0; i < 20 && !c.peerClosed; i++) {
          await c.send(`X-${i}: v\r\n`);
          await sleep(100);
        }
        assert.ok(await c.waitClosed(2000), "slowloris connection still open");
        assert.ok(Date.now() - started < 1800, "the header timeout was reset by activity");
        assert.deepEqual(c.parse().responses.map((r) => r.status), [408], show(c.text));
      }),
  },
  {
    name: "an idle keep-alive connection is closed silently after keepAliveTimeoutMs",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(get("/"));
        const p = await c.waitResponses(1);
        assert.equal(p.responses[0]?.status, 200);
        const before = c.text.length;
        const t0 = Date.now();
        assert.ok(await c.waitClosed(2000), "idle connection not closed");
        assert.ok(Date.now() - t0 >= T - 100, "closed before the keep-alive timeout");
        assert.equal(
          c.text.length,
          before,
          `bytes sent on idle close: ${show(c.text.slice(before))}`,
        );
      }),
  },
  {
    name: "a connection that never sends a byte is closed silently",
    fn: (port) =>
      withClient(port, async (c) => {
        assert.ok(await c.waitClosed(2000), "silent connection not closed");
        assert.equal(c.text, "");
      }),
  },
  {
    name: "a pause shorter than keepAliveTimeoutMs keeps the connection usable",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(get("/"));
        await c.waitResponses(1);
        await sleep(T / 3);
        await c.send(get("/"));
        const p = await c.waitResponses(2);
        assert.deepEqual(p.responses.map((r) => r.status), [200, 200], show(c.text));
      }),
  },
  {
    name: "a Content-Length body that never starts gets 408, then close",
    fn: async (port) =>
      void await expectRejected(
        port,
        `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 10\r\n${X}\r\n`,
        408,
        { timeoutMs: 3000 },
      ),
  },
  {
    name: "a chunked body stalled inside its first size line gets 408, then close",
    fn: async (port) =>
      void await expectRejected(port, chunked("/echo", "5", X), 408, { timeoutMs: 3000 }),
  },
  {
    name: "an unread body that stalls while being drained closes the connection after the 200",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(`GET / HTTP/1.1\r\n${HOST}Content-Length: 10\r\n\r\nabc`);
        assert.ok(await c.waitClosed(2500), "connection still open");
        assert.deepEqual(c.parse().responses.map((r) => r.status), [200], show(c.text));
      }),
  },
  {
    name: "a stalled Content-Length body closes the connection (a streamed 200 stays incomplete)",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(`POST /echo HTTP/1.1\r\n${HOST}Content-Length: 10\r\n\r\nabc`);
        assert.ok(await c.waitClosed(2500), "stalled body connection still open");
        const p = c.parse();
        assert.ok(p.responses.every((r) => r.status === 408), show(c.text));
        if (p.partial === "" && c.text !== "") assert.equal(p.responses.length, 1);
      }),
  },
  {
    name: "a stalled chunked body closes the connection (a streamed 200 stays incomplete)",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(chunked("/echo", "5\r\nhe"));
        assert.ok(await c.waitClosed(2500), "stalled chunked connection still open");
        assert.ok(c.parse().responses.every((r) => r.status === 408), show(c.text));
      }),
  },
  {
    name: "Expect: 100-continue whose body never comes: 100, then the connection closes",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(
          `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 4\r\nExpect: 100-continue\r\n\r\n`,
        );
        assert.ok(await c.waitClosed(2500), "connection still open");
        const p = c.parse();
        assert.equal(p.all[0]?.status, 100, show(c.text));
        assert.ok(p.responses.every((r) => r.status === 408), show(c.text));
      }),
  },
];

conformanceSuite("conformance: timeouts", timeoutCases, {
  overrides: { headersTimeoutMs: T, keepAliveTimeoutMs: T, bodyTimeoutMs: T },
  concurrent: true,
});

/**
 * `Expect: 100-continue` and response-side conformance (RFC 9110 §10.1.1, §15.2, §6.6.1, §9.3.2;
 * RFC 9112 §6.1): 100 only when the app reads the body and never to HTTP/1.0, 417 for unknown
 * expectations, Date/Server, Content-Length for known lengths, chunked streaming on 1.1,
 * close-delimited on 1.0, HEAD without a body.
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
import { hasToken, header, RawClient, roundTrip } from "../_support/raw_client.ts";

const HOST = "Host: t\r\n";
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

async function withClient(port: number, fn: (c: RawClient) => Promise<void>): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

/** Sends a head with `Expect`, waits for a 100, then the body; asserts 100 then 200 echo. */
function continueFlow(head: string, body: string, expected: string): Case["fn"] {
  return (port) =>
    withClient(port, async (c) => {
      await c.send(head);
      const got100 = await c.waitFor(() => c.parse().all.length >= 1, 2000);
      assert.ok(got100, `no interim response: ${show(c.text)}`);
      assert.equal(c.parse().all[0].status, 100, show(c.text));
      assert.equal(c.parse().responses.length, 0, "final response before the body was sent");
      await c.send(body);
      const p = await c.waitResponses(1);
      assert.equal(p.responses[0]?.status, 200, show(c.text));
      assert.equal(p.responses[0].body, expected);
      assert.deepEqual(p.all.map((r) => r.status), [100, 200]);
    });
}

const cases: Case[] = [
  {
    name: "Expect: 100-continue on /echo: 100 Continue first, then the 200 echo",
    fn: continueFlow(
      `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`,
      "hello",
      "hello",
    ),
  },
  {
    name: "Expect: 100-CONTINUE is matched case-insensitively",
    fn: continueFlow(
      `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 2\r\nExpect: 100-CONTINUE\r\n\r\n`,
      "hi",
      "hi",
    ),
  },
  {
    name: "Expect: 100-continue with a chunked body: 100, then the 200 echo",
    fn: continueFlow(
      `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n`,
      "3\r\nabc\r\n0\r\n\r\n",
      "abc",
    ),
  },
  {
    name: "Expect: 100-continue on / (body never read): no 100, 200 with Connection: close",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(`GET / HTTP/1.1\r\n${HOST}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
        const p = await c.waitResponses(1);
        assert.deepEqual(p.all.map((r) => r.status), [200], show(c.text));
        assert.ok(hasToken(p.responses[0], "connection", "close"), show(c.text));
        assert.ok(await c.waitClosed(2000), "connection not closed");
      }),
  },
  {
    name: "Expect with the body already sent: 200 echo (an early 100 is allowed)",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        withBody("POST", "/echo", "eager", "Expect: 100-continue\r\n") + get("/"),
        { responses: 2, settleMs: 100 },
      );
      assert.deepEqual(rt.responses.map((r) => [r.status, r.body]), [[200, "eager"], [
        200,
        "Hello",
      ]]);
      assert.ok(rt.all.every((r) => r.status !== 100 || r === rt.all[0]), show(rt.text));
    },
  },
  {
    name: "Expect: 100-continue on a body-less GET: 200, no hang",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/", "Expect: 100-continue\r\n"));
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
    },
  },
  {
    name: "an unknown expectation is answered with 417 and close",
    fn: async (port) =>
      void await expectRejected(
        port,
        `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 5\r\nExpect: {M}-foo\r\n\r\nhello`,
        417,
      ),
  },
  {
    name: "HTTP/1.0 with Expect: 100-continue never gets a 100",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(`POST /echo HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n`);
        assert.ok(await c.silentFor(400), `unexpected bytes: ${show(c.text)}`);
        await c.send("ping");
        assert.ok(await c.waitClosed(2000), "HTTP/1.0 connection not closed");
        const p = c.parse();
        assert.deepEqual(p.all.map((r) => r.status), [200], show(c.text));
        assert.equal(p.responses[0].body, "ping");
      }),
  },
  // Responses.
  {
    name: "GET / carries Date (IMF-fixdate), Server and Content-Length: 5",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/"));
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.match(header(r, "date") ?? "", IMF_FIXDATE);
      assert.equal(header(r, "server"), "lsbaws");
      assert.equal(header(r, "content-length"), "5");
      assert.equal(header(r, "transfer-encoding"), undefined);
      assert.equal(r.framing, "length");
      assert.equal(r.version, "1.1");
    },
  },
  {
    name: "a 404 carries Date and a framed body",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/no-such-path") + get("/"), {
        responses: 2,
        settleMs: 100,
      });
      assert.deepEqual(rt.responses.map((r) => r.status), [404, 200], show(rt.text));
      assert.ok(header(rt.responses[0], "date"));
      assert.notEqual(rt.responses[0].framing, "close");
    },
  },
  {
    name: "/echo of a chunked request on HTTP/1.1 streams with Transfer-Encoding: chunked",
    fn: async (port) => {
      const rt = await roundTrip(port, chunked("/echo", encodeChunks("stream", " me")));
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.equal(r.framing, "chunked", show(rt.text));
      assert.equal(r.body, "stream me");
      assert.equal(header(r, "content-length"), undefined);
      assert.ok(header(r, "date"));
    },
  },
  {
    name: "/echo of a Content-Length request answers with the same Content-Length",
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("POST", "/echo", "known length"));
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.equal(header(r, "content-length"), "12");
      assert.equal(header(r, "transfer-encoding"), undefined);
      assert.equal(r.body, "known length");
    },
  },
  {
    name: "/echo on HTTP/1.0 has no Transfer-Encoding and closes",
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("POST", "/echo", "old client", "", "1.0"), {
        untilClose: true,
      });
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.equal(header(r, "transfer-encoding"), undefined, show(rt.text));
      assert.equal(r.body, "old client");
      assert.ok(rt.closed);
      if (r.framing === "close") assert.ok(hasToken(r, "connection", "close"));
    },
  },
  {
    name: "/echo on HTTP/1.0 keep-alive: never chunked; closes if close-delimited",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        withBody("POST", "/echo", "ka", "Connection: keep-alive\r\n", "1.0"),
        { untilClose: true, timeoutMs: 800 },
      );
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.equal(header(r, "transfer-encoding"), undefined);
      assert.equal(r.body, "ka");
      if (r.framing === "close") {
        assert.ok(hasToken(r, "connection", "close"));
        assert.ok(rt.closed);
      }
    },
  },
  {
    name: "/echo of a 100 KiB body round-trips intact",
    fn: async (port) => {
      let body = "";
      for (let i = 0; i < 100 * 1024; i++) body += String.fromCharCode(i % 256);
      const rt = await roundTrip(port, withBody("POST", "/echo", body), { timeoutMs: 5000 });
      assert.equal(rt.responses[0]?.status, 200);
      assert.equal(rt.responses[0].body.length, body.length);
      assert.ok(rt.responses[0].body === body, "echoed bytes differ");
    },
  },
  {
    name: "an empty /echo body gets a complete, empty 200",
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("POST", "/echo", "") + get("/"), {
        responses: 2,
        settleMs: 100,
      });
      assert.deepEqual(rt.responses.map((r) => [r.status, r.body]), [[200, ""], [200, "Hello"]]);
    },
  },
  {
    name: "HEAD / has no body and the same headers as GET /",
    fn: async (port) => {
      const rt = await roundTrip(port, `HEAD / HTTP/1.1\r\n${HOST}\r\n` + get("/"), {
        responses: 2,
        settleMs: 150,
        methods: ["HEAD", "GET"],
      });
      assert.equal(rt.responses.length, 2, show(rt.text));
      const [head, getRes] = rt.responses;
      assert.equal(head.status, 200);
      assert.equal(head.body, "");
      assert.equal(getRes.body, "Hello");
      assert.equal(rt.partial, "", "bytes after the GET response: HEAD sent a body");
      const strip = (r: typeof head) => r.headers.filter(([n]) => n !== "date");
      assert.deepEqual(strip(head), strip(getRes));
    },
  },
  {
    name: "HEAD / on HTTP/1.0: no body, then close",
    fn: async (port) => {
      const rt = await roundTrip(port, "HEAD / HTTP/1.0\r\n\r\n", { untilClose: true });
      assert.ok(rt.closed);
      const i = rt.text.indexOf("\r\n\r\n");
      assert.ok(i > 0, show(rt.text));
      assert.equal(rt.text.slice(i + 4), "", "HEAD response carried a body");
      assert.ok(rt.text.startsWith("HTTP/1.1 200 "));
    },
  },
];

conformanceSuite("conformance: expectations and responses", cases);

const FIVE_CHUNKS = "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n";

/** Responses of unknown length (apps/stream.ts): chunked on 1.1, close-delimited on 1.0. */
const streamCases: Case[] = [
  {
    name: "a streamed body of unknown length is chunked on HTTP/1.1 and the connection persists",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/?delay=1") + get("/?delay=1"), {
        responses: 2,
        settleMs: 100,
      });
      assert.equal(rt.responses.length, 2, show(rt.text));
      for (const r of rt.responses) {
        assert.equal(r.framing, "chunked");
        assert.equal(r.body, FIVE_CHUNKS);
        assert.equal(header(r, "content-length"), undefined);
      }
      assert.ok(!rt.closed);
    },
  },
  {
    name: "a streamed body on HTTP/1.0 is close-delimited: no Transfer-Encoding, Connection: close",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/?delay=1", "", "1.0"), { untilClose: true });
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.equal(r.framing, "close", show(rt.text));
      assert.equal(header(r, "transfer-encoding"), undefined);
      assert.ok(hasToken(r, "connection", "close"));
      assert.equal(r.body, FIVE_CHUNKS);
      assert.ok(rt.closed);
    },
  },
  {
    name: "HTTP/1.0 keep-alive cannot keep a close-delimited response: Connection: close",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        get("/?delay=1", "Connection: keep-alive\r\n", "1.0") + get("/", "", "1.0"),
        { untilClose: true },
      );
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.equal(rt.responses[0].framing, "close");
      assert.ok(hasToken(rt.responses[0], "connection", "close"));
      assert.equal(rt.responses[0].body, FIVE_CHUNKS);
    },
  },
  {
    name: "a 200 KB streamed body arrives intact in chunked framing",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/big?n=200000"), { timeoutMs: 5000 });
      const r = rt.responses[0];
      assert.ok(r, `incomplete: ${rt.text.length} bytes`);
      assert.equal(r.framing, "chunked");
      assert.equal(r.body, "x".repeat(200000));
    },
  },
  {
    name: "HEAD of a streamed response sends the head only",
    fn: async (port) => {
      const rt = await roundTrip(port, `HEAD / HTTP/1.1\r\n${HOST}\r\n` + get("/?delay=1"), {
        responses: 2,
        settleMs: 100,
        methods: ["HEAD", "GET"],
      });
      assert.deepEqual(rt.responses.map((r) => [r.status, r.body]), [[200, ""], [
        200,
        FIVE_CHUNKS,
      ]]);
      assert.equal(rt.partial, "");
    },
  },
];

conformanceSuite("conformance: streamed responses (apps/stream.ts)", streamCases, {
  app: "apps/stream.ts:app",
});

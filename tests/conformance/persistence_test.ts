/**
 * Connection-management conformance (RFC 9112 §9): keep-alive defaults for HTTP/1.0 and 1.1
 * (and HTTP/1.2, served as 1.1), `Connection` tokens, 16-deep pipelining in order, a bad request
 * inside a pipeline, unread request bodies (drained or closed past `maxDrainBytes`) and
 * half-closed clients.
 */
import assert from "node:assert/strict";
import {
  type Case,
  conformanceSuite,
  encodeChunks,
  expectRejected,
  get,
  show,
  withBody,
} from "../_support/conformance.ts";
import { hasToken, header, RawClient, roundTrip } from "../_support/raw_client.ts";

const HOST = "Host: t\r\n";

/** Opens a client, runs `fn`, always closes it. */
async function withClient(port: number, fn: (c: RawClient) => Promise<void>): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

const cases: Case[] = [
  {
    name: "HTTP/1.1 persists by default: two sequential requests on one socket",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(get("/"));
        let p = await c.waitResponses(1);
        assert.equal(p.responses[0]?.status, 200, show(c.text));
        assert.ok(!hasToken(p.responses[0], "connection", "close"));
        await c.send(get("/"));
        p = await c.waitResponses(2);
        assert.deepEqual(p.responses.map((r) => r.status), [200, 200]);
        assert.ok(!c.peerClosed);
      }),
  },
  {
    name: "HTTP/1.0 closes by default and says Connection: close",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/", "", "1.0"), { untilClose: true });
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.equal(rt.responses[0].status, 200);
      assert.equal(rt.responses[0].version, "1.1");
      assert.ok(hasToken(rt.responses[0], "connection", "close"));
      assert.ok(rt.closed);
    },
  },
  {
    name: "HTTP/1.0 with Connection: keep-alive stays open and says keep-alive",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(get("/", "Connection: keep-alive\r\n", "1.0"));
        let p = await c.waitResponses(1);
        assert.equal(p.responses[0]?.status, 200, show(c.text));
        assert.ok(hasToken(p.responses[0], "connection", "keep-alive"), show(c.text));
        await c.send(get("/", "Connection: keep-alive\r\n", "1.0"));
        p = await c.waitResponses(2);
        assert.deepEqual(p.responses.map((r) => r.status), [200, 200]);
        assert.ok(!c.peerClosed);
      }),
  },
  {
    name: "HTTP/1.0 keep-alive then a plain HTTP/1.0 request: closed after the second",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        get("/", "Connection: keep-alive\r\n", "1.0") + get("/", "", "1.0") + get("/", "", "1.0"),
        { untilClose: true },
      );
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
      assert.ok(hasToken(rt.responses[1], "connection", "close"));
      assert.ok(rt.closed);
    },
  },
  {
    name: "HTTP/1.0 Connection: KEEP-ALIVE is matched case-insensitively",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        get("/", "Connection: KEEP-ALIVE\r\n", "1.0") +
          get("/", "Connection: Keep-Alive\r\n", "1.0"),
        { responses: 2, settleMs: 100 },
      );
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
      assert.ok(!rt.closed);
    },
  },
  {
    name: "Connection: close is honoured: header sent, socket closed, pipelined rest ignored",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/", "Connection: close\r\n") + get("/"), {
        untilClose: true,
      });
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.ok(hasToken(rt.responses[0], "connection", "close"));
      assert.equal(rt.partial, "");
      assert.ok(rt.closed);
    },
  },
  {
    name: "Connection: CLOSE is matched case-insensitively",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/", "Connection: CLOSE\r\n") + get("/"), {
        untilClose: true,
      });
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.ok(rt.closed);
    },
  },
  {
    name: "Connection: Keep-Alive, CLOSE (a token list) closes",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/", "Connection: Keep-Alive, CLOSE\r\n") + get("/"), {
        untilClose: true,
      });
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.ok(hasToken(rt.responses[0], "connection", "close"));
      assert.ok(rt.closed);
    },
  },
  {
    name: "close on a second Connection line still closes",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        get("/", "Connection: keep-alive\r\nConnection: close\r\n") + get("/"),
        { untilClose: true },
      );
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.ok(rt.closed);
    },
  },
  {
    name: "HTTP/1.1 Connection: keep-alive keeps the connection (no close)",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/", "Connection: keep-alive\r\n") + get("/"), {
        responses: 2,
        settleMs: 100,
      });
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
      assert.ok(!hasToken(rt.responses[0], "connection", "close"));
      assert.ok(!rt.closed);
    },
  },
  {
    name: "HTTP/1.2 is served as HTTP/1.1: pipelined requests persist, HTTP/1.1 status lines",
    fn: (port) =>
      withClient(port, async (c) => {
        const v12 = (path: string, extra = "") => `GET ${path} HTTP/1.2\r\n${HOST}${extra}\r\n`;
        const chunkedPost = `POST /echo HTTP/1.2\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n${
          encodeChunks("one ", "two")
        }`;
        // Three pipelined in one write, among them a chunked body (an HTTP/1.1-only framing).
        await c.send(v12("/") + chunkedPost + v12("/missing"));
        let p = await c.waitResponses(3);
        assert.deepEqual(p.responses.map((r) => r.status), [200, 200, 404], show(c.text));
        assert.equal(p.responses[0].body, "Hello");
        assert.equal(p.responses[1].body, "one two");
        for (const r of p.responses) {
          assert.equal(r.version, "1.1", "answered as HTTP/1.1");
          assert.ok(!hasToken(r, "connection", "close"), "HTTP/1.1 persistence applies");
        }
        assert.ok(!(await c.waitClosed(150)), "the connection stays open");
        // Then Connection: close ends it after its response, as on HTTP/1.1.
        await c.send(v12("/", "Connection: close\r\n") + v12("/"));
        p = await c.waitResponses(4);
        assert.equal(p.responses.length, 4, show(c.text));
        assert.ok(hasToken(p.responses[3], "connection", "close"));
        assert.ok(await c.waitClosed(2000), "closed after Connection: close");
        assert.equal(c.parse().responses.length, 4, "the request after close is not answered");
      }),
  },
  {
    name: "HTTP/1.2 without Connection: close is not treated as HTTP/1.0 (no close-by-default)",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        `GET / HTTP/1.2\r\n${HOST}\r\nGET / HTTP/1.2\r\n${HOST}\r\n`,
        { responses: 2, settleMs: 100 },
      );
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
      assert.ok(rt.text.startsWith("HTTP/1.1 200 "), show(rt.text));
      assert.ok(!rt.closed);
    },
  },
  {
    name: "pipelines 16 /echo requests in one write and answers all 16 in order",
    fn: async (port) => {
      const bodies = Array.from({ length: 16 }, (_, i) => `req-${String(i).padStart(2, "0")}`);
      const rt = await roundTrip(
        port,
        bodies.map((b) => withBody("POST", "/echo", b)).join(""),
        { responses: 16, settleMs: 100 },
      );
      assert.deepEqual(rt.responses.map((r) => r.body), bodies, show(rt.text));
      assert.ok(rt.responses.every((r) => r.status === 200));
      assert.equal(rt.partial, "");
      assert.ok(!rt.closed);
    },
  },
  {
    name: "pipelines 16 mixed requests (GET, HEAD, echo, chunked, 404) in order",
    fn: async (port) => {
      const reqs: Array<[string, string, number, string]> = [];
      for (let i = 0; i < 4; i++) {
        reqs.push(["GET", get("/"), 200, "Hello"]);
        reqs.push(["HEAD", `HEAD / HTTP/1.1\r\n${HOST}\r\n`, 200, ""]);
        reqs.push([
          "POST",
          `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n${
            encodeChunks(`c${i}`, "HTTP/1.1 200 OK\r\n")
          }`,
          200,
          `c${i}HTTP/1.1 200 OK\r\n`,
        ]);
        reqs.push(["GET", get(`/missing-${i}`), 404, ""]);
      }
      const rt = await roundTrip(port, reqs.map((r) => r[1]).join(""), {
        responses: 16,
        settleMs: 100,
        methods: reqs.map((r) => r[0]),
      });
      assert.deepEqual(rt.responses.map((r) => r.status), reqs.map((r) => r[2]), show(rt.text));
      for (let i = 0; i < 16; i++) {
        if (reqs[i][2] === 200) assert.equal(rt.responses[i].body, reqs[i][3], `response ${i}`);
      }
      assert.equal(rt.partial, "");
    },
  },
  {
    name: "pipelines 100 GETs in one write and answers all 100",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/").repeat(100), { responses: 100, settleMs: 100 });
      assert.equal(rt.responses.length, 100, show(rt.text.slice(-300)));
      assert.ok(rt.responses.every((r) => r.status === 200 && r.body === "Hello"));
      assert.equal(rt.partial, "");
    },
  },
  {
    name: "pipelines 16 echoes of 8 KiB (past the 64 KiB batch) in order, chunked and length",
    fn: async (port) => {
      const bodies = Array.from(
        { length: 16 },
        (_, i) => String.fromCharCode(0x41 + i).repeat(8192 - 2) + String(i).padStart(2, "0"),
      );
      const req = bodies.map((b, i) =>
        i % 2 === 0
          ? withBody("POST", "/echo", b)
          : `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n${
            encodeChunks(b.slice(0, 5000), b.slice(5000))
          }`
      ).join("");
      const rt = await roundTrip(port, req, { responses: 16, settleMs: 100, timeoutMs: 5000 });
      assert.equal(rt.responses.length, 16, `got ${rt.responses.length}`);
      rt.responses.forEach((r, i) => assert.ok(r.body === bodies[i], `body ${i} differs`));
      assert.equal(rt.partial, "");
    },
  },
  {
    name: "pipeline with a bad request in the middle: earlier answered, then 400, then close",
    fn: async (port) => {
      const good = (i: number) => withBody("POST", "/echo", `ok-${i}`);
      await expectRejected(
        port,
        good(1) + good(2) + good(3) + `GET /bad{M} HTTP/1.1\r\nHost : t\r\n\r\n` + good(4) +
          good(5),
        400,
        { prior: 3 },
      );
    },
  },
  {
    name: "pipeline whose first request is bad: only the 400, nothing after it",
    fn: async (port) => {
      await expectRejected(port, `GET /{M} HTTP/1.1\r\n\r\n` + get("/") + get("/"), 400);
    },
  },
  {
    name: "pipeline after Connection: close: a later bad request gets no 400",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        get("/", "Connection: close\r\n") + "GARBAGE\r\n\r\n",
        { untilClose: true },
      );
      assert.deepEqual(rt.responses.map((r) => r.status), [200], show(rt.text));
      assert.ok(rt.closed);
    },
  },
  {
    name: "unread body on GET / is drained: the next request is answered",
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("GET", "/", "x".repeat(100)) + get("/"), {
        responses: 2,
        settleMs: 100,
      });
      assert.deepEqual(rt.responses.map((r) => [r.status, r.body]), [[200, "Hello"], [
        200,
        "Hello",
      ]]);
      assert.ok(!rt.closed);
    },
  },
  {
    name: "unread body on POST / is drained: the next request is answered",
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("POST", "/", "payload") + get("/"), {
        responses: 2,
        settleMs: 100,
      });
      assert.equal(rt.responses.length, 2, show(rt.text));
      assert.deepEqual([rt.responses[1].status, rt.responses[1].body], [200, "Hello"]);
    },
  },
  {
    name: "unread chunked body on GET / is drained: the next request is answered",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        `GET / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n${encodeChunks("abc", "def")}` +
          get("/"),
        { responses: 2, settleMs: 100 },
      );
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
    },
  },
  {
    name: "an unread body holding a whole request is consumed, never executed",
    fn: async (port) => {
      const hidden = get("/hidden");
      const rt = await roundTrip(port, withBody("GET", "/", hidden) + get("/"), {
        responses: 2,
        settleMs: 150,
      });
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
      assert.equal(rt.partial, "");
    },
  },
  {
    name: "an unread body arriving after the response is still drained",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(`GET / HTTP/1.1\r\n${HOST}Content-Length: 10\r\n\r\n`);
        const p = await c.waitResponses(1);
        assert.equal(p.responses[0]?.status, 200, show(c.text));
        await c.send("0123456789" + get("/"));
        const q = await c.waitResponses(2);
        assert.deepEqual(q.responses.map((r) => r.status), [200, 200], show(c.text));
      }),
  },
  {
    name: "half-closed client still gets its full response",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/"), { halfClose: true, untilClose: true });
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.deepEqual([rt.responses[0].status, rt.responses[0].body], [200, "Hello"]);
      assert.ok(rt.closed);
    },
  },
  {
    name: "half-closed client with two pipelined requests gets both responses",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/") + withBody("POST", "/echo", "two"), {
        halfClose: true,
        untilClose: true,
      });
      assert.deepEqual(rt.responses.map((r) => [r.status, r.body]), [[200, "Hello"], [200, "two"]]);
      assert.equal(rt.partial, "");
    },
  },
  {
    name: "half-closed client with an /echo body gets the echo",
    fn: async (port) => {
      const body = "y".repeat(5000);
      const rt = await roundTrip(port, withBody("POST", "/echo", body), {
        halfClose: true,
        untilClose: true,
      });
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
      assert.equal(rt.responses[0].body, body);
    },
  },
  {
    name: "half-close in the middle of a head: no response, connection closed",
    fn: async (port) => {
      const rt = await roundTrip(port, "GET / HTTP/1.1\r\nHost: t\r\n", {
        halfClose: true,
        untilClose: true,
      });
      assert.equal(rt.text, "");
      assert.ok(rt.closed);
    },
  },
];

conformanceSuite("conformance: persistence and pipelining", cases);

const DRAIN_LIMIT = 16;

const drainCases: Case[] = [
  {
    name: `unread body within maxDrainBytes (${DRAIN_LIMIT}) keeps the connection`,
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("GET", "/", "x".repeat(DRAIN_LIMIT)) + get("/"), {
        responses: 2,
        settleMs: 100,
      });
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
      assert.ok(!rt.closed);
    },
  },
  {
    name: "unread body beyond maxDrainBytes: the response, then close, next request unanswered",
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("GET", "/", "x".repeat(1000)) + get("/"), {
        untilClose: true,
      });
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.deepEqual([rt.responses[0].status, rt.responses[0].body], [200, "Hello"]);
      assert.equal(rt.partial, "");
      assert.ok(rt.closed);
    },
  },
  {
    name: "unread chunked body beyond maxDrainBytes: the response, then close",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        `GET / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n${
          encodeChunks("z".repeat(500))
        }` + get("/"),
        { untilClose: true },
      );
      assert.deepEqual(rt.responses.map((r) => r.status), [200], show(rt.text));
      assert.ok(rt.closed);
    },
  },
  {
    name: "unread body beyond maxDrainBytes arriving later: the response, then close",
    fn: (port) =>
      withClient(port, async (c) => {
        await c.send(`GET / HTTP/1.1\r\n${HOST}Content-Length: 1000\r\n\r\n`);
        const p = await c.waitResponses(1);
        assert.equal(p.responses[0]?.status, 200, show(c.text));
        await c.send("x".repeat(1000) + get("/"));
        assert.ok(await c.waitClosed(2000), "connection not closed");
        assert.equal(c.parse().responses.length, 1, show(c.text));
      }),
  },
  {
    name: "a response that will be followed by a close says Connection: close",
    fn: async (port) => {
      const rt = await roundTrip(port, withBody("GET", "/", "x".repeat(1000)), {
        untilClose: true,
      });
      assert.equal(rt.responses.length, 1, show(rt.text));
      assert.equal(header(rt.responses[0], "connection"), "close", show(rt.text));
    },
  },
];

conformanceSuite("conformance: draining unread bodies", drainCases, {
  overrides: { maxDrainBytes: DRAIN_LIMIT, bodyTimeoutMs: 1000 },
});

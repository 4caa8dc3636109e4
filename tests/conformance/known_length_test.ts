/**
 * Known-length gateway responses on the wire (RFC 9110 §8.6, §9.3.2; RFC 9112 §6.3), against
 * tests/fixtures/apps/lists.ts: a body that is a list of known chunks gets `Content-Length`
 * whether the app returned it synchronously or after an `await`; `HEAD` gets exactly the
 * `Content-Length` (and every other header) `GET` gets, with no body; a body of unknown length is
 * still chunked. Also: `SERVER_PROTOCOL` for a request sent as HTTP/1.2.
 */
import assert from "node:assert/strict";
import { type Case, conformanceSuite, get, show } from "../_support/conformance.ts";
import { header, type ParsedResponse, roundTrip } from "../_support/raw_client.ts";

const APP = "tests/fixtures/apps/lists.ts:app";
const HOST = "Host: t\r\n";

/** Expected body per list route, as latin-1 text of its UTF-8 bytes (how the client reads it). */
const BODIES: Record<string, string> = {
  one: "hello, world",
  many: String.fromCharCode(...new TextEncoder().encode("hello, wörld")),
};

/** Headers without Date (which may tick between two responses). */
function stripDate(r: ParsedResponse): ReadonlyArray<readonly [string, string]> {
  return r.headers.filter(([n]) => n !== "date");
}

const cases: Case[] = [];

for (const mode of ["sync", "async"]) {
  for (const kind of ["one", "many"]) {
    const path = `/${mode}/${kind}`;
    const body = BODIES[kind];
    cases.push({
      name: `GET ${path}: Content-Length ${body.length}, not chunked`,
      fn: async (port) => {
        const rt = await roundTrip(port, get(path), { responses: 1 });
        const r = rt.responses[0];
        assert.ok(r, show(rt.text));
        assert.equal(r.status, 200);
        assert.equal(r.framing, "length", show(rt.text));
        assert.equal(header(r, "content-length"), String(body.length));
        assert.equal(header(r, "transfer-encoding"), undefined);
        assert.equal(r.body, body);
      },
    });
    cases.push({
      name: `HEAD ${path} has GET's Content-Length and headers and no body`,
      fn: async (port) => {
        const rt = await roundTrip(port, `HEAD ${path} HTTP/1.1\r\n${HOST}\r\n` + get(path), {
          responses: 2,
          settleMs: 100,
          methods: ["HEAD", "GET"],
        });
        assert.equal(rt.responses.length, 2, show(rt.text));
        const [head, getRes] = rt.responses;
        assert.equal(head.status, 200);
        assert.equal(header(head, "content-length"), String(body.length), show(head.raw));
        assert.deepEqual(stripDate(head), stripDate(getRes));
        assert.equal(head.body, "");
        assert.equal(getRes.body, body);
        assert.equal(rt.partial, "", "HEAD sent a body");
      },
    });
  }
}

cases.push(
  {
    name: "sync and async list apps answer with identical heads",
    fn: async (port) => {
      const rt = await roundTrip(port, get("/sync/many") + get("/async/many"), {
        responses: 2,
        settleMs: 100,
      });
      assert.equal(rt.responses.length, 2, show(rt.text));
      assert.deepEqual(stripDate(rt.responses[0]), stripDate(rt.responses[1]));
    },
  },
  {
    name: "an async list on HTTP/1.0 keep-alive is length-framed and the connection persists",
    fn: async (port) => {
      const req = get("/async/one", "Connection: keep-alive\r\n", "1.0");
      const rt = await roundTrip(port, req + req, { responses: 2, settleMs: 100 });
      assert.equal(rt.responses.length, 2, show(rt.text));
      for (const r of rt.responses) {
        assert.equal(r.framing, "length");
        assert.equal(r.body, BODIES.one);
      }
      assert.ok(!rt.closed, "a close-delimited body would have closed the connection");
    },
  },
  {
    name: "an async streamed body is still chunked, and HEAD of it has no Content-Length",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        `HEAD /async/stream HTTP/1.1\r\n${HOST}\r\n` + get("/async/stream"),
        { responses: 2, settleMs: 100, methods: ["HEAD", "GET"] },
      );
      assert.equal(rt.responses.length, 2, show(rt.text));
      const [head, getRes] = rt.responses;
      assert.equal(header(head, "content-length"), undefined);
      assert.equal(getRes.framing, "chunked");
      assert.equal(getRes.body, "streamed body");
    },
  },
  {
    name: "an HTTP/1.2 request sees SERVER_PROTOCOL HTTP/1.1 and an HTTP/1.1 status line",
    fn: async (port) => {
      const rt = await roundTrip(port, `GET /protocol HTTP/1.2\r\n${HOST}\r\n`, { responses: 1 });
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.equal(r.version, "1.1");
      assert.equal(r.body, "HTTP/1.1");
    },
  },
  {
    name: "an HTTP/1.2 request gets a chunked streamed response, as on HTTP/1.1",
    fn: async (port) => {
      const rt = await roundTrip(port, `GET /async/stream HTTP/1.2\r\n${HOST}\r\n`, {
        responses: 1,
        settleMs: 100,
      });
      const r = rt.responses[0];
      assert.ok(r, show(rt.text));
      assert.equal(r.framing, "chunked");
      assert.equal(r.body, "streamed body");
      assert.ok(!rt.closed);
    },
  },
);

conformanceSuite(
  "conformance: known-length gateway responses (tests/fixtures/apps/lists.ts)",
  cases,
  {
    app: APP,
  },
);

/**
 * Incremental parsing (RFC 9112 §2.2; h1spec's fragment family): an incomplete request prefix must
 * get NO response — the pass condition is 500 ms of silence on an open connection — and a request
 * split anywhere (even between CR and LF) must be answered normally once it is complete. Cases run
 * concurrently.
 */
import assert from "node:assert/strict";
import { type Case, conformanceSuite, get, show } from "../_support/conformance.ts";
import { RawClient, roundTrip } from "../_support/raw_client.ts";

const SILENCE_MS = 500;
const RL = "GET / HTTP/1.1";

const PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ["G", "G"],
  ["GET", "GET"],
  ["GET + SP", "GET "],
  ["GET /", "GET /"],
  ["GET /index.html", "GET /index.html"],
  ["GET / HTTP/1", "GET / HTTP/1"],
  ["the request line without CRLF", RL],
  ["the request line and CR", `${RL}\r`],
  ["the request line and CRLF", `${RL}\r\n`],
  ["a partial header name", `${RL}\r\nHo`],
  ["a header name and colon", `${RL}\r\nHost:`],
  ["a header value without CRLF", `${RL}\r\nHost: a`],
  ["a header value and CR", `${RL}\r\nHost: a\r`],
  ["a complete header line", `${RL}\r\nHost: a\r\n`],
  ["the head missing its last LF", `${RL}\r\nHost: a\r\n\r`],
  ["a leading CR", "\r"],
  ["a leading empty line", "\r\n"],
  ["a partial second request after a complete one", get("/") + "GET / HT"],
  [
    "a Content-Length body not yet complete on /echo (1 of 5)",
    `POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nh`,
  ],
  [
    "a chunked body missing its final CRLF",
    `POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n`,
  ],
];

/** Body fragments: the app may already stream a partial answer, but nothing may complete. */
const isBody = (prefix: string) => /\r\n\r\n./s.test(prefix) && !prefix.startsWith(get("/"));

const cases: Case[] = PREFIXES.map(([label, prefix]) => ({
  name: `no response to ${label} within ${SILENCE_MS} ms`,
  fn: async (port: number) => {
    const c = await RawClient.connect(port);
    try {
      await c.send(prefix);
      // A complete leading request is answered; only what follows it must stay unanswered.
      const expected = prefix.startsWith(get("/")) ? 1 : 0;
      if (expected) await c.waitResponses(1);
      const before = c.text.length;
      if (isBody(prefix)) {
        await c.silentFor(SILENCE_MS);
        assert.ok(!c.peerClosed, "connection closed while the body was incomplete");
      } else {
        assert.ok(await c.silentFor(SILENCE_MS), `got ${show(c.text.slice(before))}`);
      }
      assert.equal(c.parse().responses.length, expected, show(c.text));
    } finally {
      await c.close();
    }
  },
}));

/** A whole request, sent in pieces at every split point listed. */
const SPLITS: ReadonlyArray<readonly [string, string[]]> = [
  ["byte by byte", [...`${RL}\r\nHost: a\r\n\r\n`]],
  ["between every CR and LF", [`${RL}\r`, `\nHost: a\r`, `\n\r`, `\n`]],
  ["inside the method and the version", ["GE", "T / HT", "TP/1.", "1\r\nHost: a\r\n\r\n"]],
  ["inside a header name and value", [`${RL}\r\nHo`, "st", ": ", "a", "\r\n\r\n"]],
  ["with an /echo body split byte by byte", [
    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
    ..."hello",
  ]],
  ["with a chunked body split inside sizes and CRLFs", [
    "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "1",
    "0\r",
    "\n0123456789abcdef",
    "\r\n0",
    "\r\n\r",
    "\n",
  ]],
];

for (const [label, parts] of SPLITS) {
  cases.push({
    name: `answers a request split ${label} once it is complete`,
    fn: async (port) => {
      const rt = await roundTrip(port, parts, { gapMs: 5, timeoutMs: 5000 });
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
      const expected = label.includes("chunked")
        ? "0123456789abcdef"
        : label.includes("echo")
        ? "hello"
        : "Hello";
      assert.equal(rt.responses[0].body, expected);
    },
  });
}

conformanceSuite("conformance: fragments and incremental parsing", cases, { concurrent: true });

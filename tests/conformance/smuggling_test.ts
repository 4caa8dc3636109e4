/**
 * Request-smuggling conformance (RFC 9112 §6.1, §6.3, §11.2): every defparam/smuggler obfuscation
 * class of the `Transfer-Encoding: chunked` line, sent next to a Content-Length in both desync
 * arrangements, followed by an honest `GET /`.
 *
 * - CL.TE: Content-Length covers `0\r\n\r\n` plus a hidden request; a server that framed by TE
 *   would answer the hidden request.
 * - TE.CL: Content-Length covers only the chunk-size line; a server that framed by CL would
 *   answer the chunk data (a hidden request) as the next request.
 *
 * The rule: never two responses where the attacker hid one. Every obfuscated line must end in
 * exactly one 400/501 with `Connection: close` and a closed socket (so the honest follow-up is
 * not answered either). `Transfer_Encoding` is just an unrelated header: there the request is
 * framed by Content-Length, the whole body comes back from /echo, and only the honest follow-up
 * is answered after it (the hidden request is never executed).
 */
import assert from "node:assert/strict";
import {
  type Case,
  conformanceSuite,
  expectRejected,
  get,
  newMarker,
  show,
} from "../_support/conformance.ts";
import { roundTrip } from "../_support/raw_client.ts";

const HOST = "Host: t\r\n";
const hidden = (m: string) => `GET /hidden-${m} HTTP/1.1\r\n${HOST}\r\n`;

/** [class, the obfuscated line(s) that stand for `Transfer-Encoding: chunked`]. */
const TE_LINES: ReadonlyArray<readonly [string, string]> = [
  ["SP before the colon", "Transfer-Encoding : chunked"],
  ["HTAB before the colon", "Transfer-Encoding\t: chunked"],
  ["HTAB after the colon", "Transfer-Encoding:\tchunked"],
  ["no SP after the colon", "Transfer-Encoding:chunked"],
  ["extra SPs after the colon", "Transfer-Encoding:   chunked"],
  ["VT before the value", "Transfer-Encoding:\x0bchunked"],
  ["FF before the value", "Transfer-Encoding:\x0cchunked"],
  ["0x01 before the value", "Transfer-Encoding: \x01chunked"],
  ["0xA0 before the value", "Transfer-Encoding: \xa0chunked"],
  ["0x85 before the value", "Transfer-Encoding: \x85chunked"],
  ["VT after the value", "Transfer-Encoding: chunked\x0b"],
  ["FF after the value", "Transfer-Encoding: chunked\x0c"],
  ["0xA0 after the value", "Transfer-Encoding: chunked\xa0"],
  ["0x85 after the value", "Transfer-Encoding: chunked\x85"],
  ["NUL after the value", "Transfer-Encoding: chunked\x00"],
  ["DEL after the value", "Transfer-Encoding: chunked\x7f"],
  ["bare CR after the value", "Transfer-Encoding: chunked\r"],
  ["VT before the name", "\x0bTransfer-Encoding: chunked"],
  ["0x01 after the name", "Transfer-Encoding\x01: chunked"],
  ["0x85 after the name", "Transfer-Encoding\x85: chunked"],
  ["double-quoted value", 'Transfer-Encoding: "chunked"'],
  ["single-quoted value", "Transfer-Encoding: 'chunked'"],
  ["truncated value (chunk)", "Transfer-Encoding: chunk"],
  ["prefixed value (xchunked)", "Transfer-Encoding: xchunked"],
  ["upper-case name and value", "TRANSFER-ENCODING: CHUNKED"],
  ["trailing comma", "Transfer-Encoding: chunked,"],
  ["chunked, cow", "Transfer-Encoding: chunked, cow"],
  ["cow, chunked", "Transfer-Encoding: cow, chunked"],
  ["non-ASCII byte inside chunked", "Transfer-Encoding: ch\x96nked"],
  ["non-ASCII byte inside the name", "Tr\xe0nsfer-Encoding: chunked"],
  ["SP inside the name (Transfer Encoding)", "Transfer Encoding: chunked"],
  ["CR inside the name", "Transfer-\rEncoding: chunked"],
  ["line-wrapped value (SP)", "Transfer-Encoding:\r\n chunked"],
  ["line-wrapped value (HTAB)", "Transfer-Encoding: x\r\n\tchunked"],
  ["leading SP on the TE line (obs-fold)", " Transfer-Encoding: chunked"],
  ["a second TE line", "Transfer-Encoding: chunked\r\nTransfer-Encoding: cow"],
  [
    "identity then chunked on two lines",
    "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked",
  ],
  ["TE hidden after X: X + bare LF", "X: X\nTransfer-Encoding: chunked"],
  ["TE hidden after X: X + bare CR", "X: X\rTransfer-Encoding: chunked"],
  ["plain Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
];

function clTe(m: string, teLine: string, tePlacement: "after" | "before" = "after"): string {
  const body = `0\r\n\r\n${hidden(m)}`;
  const cl = `Content-Length: ${body.length}\r\n`;
  const head = tePlacement === "after" ? `${cl}${teLine}\r\n` : `${teLine}\r\n${cl}`;
  return `POST /echo HTTP/1.1\r\n${HOST}${head}\r\n${body}` + get("/");
}

function teCl(m: string, teLine: string): string {
  const size = `${hidden(m).length.toString(16)}\r\n`;
  const body = `${size}${hidden(m)}\r\n0\r\n\r\n`;
  return `POST /echo HTTP/1.1\r\n${HOST}Content-Length: ${size.length}\r\n${teLine}\r\n\r\n${body}` +
    get("/");
}

const cases: Case[] = [];
for (const [cls, line] of TE_LINES) {
  cases.push({
    name: `CL.TE with ${cls}: one 400/501, closed, hidden request not answered`,
    fn: async (port) => void await expectRejected(port, (m) => clTe(m, line), [400, 501]),
  });
  cases.push({
    name: `TE.CL with ${cls}: one 400/501, closed, hidden request not answered`,
    fn: async (port) => void await expectRejected(port, (m) => teCl(m, line), [400, 501]),
  });
}
cases.push({
  name: "CL.TE with Transfer-Encoding before Content-Length: one 400, closed",
  fn: async (port) =>
    void await expectRejected(port, (m) => clTe(m, "Transfer-Encoding: chunked", "before"), 400),
});
cases.push({
  name: "CL.TE with Transfer_Encoding (unrelated header): framed by CL, hidden request never run",
  fn: async (port) => {
    const marker = newMarker();
    const body = `0\r\n\r\n${hidden(marker)}`;
    const req = clTe(marker, "Transfer_Encoding: chunked");
    const rt = await roundTrip(port, req, { responses: 2, settleMs: 150 });
    assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
    assert.equal(rt.responses[0].body, body, "the whole CL body must come back from /echo");
    assert.equal(rt.responses[1].body, "Hello");
    assert.equal(rt.partial, "");
  },
});
cases.push({
  name: "CL.CL: two different Content-Length lines → one 400, closed",
  fn: async (port) => {
    await expectRejected(port, (m) => {
      const body = `x${hidden(m)}`;
      return `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        get("/");
    }, 400);
  },
});
cases.push({
  name: "CL list '1, N' → one 400, closed",
  fn: async (port) => {
    await expectRejected(port, (m) => {
      const body = `x${hidden(m)}`;
      return `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 1, ${body.length}\r\n\r\n${body}` +
        get("/");
    }, 400);
  },
});
cases.push({
  name:
    "Content_Length (underscore) does not frame: body-less POST, then the next bytes are a request",
  fn: async (port) => {
    // The underscore name is not Content-Length, so the request has no body and the bytes after
    // the head are parsed as the next request; here they are an honest GET / (nothing hidden).
    const rt = await roundTrip(
      port,
      `POST /echo HTTP/1.1\r\n${HOST}Content_Length: 5\r\n\r\n` + get("/"),
      { responses: 2, settleMs: 100 },
    );
    assert.deepEqual(rt.responses.map((r) => [r.status, r.body]), [[200, ""], [200, "Hello"]]);
  },
});

conformanceSuite("conformance: request smuggling", cases);

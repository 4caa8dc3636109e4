/**
 * The fuzz oracle (`judge` in tests/fuzz/runner.ts) on hand-made outcomes: it must flag every
 * kind of wrong answer it claims to catch, and pass the right ones.
 */
import assert from "node:assert/strict";
import { type CaseOutcome, judge } from "../fuzz/runner.ts";
import type { FuzzCase, Verdict } from "../fuzz/generator.ts";

const DATE = "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";
const OK = `HTTP/1.1 200 OK\r\n${DATE}Content-Length: 5\r\n\r\nHello`;
const BAD = `HTTP/1.1 400 Bad Request\r\n${DATE}Connection: close\r\nContent-Length: 0\r\n\r\n`;

function fuzzCase(expect: Verdict[], ending: FuzzCase["ending"] = "wait"): FuzzCase {
  return {
    id: 0,
    kind: "test",
    base: "test",
    bytes: new Uint8Array(0),
    delivery: "whole",
    cuts: [],
    ending,
    expect,
  };
}

function problems(c: FuzzCase, text: string, closed = true): string[] {
  const o: CaseOutcome = { text, closed, timedOut: false };
  return judge(c, o).problems;
}

Deno.test("fuzz oracle: passes right answers", () => {
  assert.deepEqual(problems(fuzzCase([{ kind: "ok" }]), OK, false), []);
  assert.deepEqual(problems(fuzzCase([{ kind: "ok" }, { kind: "reject" }]), OK + BAD), []);
  assert.deepEqual(problems(fuzzCase([{ kind: "reject", status: 400 }]), BAD), []);
  assert.deepEqual(problems(fuzzCase([], "close"), ""), []);
  // A streamed 2xx cut short by a body error may end mid-body.
  const cut = `HTTP/1.1 200 OK\r\n${DATE}Content-Length: 10\r\n\r\nabc`;
  assert.deepEqual(problems(fuzzCase([]), cut), []);
});

Deno.test("fuzz oracle: flags wrong answers", () => {
  const flagged = (c: FuzzCase, text: string, closed = true) =>
    assert.ok(problems(c, text, closed).length > 0, `not flagged: ${JSON.stringify(text)}`);
  flagged(fuzzCase([{ kind: "reject" }]), OK); // a 2xx for a kept-invalid request
  flagged(fuzzCase([{ kind: "reject", status: 431 }]), BAD); // the wrong rejection
  flagged(fuzzCase([{ kind: "ok" }]), BAD); // a valid request rejected
  flagged(fuzzCase([{ kind: "ok" }]), "", false); // no answer while the client waited
  flagged(fuzzCase([{ kind: "reject" }], "halfclose"), ""); // no rejection after a half-close
  flagged(fuzzCase([]), "HTTP/1.1 200 OK\r\nbroken header\r\n\r\n"); // malformed header line
  flagged(fuzzCase([]), "HTTP/2 200 OK\r\n\r\n"); // not an HTTP/1.1 status line
  flagged(fuzzCase([]), "HTTP/1.1 400 Bad"); // garbled before the close
  flagged(fuzzCase([]), BAD + OK); // something after an error response
  flagged(fuzzCase([]), BAD.replace("Connection: close\r\n", "")); // 4xx without close
  flagged(fuzzCase([], "halfclose"), BAD, false); // 4xx and the connection left open
});

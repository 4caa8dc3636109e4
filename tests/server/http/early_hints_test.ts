/**
 * `encodeEarlyHints`: the interim response's exact bytes, and the rules its fields follow (a
 * final head's, plus no Content-Length, Date or Server).
 */
import assert from "node:assert/strict";
import { encodeEarlyHints } from "../../../server/http/header_lines.ts";
import { ResponseError } from "../../../server/http/errors.ts";

const text = (b: Uint8Array) => String.fromCharCode(...b);

Deno.test("encodeEarlyHints: the status line, the fields in order, the empty line", () => {
  assert.equal(
    text(encodeEarlyHints([["Link", "</a.css>; rel=preload"], ["link", "</b.js>; rel=preload"]])),
    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nlink: </b.js>; rel=preload\r\n\r\n",
  );
  assert.equal(text(encodeEarlyHints([])), "HTTP/1.1 103 Early Hints\r\n\r\n");
});

Deno.test("encodeEarlyHints refuses what a final head may not carry, and the final-only fields", () => {
  const cases: Array<[[string, string], string]> = [
    [["Bad Name", "x"], "header-name-token"],
    [["Link", "a\r\nSet-Cookie: x"], "header-value-ctl"],
    [["Link", "\u0100"], "header-value-latin1"],
    [["Connection", "close"], "hop-by-hop"],
    [["Content-Length", "0"], "early-hints-field"],
    [["date", "Mon, 07 Nov 1994 00:00:00 GMT"], "early-hints-field"],
    [["Server", "x"], "early-hints-field"],
  ];
  for (const [field, rule] of cases) {
    assert.throws(() => encodeEarlyHints([field]), (err: unknown) => {
      assert.ok(err instanceof ResponseError, String(err));
      assert.equal(err.rule, rule, field[0]);
      return true;
    });
  }
});

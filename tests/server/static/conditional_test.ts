/**
 * Static files, negotiation: ETags, HTTP dates, preconditions (RFC 9110 §13), byte ranges
 * (RFC 9110 §14) and Accept-Encoding (RFC 9110 §12.5.3).
 */
import assert from "node:assert/strict";
import {
  acceptedCodings,
  etagMatches,
  ifRangeAllows,
  makeETag,
  parseETagList,
  parseHttpDate,
  parseRange,
  preconditions,
} from "../../../server/static/conditional.ts";

const T = Date.UTC(1994, 10, 6, 8, 49, 37); // Sun, 06 Nov 1994 08:49:37 GMT
const V = { etag: '"abc-1"', mtimeMs: T + 250 }; // sub-second mtime

Deno.test("makeETag: strong, quoted, distinct per coding and per file state", () => {
  const a = makeETag(10, T, 5, "");
  assert.match(a, /^"[0-9a-f-]+"$/);
  assert.notEqual(a, makeETag(10, T, 5, "br"));
  assert.notEqual(makeETag(10, T, 5, "br"), makeETag(10, T, 5, "gzip"));
  assert.notEqual(a, makeETag(11, T, 5, ""));
  assert.notEqual(a, makeETag(10, T + 1, 5, ""));
  assert.notEqual(a, makeETag(10, T, 6, ""));
});

Deno.test("parseHttpDate: the three forms of RFC 9110 §5.6.7, GMT only", () => {
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), T);
  assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), T);
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), T);
  for (
    const bad of [
      "",
      "yesterday",
      "Sun, 06 Nov 1994 08:49:37 PST",
      "Sun, 31 Feb 1994 08:49:37 GMT",
      "Sun, 06 Foo 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 25:49:37 GMT",
      "1994-11-06T08:49:37Z",
    ]
  ) {
    assert.equal(parseHttpDate(bad), null, bad);
  }
});

Deno.test("parseETagList and etagMatches: lists, *, weak and strong comparison", () => {
  assert.deepEqual(parseETagList('"a", W/"b",  "c,d"'), ['"a"', 'W/"b"', '"c,d"']);
  assert.deepEqual(parseETagList("*"), ["*"]);
  assert.equal(parseETagList('"a" junk'), null);
  assert.equal(parseETagList('"unterminated'), null);
  assert.ok(etagMatches('"x", "abc-1"', V.etag, true));
  assert.ok(etagMatches('W/"abc-1"', V.etag, true), "weak comparison ignores W/");
  assert.ok(!etagMatches('W/"abc-1"', V.etag, false), "strong comparison rejects weak tags");
  assert.ok(etagMatches("*", V.etag, false));
  assert.ok(!etagMatches('"abc-2"', V.etag, true));
  assert.ok(!etagMatches("abc-1", V.etag, true), "unquoted is invalid");
});

Deno.test("preconditions: If-None-Match → 304 (weak, list, *), else 200", () => {
  assert.equal(preconditions([], V), 200);
  assert.equal(preconditions([["if-none-match", '"abc-1"']], V), 304);
  assert.equal(preconditions([["if-none-match", 'W/"abc-1"']], V), 304);
  assert.equal(preconditions([["if-none-match", '"z", "abc-1"']], V), 304);
  assert.equal(preconditions([["if-none-match", '"z"'], ["if-none-match", '"abc-1"']], V), 304);
  assert.equal(preconditions([["if-none-match", "*"]], V), 304);
  assert.equal(preconditions([["if-none-match", '"other"']], V), 200);
});

Deno.test("preconditions: If-Modified-Since at second resolution, ignored with If-None-Match", () => {
  const at = "Sun, 06 Nov 1994 08:49:37 GMT";
  const before = "Sun, 06 Nov 1994 08:49:36 GMT";
  assert.equal(preconditions([["if-modified-since", at]], V), 304, "same second → not modified");
  assert.equal(preconditions([["if-modified-since", before]], V), 200);
  assert.equal(preconditions([["if-modified-since", "garbage"]], V), 200);
  assert.equal(
    preconditions([["if-modified-since", at], ["if-modified-since", at]], V),
    200,
    "a repeated date field is ignored",
  );
  assert.equal(
    preconditions([["if-none-match", '"other"'], ["if-modified-since", at]], V),
    200,
    "If-None-Match present: If-Modified-Since ignored",
  );
});

Deno.test("preconditions: If-Match and If-Unmodified-Since → 412", () => {
  assert.equal(preconditions([["if-match", '"abc-1"']], V), 200);
  assert.equal(preconditions([["if-match", "*"]], V), 200);
  assert.equal(preconditions([["if-match", '"nope"']], V), 412);
  assert.equal(preconditions([["if-match", 'W/"abc-1"']], V), 412, "strong comparison");
  assert.equal(preconditions([["if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT"]], V), 200);
  assert.equal(preconditions([["if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 GMT"]], V), 412);
  assert.equal(
    preconditions([["if-match", '"abc-1"'], [
      "if-unmodified-since",
      "Sun, 06 Nov 1994 08:00:00 GMT",
    ]], V),
    200,
    "If-Unmodified-Since is ignored when If-Match is present",
  );
});

Deno.test("ifRangeAllows: strong ETag or exact Last-Modified date", () => {
  assert.ok(ifRangeAllows('"abc-1"', V));
  assert.ok(!ifRangeAllows('"abc-2"', V));
  assert.ok(!ifRangeAllows('W/"abc-1"', V), "weak tags never match");
  assert.ok(ifRangeAllows("Sun, 06 Nov 1994 08:49:37 GMT", V));
  assert.ok(!ifRangeAllows("Sun, 06 Nov 1994 08:49:38 GMT", V), "a later date does not match");
  assert.ok(!ifRangeAllows("garbage", V));
});

Deno.test("parseRange: a-b, a-, -n; clamping; unsatisfiable; multi; invalid ignored", () => {
  const r = (start: number, end: number) => ({ kind: "range", start, end });
  assert.deepEqual(parseRange("bytes=0-4", 10), r(0, 4));
  assert.deepEqual(parseRange("bytes=3-", 10), r(3, 9));
  assert.deepEqual(parseRange("bytes=-3", 10), r(7, 9));
  assert.deepEqual(parseRange("bytes=-30", 10), r(0, 9), "suffix longer than the file");
  assert.deepEqual(parseRange("bytes=5-500", 10), r(5, 9), "last-pos clamped");
  assert.deepEqual(parseRange("bytes=9-9", 10), r(9, 9));
  assert.deepEqual(parseRange("BYTES = 1-2", 10), r(1, 2));
  assert.deepEqual(parseRange("bytes=0-99999999999999999999", 10), r(0, 9));
  assert.deepEqual(parseRange("bytes=10-", 10), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=10-20", 10), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=-0", 10), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=0-", 0), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=-5", 0), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=99999999999999999999-", 10), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=0-1,3-4", 10), { kind: "multi" });
  assert.deepEqual(parseRange("bytes=0-1, -2", 10), { kind: "multi" });
  for (
    const bad of ["bytes=5-2", "bytes=a-b", "bytes=", "bytes=-", "bytes=1", "items=0-1", "0-1"]
  ) {
    assert.deepEqual(parseRange(bad, 10), { kind: "none" }, bad);
  }
});

Deno.test("acceptedCodings: q-values, br preferred on ties, *, q=0, x-gzip", () => {
  assert.deepEqual(acceptedCodings(null), []);
  assert.deepEqual(acceptedCodings(""), []);
  assert.deepEqual(acceptedCodings("gzip, deflate, br"), ["br", "gzip"]);
  assert.deepEqual(acceptedCodings("gzip"), ["gzip"]);
  assert.deepEqual(acceptedCodings("br;q=0.5, gzip;q=0.8"), ["gzip", "br"]);
  assert.deepEqual(acceptedCodings("br;q=0, gzip"), ["gzip"]);
  assert.deepEqual(acceptedCodings("*"), ["br", "gzip"]);
  assert.deepEqual(acceptedCodings("*;q=0.1, gzip"), ["gzip", "br"]);
  assert.deepEqual(acceptedCodings("*, br;q=0"), ["gzip"]);
  assert.deepEqual(acceptedCodings("x-gzip"), ["gzip"]);
  assert.deepEqual(acceptedCodings("identity"), []);
  assert.deepEqual(acceptedCodings("GZIP ; Q=1.0"), ["gzip"]);
});

/** Request id format: accepted client ids, fresh ids. */
import assert from "node:assert/strict";
import { isValidRequestId, nextRequestId, requestIdFrom } from "../../../server/http/request_id.ts";

Deno.test("keeps a well-formed client request id", () => {
  assert.equal(requestIdFrom("abc-123_x.y:z@w+v=u/t"), "abc-123_x.y:z@w+v=u/t");
});

Deno.test("replaces an empty, too long or unsafe client request id with a fresh one", () => {
  for (const bad of ["", "a b", "x".repeat(201), "é", "a\r\nb"]) {
    const id = requestIdFrom(bad);
    assert.notEqual(id, bad);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-z]+$/);
  }
});

Deno.test("fresh ids are unique and valid", () => {
  const a = nextRequestId();
  const b = nextRequestId();
  assert.notEqual(a, b);
  assert.ok(isValidRequestId(a) && isValidRequestId(b));
});

Deno.test("fresh ids count up in base 36 without leading zeros, across every digit carry", () => {
  const first = nextRequestId();
  const prefix = first.slice(0, first.indexOf("-") + 1);
  let n = parseInt(first.slice(prefix.length), 36);
  assert.equal(first, prefix + n.toString(36));
  // 50,000 ids cross the carries into the third and fourth digit (36² = 1,296; 36³ = 46,656).
  for (let i = 0; i < 50_000; i++) {
    n++;
    assert.equal(nextRequestId(), prefix + n.toString(36));
  }
});

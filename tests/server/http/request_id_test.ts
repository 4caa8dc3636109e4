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

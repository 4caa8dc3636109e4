/** HeaderListMemo: recognising a repeated header list by value. */
import assert from "node:assert/strict";
import { HeaderListMemo, MAX_MEMO_FIELDS } from "../../../server/http/header_list_memo.ts";

Deno.test("HeaderListMemo: a fresh list with the same names and values matches; any difference does not", () => {
  const memo = new HeaderListMemo();
  assert.equal(memo.matches([]), false, "nothing remembered yet");
  memo.record([["Content-Type", "text/plain"], ["X-A", "1"]]);
  assert.equal(memo.matches([["Content-Type", "text/plain"], ["X-A", "1"]]), true);
  assert.equal(memo.matches([["Content-Type", "text/plain"], ["X-A", "2"]]), false, "value");
  assert.equal(memo.matches([["Content-Type", "text/plain"], ["X-B", "1"]]), false, "name");
  assert.equal(memo.matches([["X-A", "1"], ["Content-Type", "text/plain"]]), false, "order");
  assert.equal(memo.matches([["Content-Type", "text/plain"]]), false, "one fewer");
  assert.equal(
    memo.matches([["Content-Type", "text/plain"], ["X-A", "1"], ["X-C", ""]]),
    false,
    "one more",
  );
  memo.record([]);
  assert.equal(memo.matches([]), true, "the empty list");
  assert.equal(memo.matches([["Content-Type", "text/plain"]]), false);
});

Deno.test("HeaderListMemo: a list changed in place no longer matches", () => {
  const memo = new HeaderListMemo();
  const list: Array<[string, string]> = [["X-A", "1"]];
  memo.record(list);
  assert.equal(memo.matches(list), true);
  list[0][1] = "2";
  assert.equal(memo.matches(list), false);
});

Deno.test("HeaderListMemo: a list over the field limit is not remembered and nothing matches", () => {
  const memo = new HeaderListMemo();
  const long = Array.from(
    { length: MAX_MEMO_FIELDS + 1 },
    (_, i) => [`X-${i}`, `${i}`] as [string, string],
  );
  memo.record([["X-A", "1"]]);
  memo.record(long);
  assert.equal(memo.matches(long), false);
  assert.equal(memo.matches([["X-A", "1"]]), false, "the list before it is forgotten");
  assert.equal(memo.matches([]), false);
  assert.equal(memo.matches(long.slice(0, MAX_MEMO_FIELDS)), false, "not even its first fields");
  const full = long.slice(0, MAX_MEMO_FIELDS);
  memo.record(full);
  assert.equal(memo.matches(full.map(([n, v]) => [n, v] as [string, string])), true);
});

/**
 * The JSONC reader behind `--config` (server/jsonc.ts): JSON plus comments and trailing commas,
 * comment markers inside strings kept, errors with line and column, duplicate keys refused.
 */
import assert from "node:assert/strict";
import { JsoncError, parseJsonc } from "../../server/jsonc.ts";

function fails(text: string, line: number, column: number, reason: RegExp): void {
  assert.throws(() => parseJsonc(text), (err) => {
    assert.ok(err instanceof JsoncError, String(err));
    assert.equal(err.line, line, `line of ${JSON.stringify(text)}: ${err.message}`);
    assert.equal(err.column, column, `column of ${JSON.stringify(text)}: ${err.message}`);
    assert.match(err.reason, reason);
    return true;
  });
}

Deno.test("plain JSON parses as JSON.parse does", () => {
  const text = '{"a": [1, -2.5e3, 0, true, false, null], "b": {"c": "\\u00e9\\n\\"x\\""}, "d": ""}';
  assert.deepEqual(
    JSON.parse(JSON.stringify(parseJsonc(text).value)),
    JSON.parse(text),
  );
  assert.equal(parseJsonc(" 42 ").value, 42);
  assert.equal(parseJsonc('"s"').value, "s");
});

Deno.test("line and block comments and trailing commas are accepted", () => {
  const text = [
    "// leading comment",
    "{",
    '  "a": 1, // one',
    "  /* a block",
    "     over lines */",
    '  "b": [1, 2, /* inline */ 3,],',
    "}",
    "// trailing comment without newline",
  ].join("\n");
  assert.deepEqual({ ...parseJsonc(text).value as object }, { a: 1, b: [1, 2, 3] });
  assert.deepEqual(parseJsonc("[1,]").value, [1]);
  assert.deepEqual({ ...parseJsonc("{}").value as object }, {});
  assert.deepEqual(parseJsonc("[]").value, []);
});

Deno.test("comment markers inside strings are string content", () => {
  const doc = parseJsonc('{"url": "http://x//y", "glob": "/* not a comment */", "q": "\\"//"}');
  const v = doc.value as Record<string, string>;
  assert.equal(v.url, "http://x//y");
  assert.equal(v.glob, "/* not a comment */");
  assert.equal(v.q, '"//');
});

Deno.test("keyLines gives the line of each top-level key only", () => {
  const doc = parseJsonc('{\n  "a": 1,\n\n  "b": {\n    "c": 2\n  }\n}');
  assert.deepEqual([...doc.keyLines], [["a", 2], ["b", 4]]);
  assert.equal(parseJsonc("[1]").keyLines.size, 0);
});

Deno.test("errors carry the line and column where they were found", () => {
  fails('{\n  "a": 1\n  "b": 2\n}', 3, 3, /expected ',' or '}', got '"'/);
  fails("", 1, 1, /expected a JSON value, got end of file/);
  fails("{\n  a: 1\n}", 2, 3, /property name in double quotes/);
  fails('{"a" 1}', 1, 6, /expected ':'/);
  fails("[1 2]", 1, 4, /expected ',' or ']'/);
  fails("[1,,]", 1, 4, /expected a JSON value/);
  fails("{,}", 1, 2, /property name/);
  fails('"abc', 1, 1, /unterminated string/);
  fails('"a\nb"', 1, 3, /control character/);
  fails('"\\x"', 1, 2, /invalid escape/);
  fails('"\\u12g4"', 1, 2, /invalid \\u escape/);
  fails("{} /* open", 1, 4, /unterminated \/\* comment/);
  fails("{} x", 1, 4, /unexpected 'x' after the JSON value/);
  fails("01", 1, 1, /expected a JSON value/);
  fails("'a'", 1, 1, /expected a JSON value/);
  fails("nul", 1, 1, /expected a JSON value/);
  fails("truex", 1, 1, /expected a JSON value/);
  fails("NaN", 1, 1, /expected a JSON value/);
});

Deno.test("a key repeated in one object is an error at the second one", () => {
  fails('{\n  "a": 1,\n  "a": 2\n}', 3, 3, /duplicate key 'a'/);
  fails('{"o": {"x": 1, "x": 1}}', 1, 16, /duplicate key 'x'/);
  assert.ok(parseJsonc('[{"a": 1}, {"a": 2}]'), "the same key in two objects is fine");
});

Deno.test("a byte-order mark is skipped; __proto__ is plain data; nesting is bounded", () => {
  assert.equal(parseJsonc("\ufeff7").value, 7);
  const v = parseJsonc('{"__proto__": {"polluted": true}}').value as Record<string, unknown>;
  assert.ok(Object.hasOwn(v, "__proto__"));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.ok(parseJsonc("[".repeat(64) + "]".repeat(64)));
  fails("[".repeat(65) + "]".repeat(65), 1, 65, /nested deeper than 64/);
});

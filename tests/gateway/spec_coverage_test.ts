// Every numbered rule of gateway/types.ts (except those marked "(server)") has a spec test whose
// name starts with the rule id, and every spec test names a rule that exists.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const RULE_LINE = /^ \* - ([A-Z]+-\d+)( \(server\))?:/gm;
const TEST_NAME = /Deno\.test\(\s*["`]([A-Z]+-\d+):/g;

async function specRules(): Promise<{ app: string[]; server: string[] }> {
  const text = await Deno.readTextFile(new URL("gateway/types.ts", ROOT));
  const app: string[] = [];
  const server: string[] = [];
  for (const m of text.matchAll(RULE_LINE)) (m[2] ? server : app).push(m[1]);
  return { app, server };
}

async function testedRules(): Promise<Set<string>> {
  const dir = new URL("tests/gateway/", ROOT);
  const found = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.startsWith("spec_") || !entry.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    for (const m of text.matchAll(TEST_NAME)) found.add(m[1]);
  }
  return found;
}

Deno.test("every gateway rule has a spec test named after it", async () => {
  const { app, server } = await specRules();
  assert.ok(app.length > 50, `only ${app.length} rules found: is the rule syntax intact?`);
  const tested = await testedRules();
  const missing = app.filter((rule) => !tested.has(rule));
  assert.deepEqual(missing, [], `rules without a test: ${missing.join(", ")}`);
  const unknown = [...tested].filter((rule) => !app.includes(rule) && !server.includes(rule));
  assert.deepEqual(unknown, [], `tests naming unknown rules: ${unknown.join(", ")}`);
  const ids = [...app, ...server];
  assert.equal(new Set(ids).size, ids.length, "rule ids are unique");
});

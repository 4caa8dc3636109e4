/**
 * The README's settings table lists every setting of server/config.ts with its flag, environment
 * variable and default, so the docs cannot drift from the code.
 */
import assert from "node:assert/strict";
import { DEFAULTS, SETTINGS } from "../../server/config.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

function defaultText(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(",") : "none";
  if (v === "") return "empty";
  return String(v);
}

Deno.test("README settings table lists every setting with its default", () => {
  const rows = readme.split("\n").filter((l) => l.startsWith("| `--"));
  for (const s of SETTINGS) {
    const row = rows.find((r) => r.startsWith(`| \`--${s.flag}\``));
    assert.ok(row, `README has no row for --${s.flag}`);
    assert.ok(row.includes(`\`${defaultText(DEFAULTS[s.key])}\``), `--${s.flag} default differs`);
    if (s.env) assert.ok(row.includes(`$${s.env}`), `--${s.flag} row lacks $${s.env}`);
  }
  assert.equal(rows.length, SETTINGS.length, "README lists settings that do not exist");
});

Deno.test("README shows the two set-up commands", () => {
  assert.ok(readme.includes("npx -y deno@2.9.6 task start"));
  assert.ok(readme.includes("npx -y deno@2.9.6 task test"));
});

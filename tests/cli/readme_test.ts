/**
 * The README's settings table is exactly the one generated (server/config.ts) from the rows in
 * server/settings.ts, so the docs cannot drift from the code. Regenerate it with:
 *   deno eval 'import {settingsTable} from "./server/config.ts"; console.log(settingsTable())'
 */
import assert from "node:assert/strict";
import { parseCli, SETTINGS, settingsTable } from "../../server/config.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

Deno.test("README settings table matches the settings table in server/settings.ts", () => {
  const m = /<!-- SETTINGS:BEGIN -->\n([\s\S]*?)\n<!-- SETTINGS:END -->/.exec(readme);
  assert.ok(m, "README lacks the SETTINGS markers");
  // deno fmt pads table cells; compare rows with the padding squeezed out.
  const norm = (t: string) =>
    t.trim().split("\n").map((r) => r.replace(/ *\| */g, "|").replace(/-{3,}/g, "---"));
  assert.deepEqual(norm(m[1]), norm(settingsTable()));
  for (const s of SETTINGS) assert.ok(m[1].includes(`\`--${s.flag}\``), s.flag);
});

Deno.test("README shows the two set-up commands", () => {
  assert.ok(readme.includes("npx -y deno@2.9.6 task start"));
  assert.ok(readme.includes("npx -y deno@2.9.6 task test"));
});

Deno.test("README's config file example is a valid config file, run as shown", () => {
  const section = readme.slice(readme.indexOf("### Config file"));
  const m = /```jsonc\n([\s\S]*?)```/.exec(section);
  assert.ok(m, "README lacks the JSONC example");
  const r = parseCli(["--config", "lsbaws.jsonc", "apps/hello.ts:app"], {}, () => m[1]);
  assert.equal(r.kind, "run");
  assert.ok(section.includes("deno task dev --config lsbaws.jsonc apps/hello.ts:app"));
  assert.ok(section.includes("command line > environment > config file > default"));
});

/**
 * Architecture rules, run as part of the main suite.
 *
 * The rules themselves (tools/architecture/rules_test.ts) read imports from the TypeScript AST and
 * find socket calls and Deno-internals reads with the type checker, so they need the `typescript`
 * npm package. It lives under its own config (tools/architecture/deno.json) so that the project's
 * lock names no package and `deno task start` downloads nothing. This file runs that suite in a
 * child process once and reports each of its tests here as a test of its own, with the child's
 * output for every failure.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

interface Outcome {
  readonly ok: boolean;
}

async function runRules(): Promise<
  { outcomes: Map<string, Outcome>; output: string; code: number }
> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "-A",
      "--config",
      "tools/architecture/deno.json",
      "tools/architecture/rules_test.ts",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const outcomes = new Map<string, Outcome>();
  for (const line of output.split("\n")) {
    const m = /^(.+?) \.\.\. (ok|FAILED)( \(.*\))?$/.exec(line);
    if (m && !outcomes.has(m[1])) outcomes.set(m[1], { ok: m[2] === "ok" });
  }
  return { outcomes, output, code: out.code };
}

const result = await runRules();

Deno.test("architecture rules ran (tools/architecture/rules_test.ts)", () => {
  assert.ok(
    result.outcomes.size >= 10,
    `expected the rules suite to report its tests; got ${result.outcomes.size}:\n${result.output}`,
  );
  assert.equal(result.code, 0, result.output);
});

for (const [name, outcome] of result.outcomes) {
  Deno.test(`architecture: ${name}`, () => {
    assert.ok(outcome.ok, `failed in tools/architecture/rules_test.ts:\n${result.output}`);
  });
}

/**
 * `--reload-include`/`--reload-exclude` patterns (`server/glob.ts`): what each glob form matches,
 * the errors (exit 2 from the command line), and which changed files count.
 */
import assert from "node:assert/strict";
import { globToRegExp, pathFilter } from "../../server/glob.ts";
import { startLsbaws } from "../_support/proc.ts";

Deno.test("globToRegExp: *, **, ?, [set], [!set] and literal characters", () => {
  const cases: Array<[string, string[], string[]]> = [
    ["*.html", ["a.html", ".html"], ["a.htm", "d/a.html", "a.html.swp"]],
    ["**/*.html", ["a.html", "d/a.html", "d/e/a.html"], ["a.htm"]],
    ["templates/**", ["templates/a", "templates/d/a"], ["a/templates/x"]],
    ["?.txt", ["a.txt"], ["ab.txt", "/.txt"]],
    ["[a-c]x", ["ax", "cx"], ["dx", "Ax"]],
    ["[!a]x", ["bx"], ["ax", "/x"]],
    ["a.b+c(d)", ["a.b+c(d)"], ["aXb+c(d)", "a.bbc(d)"]],
    ["[]]", ["]"], ["x"]],
  ];
  for (const [pattern, yes, no] of cases) {
    const re = globToRegExp(pattern);
    for (const s of yes) assert.ok(re.test(s), `${pattern} matches ${s}`);
    for (const s of no) assert.ok(!re.test(s), `${pattern} does not match ${s}`);
  }
  assert.throws(() => globToRegExp(""), /empty pattern/);
  assert.throws(() => globToRegExp("a[b"), /pattern 'a\[b': '\[' is not closed/);
});

Deno.test("pathFilter: excludes win; names, directory parts and whole paths; includes on names", () => {
  const counts = pathFilter(["*.html", "conf/*.json"], ["tmp", "*.log", "cache/**"]);
  const cases: Array<[string, boolean]> = [
    ["a.html", true],
    ["x/y/a.html", true],
    ["conf/app.json", true],
    ["x/conf/app.json", false], // a pattern with "/" is the whole relative path
    ["a.css", false], // not included
    ["tmp/a.html", false], // a directory part excluded
    ["x/tmp/a.html", false],
    ["a.log", false],
    ["cache/z/a.html", false],
    ["x\\y\\a.html", true], // Windows separators
  ];
  for (const [path, want] of cases) assert.equal(counts(path), want, path);
  const all = pathFilter([], []);
  assert.ok(all("anything/at.all"), "no patterns: every file counts");
  assert.ok(!pathFilter([], ["*.log"])("d/a.log"));
  assert.ok(pathFilter([], ["*.log"])("d/a.txt"));
});

Deno.test("a pattern that cannot be read is a usage error (exit 2) naming it", async () => {
  for (const flag of ["--reload-include", "--reload-exclude"]) {
    const p = await startLsbaws(["--reload", flag, "a[", "apps/hello.ts:app"], {
      waitListening: false,
    });
    const status = await p.status;
    await p.stop();
    assert.equal(status.code, 2, `${flag}: ${p.err.join("\n")}`);
    assert.match(p.err.join("\n"), /lsbaws: error: pattern 'a\[': '\[' is not closed/);
  }
});

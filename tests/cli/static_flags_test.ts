/**
 * `--static` and `--static-max-age` on the command line: values are collected and checked when
 * the command line is parsed (a bad one is a usage error, exit 2, naming it), a missing directory
 * is a boot error (exit 3, naming it) in a single process and under the supervisor.
 */
import assert from "node:assert/strict";
import { main, type MainDeps } from "../../main.ts";
import { DEFAULTS, EXIT_BOOT_ERROR, EXIT_USAGE, parseCli } from "../../server/config.ts";
import { startLsbaws } from "../_support/proc.ts";

const root = new URL("../../", import.meta.url).pathname;
const APP = "apps/hello.ts:app";

function capture(): { deps: MainDeps; err: string[] } {
  const err: string[] = [];
  const deps: MainDeps = {
    env: {},
    cwd: root,
    stdout: { write: () => {} },
    stderr: { write: (t) => void err.push(t) },
    onSignal: () => () => {},
  };
  return { deps, err };
}

Deno.test("--static is repeatable, --static-max-age an integer; defaults stay untouched", () => {
  const r = parseCli(["--static", "/a=x", "--static=/b=y", "--static-max-age", "60", APP]);
  assert.equal(r.kind, "run");
  if (r.kind !== "run") return;
  assert.deepEqual(r.config.staticMounts, ["/a=x", "/b=y"]);
  assert.equal(r.config.staticMaxAgeSeconds, 60);
  assert.deepEqual(DEFAULTS.staticMounts, [], "the default list is not shared");
  const plain = parseCli([APP]);
  assert.ok(plain.kind === "run" && plain.config.staticMounts.length === 0);
  assert.ok(plain.kind === "run" && plain.config.staticMaxAgeSeconds === 0);
});

Deno.test("a bad --static value is a usage error (exit 2) naming the value", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--static", "public"], /--static 'public': expected URL_PREFIX=DIR/],
    [["--static", "s=public"], /'s=public': URL prefix must start with '\/'/],
    [["--static", "/s/../x=public"], /'\/s\/\.\.\/x=public': bad URL prefix segment '\.\.'/],
    [["--static", "/s%2f=public"], /bad URL prefix segment 's%2f'/],
    [["--static", "/s="], /'\/s=': empty directory/],
    [["--static", "/s=a", "--static", "/s/=b"], /URL prefix '\/s' used twice/],
    [["--static-max-age", "-5"], /--static-max-age expects a non-negative integer/],
    [["--static-max-age", "2147483649"], /--static-max-age must be at most 2147483648/],
  ];
  for (const [args, message] of cases) {
    const c = capture();
    assert.equal(await main(["-p", "0", ...args, APP], c.deps), EXIT_USAGE, args.join(" "));
    assert.match(c.err.join(""), /^lsbaws: error: /);
    assert.match(c.err.join(""), message);
  }
});

Deno.test("a missing or non-directory --static DIR is a boot error (exit 3) naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-static-flags-" });
  try {
    await Deno.writeTextFile(`${dir}/file.txt`, "x");
    for (const bad of [`${dir}/missing`, `${dir}/file.txt`]) {
      const c = capture();
      const args = ["-p", "0", "--static", `/ok=${dir}`, "--static", `/s=${bad}`, APP];
      assert.equal(await main(args, c.deps), EXIT_BOOT_ERROR, bad);
      assert.match(c.err.join(""), /^lsbaws: cannot serve static files: /);
      assert.ok(c.err.join("").includes(`--static /s=${bad}`), c.err.join(""));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with -w 2 a missing --static DIR stops the supervisor (exit 3) before any worker", async () => {
  const p = await startLsbaws(["-w", "2", "-p", "0", "--static", "/s=/nonexistent/lsbaws", APP], {
    waitListening: false,
  });
  const s = await p.status;
  await p.stop();
  assert.equal(s.code, EXIT_BOOT_ERROR);
  assert.ok(p.err.some((l) => l.includes("--static /s=/nonexistent/lsbaws")), p.err.join("\n"));
  assert.equal(p.listening().length, 0);
});

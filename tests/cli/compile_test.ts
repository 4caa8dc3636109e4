/**
 * `deno task compile` builds ./lsbaws with the shipped framework examples' npm packages embedded,
 * and the binary loads app files from disk at run time: `./lsbaws apps/hello.ts:app` serves hello
 * world and `./lsbaws apps/frameworks/hono.ts` serves Hono from the embedded packages.
 *
 * A compiled binary reads and transpiles a `.ts` app from disk, but that module's `npm:`, `jsr:`
 * and `https:` imports resolve only against what was embedded at compile time. So the compile
 * task runs under the examples' config and lock (apps/frameworks/deno.json) and passes
 * `--include` for every example; the first test checks that it does, with or without `denort`.
 *
 * `deno compile` needs `denort`, which it downloads from Deno's release site unless `DENORT_BIN`
 * points at one or Deno's cache already holds it. When neither is available the build test is
 * skipped and says why on stderr; it never pretends to pass.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const EXAMPLES = "apps/frameworks";

Deno.test("deno task compile embeds every framework example under the examples' config", async () => {
  const task: string = JSON.parse(await Deno.readTextFile(`${root}deno.json`)).tasks.compile;
  const args = task.split(/\s+/);
  const flag = (name: string) => args.flatMap((a, i) => a === name ? [args[i + 1]] : []);
  assert.deepEqual(flag("--config"), [`${EXAMPLES}/deno.json`], task);
  const examples: string[] = [];
  for await (const e of Deno.readDir(`${root}${EXAMPLES}`)) {
    if (e.isFile && e.name.endsWith(".ts")) examples.push(`${EXAMPLES}/${e.name}`);
  }
  assert.ok(examples.length >= 5, examples.join(" "));
  assert.deepEqual(flag("--include").sort(), examples.sort(), task);
  assert.equal(args.at(-1), "main.ts", task);
});

function findDenort(): string | null {
  const env = Deno.env.get("DENORT_BIN");
  if (env) {
    try {
      if (Deno.statSync(env).isFile) return env;
    } catch {
      // fall through
    }
  }
  const home = Deno.env.get("HOME") ?? "/root";
  const dirs = [Deno.env.get("DENO_DIR"), `${home}/.cache/deno`].filter(Boolean) as string[];
  const v = Deno.version.deno;
  for (const d of dirs) {
    for (const name of [`denort-x86_64-unknown-linux-gnu.zip`, `denort`]) {
      const p = `${d}/dl/release/v${v}/${name}`;
      try {
        if (Deno.statSync(p).isFile) return p;
      } catch {
        // not cached
      }
    }
  }
  return null;
}

const denort = findDenort();
const skipReason = denort === null
  ? "SKIPPED compile test: no denort available (set DENORT_BIN to a denort binary for " +
    `Deno ${Deno.version.deno}; Deno's release site is unreachable from this machine)\n`
  : "";
if (skipReason) Deno.stderr.writeSync(new TextEncoder().encode(skipReason));

/** Runs the compiled binary on `spec` (a path from the project root), calls `fn` with its port. */
async function serveFromBinary(
  bin: string,
  spec: string,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const child = new Deno.Command(bin, {
    args: ["--port", "0", "--shutdown-grace-ms", "0", spec],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const errText = child.stderr.pipeThrough(new TextDecoderStream());
  const errLines: string[] = [];
  const errDone = (async () => {
    for await (const t of errText) errLines.push(t);
  })();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let banner = "";
    while (!/listening on http:\/\/[^:]+:(\d+)/.test(banner)) {
      const { value, done } = await reader.read();
      if (done) break;
      banner += value;
    }
    const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(banner)?.[1]);
    assert.ok(port > 0, `${spec}: no listening banner: ${banner}\n${errLines.join("")}`);
    await fn(port);
    await reader.cancel();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await errDone;
  }
}

Deno.test({
  name: "deno task compile builds ./lsbaws that serves apps/hello.ts and a framework from disk",
  ignore: denort === null,
  sanitizeResources: false,
  async fn() {
    const bin = `${root}lsbaws`;
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: root,
      env: denort!.endsWith(".zip") ? {} : { DENORT_BIN: denort! },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    try {
      await serveFromBinary(bin, "apps/hello.ts:app", async (port) => {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "Hello, world!\n");
      });
      // Loaded from disk; its npm:hono import resolves against the packages embedded at compile
      // time (the binary has no npm registry to ask).
      await serveFromBinary(bin, `${EXAMPLES}/hono.ts`, async (port) => {
        const home = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(await home.text(), "hono on lsbaws");
        const json = await fetch(`http://127.0.0.1:${port}/json?q=7`);
        assert.deepEqual(await json.json(), { framework: "hono", q: "7" });
      });
    } finally {
      await Deno.remove(bin).catch(() => {});
    }
  },
});

/**
 * `deno task compile` builds ./lsbaws, and `./lsbaws apps/hello.ts:app` loads the app file from
 * disk at run time and serves it.
 *
 * `deno compile` needs `denort`, which it downloads from Deno's release site unless `DENORT_BIN`
 * points at one or Deno's cache already holds it. When neither is available the test is skipped
 * and says why on stderr; it never pretends to pass.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

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

Deno.test({
  name: "deno task compile builds ./lsbaws that serves apps/hello.ts from disk",
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
    const child = new Deno.Command(bin, {
      args: ["--port", "0", "apps/hello.ts:app"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let banner = "";
      while (!/listening on http:\/\/[^:]+:(\d+)/.test(banner)) {
        const { value, done } = await reader.read();
        if (done) break;
        banner += value;
      }
      const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(banner)?.[1]);
      assert.ok(port > 0, `no listening banner: ${banner}`);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "Hello, world!\n");
      reader.cancel();
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel().catch(() => {});
      await Deno.remove(bin).catch(() => {});
    }
  },
});

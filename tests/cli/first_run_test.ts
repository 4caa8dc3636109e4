/**
 * The first run needs nothing from the network: `deno task start` with an empty Deno cache
 * (a fresh `DENO_DIR`) serves apps/hello.ts without downloading a single package.
 *
 * Contract:
 * - The project's own lock (deno.lock) names no npm, JSR or remote module, and deno.json imports
 *   none: `deno task` installs every npm package of the lock before it runs a task, so one entry
 *   there would be fetched before hello world. The framework examples keep their packages in
 *   their own config and lock (apps/frameworks/deno.json, apps/frameworks/deno.lock).
 * - `deno task start --port 0` under a fresh `DENO_DIR` answers `GET /` with "Hello, world!", prints
 *   no "Download" line, and leaves no npm package and no remote module (https or JSR) in that
 *   `DENO_DIR`. Local TypeScript is transpiled on the spot, so nothing else is fetched either.
 */
import assert from "node:assert/strict";
import { childrenOf, delay, isAlive, PROJECT_ROOT } from "../_support/proc.ts";

/** Sections of a Deno lockfile that name packages or remote modules. */
const PACKAGE_SECTIONS = ["specifiers", "npm", "jsr", "remote", "redirects"];

Deno.test("the project's deno.json and deno.lock name no npm, JSR or remote package", async () => {
  const lock = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}deno.lock`));
  for (const section of PACKAGE_SECTIONS) {
    assert.deepEqual(Object.keys(lock[section] ?? {}), [], `deno.lock "${section}"`);
  }
  const config = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}deno.json`));
  for (const [name, target] of Object.entries(config.imports ?? {})) {
    assert.ok(!/^(npm|jsr|https?):/.test(String(target)), `deno.json imports ${name}: ${target}`);
  }
});

async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  for await (const text of stream.pipeThrough(new TextDecoderStream())) sink.push(text);
}

/** Every file and folder under `dir`, relative to it ([] when `dir` does not exist). */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
      const rel = `${prefix}${e.name}`;
      out.push(rel);
      if (e.isDirectory) out.push(...await tree(dir, `${rel}/`));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out;
}

Deno.test({
  name: "deno task start with an empty DENO_DIR serves hello world and downloads nothing",
  async fn() {
    const denoDir = await Deno.makeTempDir({ prefix: "lsbaws-first-run-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "start", "--port", "0"],
      cwd: PROJECT_ROOT,
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out: string[] = [];
    const err: string[] = [];
    const pumps = Promise.all([collect(child.stdout, out), collect(child.stderr, err)]);
    let exited = false;
    const status = child.status.finally(() => (exited = true));
    const seen = new Set<number>();
    try {
      const banner = /listening on http:\/\/[^\s:]+:(\d+)/;
      const deadline = Date.now() + 60_000;
      while (!banner.test(out.join("")) && !exited && Date.now() < deadline) {
        for (const c of childrenOf(child.pid)) seen.add(c.pid);
        await delay(25);
      }
      const port = Number(banner.exec(out.join(""))?.[1]);
      assert.ok(
        port > 0,
        `no listening banner\nstdout:\n${out.join("")}\nstderr:\n${err.join("")}`,
      );
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } });
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.match(body, /Hello/);
      assert.equal(body, "Hello, world!\n");
    } finally {
      // `deno task` passes SIGTERM on to lsbaws; any process of ours still alive then is killed.
      for (const c of childrenOf(child.pid)) seen.add(c.pid);
      if (!exited) child.kill("SIGTERM");
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 15_000);
      await status;
      clearTimeout(timer);
      await pumps;
      for (const pid of seen) {
        try {
          if (isAlive(pid)) Deno.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    const log = err.join("") + out.join("");
    assert.doesNotMatch(log, /Download/, log);
    const cached = await tree(denoDir);
    await Deno.remove(denoDir, { recursive: true });
    const fetched = cached.filter((p) => /^(npm|remote|deps)\//.test(p));
    assert.deepEqual(fetched, [], "packages or remote modules in the fresh DENO_DIR");
  },
});

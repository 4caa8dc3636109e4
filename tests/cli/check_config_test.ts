/**
 * `--check-config` (gunicorn's): checks the settings, loads the app and tries the TLS pair, then
 * exits without serving: 0 and one line on stdout when all is well, the start-up exit code and
 * message otherwise. It binds nothing (a taken port does not matter), starts no worker and writes
 * no pid file.
 */
import assert from "node:assert/strict";
import { main, type MainDeps } from "../../main.ts";
import { EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR, EXIT_USAGE } from "../../server/config.ts";
import { hasOpenssl, makeCert } from "../_support/tls.ts";

const root = new URL("../../", import.meta.url).pathname;

/** Runs `main(args)` in-process and collects its output; fails if it ever listens. */
async function check(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const deps: MainDeps = {
    env: {},
    cwd: root,
    stdout: { write: (t) => void out.push(t) },
    stderr: { write: (t) => void err.push(t) },
    onSignal: () => () => {},
    onListen: () => assert.fail("--check-config must not serve"),
  };
  const code = await main(["--check-config", ...args], deps);
  return { code, out: out.join(""), err: err.join("") };
}

Deno.test("--check-config loads a gateway app and a fetch app and exits 0 without binding or starting workers", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String((taken.addr as Deno.NetAddr).port);
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-check-" });
  try {
    const gw = await check(["-p", port, "-w", "4", "--pid", `${dir}/x.pid`, "apps/hello.ts:app"]);
    assert.equal(gw.code, 0, gw.err);
    assert.equal(gw.out, "lsbaws: configuration OK: apps/hello.ts:app loads as a gateway app\n");
    assert.doesNotMatch(gw.err, /worker|listening/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no pid file written");
    const fetchApp = await check(["-p", port, "tests/fixtures/apps/info.ts"]);
    assert.equal(fetchApp.code, 0, fetchApp.err);
    assert.match(fetchApp.out, /loads as a fetch app\n$/);
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--check-config reports an app that cannot be loaded with exit code 4 and where it threw", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-check-" });
  try {
    const missing = await check(["apps/nope.ts"]);
    assert.equal(missing.code, EXIT_APP_LOAD_ERROR);
    assert.match(
      missing.err,
      /^lsbaws: cannot load app: app module not found: .*apps\/nope\.ts\n$/,
    );
    assert.equal(missing.out, "");
    Deno.writeTextFileSync(`${dir}/boom.ts`, `export const app = 1;\nthrow new Error("boom");\n`);
    const boom = await check([`${dir}/boom.ts:app`]);
    assert.equal(boom.code, EXIT_APP_LOAD_ERROR);
    assert.match(boom.err, /boom\n {4}at file:\/\/.*\/boom\.ts:2:7\n$/);
    Deno.writeTextFileSync(`${dir}/number.ts`, `export const app = 42;\n`);
    const notApp = await check([`${dir}/number.ts:app`]);
    assert.equal(notApp.code, EXIT_APP_LOAD_ERROR, "a number is no app");
    assert.match(notApp.err, /^lsbaws: cannot load app: .*number\.ts/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--check-config: bad settings exit 2, a TLS pair that does not work exits 3", async () => {
  const bad = await check(["--port", "x", "apps/hello.ts:app"]);
  assert.equal(bad.code, EXIT_USAGE);
  const tls = await check([
    "--certfile",
    "README.md",
    "--keyfile",
    "README.md",
    "apps/hello.ts:app",
  ]);
  assert.equal(tls.code, EXIT_BOOT_ERROR);
  assert.match(tls.err, /^lsbaws: cannot use --certfile\/--keyfile: .*certificate/);
  assert.doesNotMatch(tls.err, /\n {4}at /, "no stack trace");
  const gone = await check([
    "--certfile",
    "/nonexistent/c.pem",
    "--keyfile",
    "/nonexistent/k.pem",
    "apps/hello.ts:app",
  ]);
  assert.equal(gone.code, EXIT_BOOT_ERROR);
  assert.match(gone.err, /No such file/);
});

if (!hasOpenssl) {
  Deno.stderr.writeSync(
    new TextEncoder().encode("check_config_test: good TLS pair skipped: needs openssl\n"),
  );
}

Deno.test({
  name:
    "--check-config accepts a working TLS pair and refuses a key that belongs to another certificate",
  ignore: !hasOpenssl,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-check-" });
    try {
      const a = await makeCert(dir, "a");
      const b = await makeCert(dir, "b");
      const good = await check([
        "--certfile",
        a.cert,
        "--keyfile",
        a.key,
        "apps/hello.ts:app",
      ]);
      assert.equal(good.code, 0, good.err);
      const mixed = await check([
        "--certfile",
        a.cert,
        "--keyfile",
        b.key,
        "apps/hello.ts:app",
      ]);
      assert.equal(mixed.code, EXIT_BOOT_ERROR, "a key that does not match the certificate");
      assert.match(mixed.err, /^lsbaws: cannot use --certfile\/--keyfile: /);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

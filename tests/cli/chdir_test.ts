/**
 * `--chdir DIR` (gunicorn's): lsbaws changes to DIR before anything else, so the app spec, static
 * directories and log and pid files given as relative paths are found there, in a single process
 * and in every worker; a directory that cannot be entered is a boot error (exit 3).
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../_support/proc.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A directory with an app that imports lsbaws's gateway types by absolute URL and a static file. */
async function project(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-chdir-" });
  await Deno.mkdir(`${dir}/public`);
  await Deno.writeTextFile(`${dir}/public/hello.txt`, "static hello\n");
  await Deno.writeTextFile(
    `${dir}/app.ts`,
    `export default { fetch: () => new Response(Deno.cwd() + " " + Deno.pid) };\n`,
  );
  return dir;
}

for (const workers of ["1", "2"]) {
  Deno.test(`--chdir: the app, --static, the access log and the pid file are found in DIR (-w ${workers})`, async () => {
    const dir = await project();
    try {
      const p = await startLsbaws([
        "-w",
        workers,
        "-p",
        "0",
        "--chdir",
        dir,
        "--static",
        "/static=public",
        "--access-log",
        "access.log",
        "--pid",
        "app.pid",
        "app.ts",
      ]);
      try {
        const base = `http://127.0.0.1:${p.port()}`;
        if (workers === "2") await p.waitFor(() => p.workers().length === 2, "2 workers");
        const res = await fetch(`${base}/`, { headers: { Connection: "close" } });
        const [cwd, pid] = (await res.text()).split(" ");
        assert.equal(cwd, await Deno.realPath(dir), "the app runs in DIR");
        if (workers === "2") assert.ok(p.workers().includes(Number(pid)));
        const file = await fetch(`${base}/static/hello.txt`, { headers: { Connection: "close" } });
        assert.equal(await file.text(), "static hello\n");
        assert.equal(Deno.readTextFileSync(`${dir}/app.pid`), `${p.pid}\n`);
        await p.waitFor(() => {
          try {
            return Deno.readTextFileSync(`${dir}/access.log`).includes("GET /static/hello.txt");
          } catch {
            return false;
          }
        }, "the access log in DIR");
      } finally {
        assert.equal((await p.stop()).code, 0);
      }
      for (const f of ["access.log", "app.pid"]) {
        assert.throws(
          () => Deno.statSync(`${ROOT}/${f}`),
          Deno.errors.NotFound,
          `no ${f} in the old cwd`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("--chdir to a directory that does not exist is a boot error (exit 3)", async () => {
  const p = await startLsbaws(["-p", "0", "--chdir", "no-such-dir-lsbaws", "app.ts"], {
    waitListening: false,
  });
  const status = await p.status;
  assert.equal(status.code, 3);
  assert.deepEqual(p.err, [
    `lsbaws: cannot change directory to ${ROOT}no-such-dir-lsbaws: No such file or directory (os error 2): chdir '${ROOT}no-such-dir-lsbaws'`,
  ]);
});

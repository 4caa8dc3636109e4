/**
 * HUP reads the settings again (gunicorn's "reload the configuration"), with real processes: a
 * changed `workers` in the `--config` file changes how many workers the new generation has, a
 * worker-level setting (`serverHeader`) reaches the new workers, a HUP that leaves `workers` as it
 * was keeps a TTOU adjustment, a file that no longer parses restarts nothing (the same workers
 * keep serving, the error is logged), and a setting fixed at start (`port`) is named in a warning
 * and left as it is. The pure rules are tested at the end.
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../../_support/proc.ts";
import { type Config, DEFAULTS } from "../../../server/config.ts";
import { createLogger } from "../../../server/log.ts";
import { rereadOnHup } from "../../../server/process/reconfigure.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

function readyCount(err: string[]): number {
  return err.filter((l) => /worker \d+ \(pid \d+\) is ready/.test(l)).length;
}

async function serverHeader(port: number): Promise<string | null> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { Connection: "close" } });
  await res.body?.cancel();
  return res.headers.get("server");
}

Deno.test("HUP applies a changed --config file: workers, worker settings; bad files and fixed settings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-hupcfg-" });
  const file = `${dir}/lsbaws.jsonc`;
  const write = (o: Record<string, unknown>) => Deno.writeTextFileSync(file, JSON.stringify(o));
  write({ workers: 2, serverHeader: "v1", port: 0 });
  const p = await startLsbaws(["--config", file, APP]);
  try {
    const port = p.port();
    await p.waitFor(() => readyCount(p.err) === 2 && p.workers().length === 2, "2 workers");
    assert.equal(await serverHeader(port), "v1");

    // 1. More workers and a new Server header.
    write({ workers: 3, serverHeader: "v2", port: 0 });
    p.signal("SIGHUP");
    await p.waitForErr(/SIGHUP: settings changed: --server-header "v1" → "v2", --workers 2 → 3/);
    await p.waitForErr(/SIGHUP: rolling restart, starting 3 new worker\(s\) \(generation 2\)/);
    await p.waitFor(() => readyCount(p.err) === 5 && p.workers().length === 3, "3 new workers");
    assert.equal(await serverHeader(port), "v2");

    // 2. TTOU, then a HUP that leaves `workers` alone: the adjustment stays.
    p.signal("SIGTTOU");
    await p.waitFor(() => p.workers().length === 2, "2 workers after TTOU");
    write({ workers: 3, serverHeader: "v3", port: 0 });
    p.signal("SIGHUP");
    await p.waitForErr(/SIGHUP: rolling restart, starting 2 new worker\(s\) \(generation 3\)/);
    await p.waitFor(() => readyCount(p.err) === 7 && p.workers().length === 2, "2 new workers");
    assert.equal(await serverHeader(port), "v3");

    // 3. A file that does not parse: logged, nothing restarts.
    const before = p.workers().sort();
    Deno.writeTextFileSync(file, '{ "workers": "many" ');
    p.signal("SIGHUP");
    await p.waitForErr(/SIGHUP: the settings do not read \(.*\); keeping the running workers/);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!p.err.some((l) => /generation 4/.test(l)), "no new generation");
    assert.deepEqual(p.workers().sort(), before);
    assert.equal(await serverHeader(port), "v3");

    // 4. A setting fixed at start: a warning; the port stays.
    write({ workers: 3, serverHeader: "v3", port: port + 1 });
    p.signal("SIGHUP");
    await p.waitForErr(/SIGHUP: --port changed; a full restart applies that/);
    await p.waitForErr(/generation 4/);
    await p.waitFor(() => readyCount(p.err) === 9, "the new generation");
    assert.equal(await serverHeader(port), "v3");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rereadOnHup: fixed settings kept, changes listed (secrets hidden), a throwing reader restarts nothing", () => {
  const lines: string[] = [];
  const log = createLogger({
    level: "debug",
    accessLog: "",
    accessLogFormat: "common",
    errorSink: { write: (t) => void lines.push(t) },
  });
  const current: Config = { ...DEFAULTS, workers: 2, bind: ["127.0.0.1:1"], timeout: 30 };
  const next = rereadOnHup(
    current,
    () => ({ ...current, workers: 4, bind: ["127.0.0.1:2"], logLevel: "debug", timeout: 60 }),
    log,
  )!;
  assert.equal(next.workers, 4);
  assert.equal(next.timeout, 60);
  assert.deepEqual(next.bind, ["127.0.0.1:1"], "bind kept");
  assert.equal(next.logLevel, "info", "log level kept");
  assert.match(lines.join(""), /\[WARNING\] SIGHUP: --bind, --log-level changed; a full restart/);
  assert.match(
    lines.join(""),
    /\[INFO\] SIGHUP: settings changed: --workers 2 → 4, --timeout 30 → 60/,
  );
  assert.equal(
    rereadOnHup(current, () => {
      throw new Error("bad file");
    }, log),
    null,
  );
  assert.match(lines.join(""), /\[ERROR\] SIGHUP: the settings do not read \(bad file\)/);
  lines.length = 0;
  assert.deepEqual(rereadOnHup(current, () => ({ ...current }), log), current);
  assert.deepEqual(lines, [], "nothing changed, nothing said");
  // A secret is said to have changed, never shown.
  const keyed = { ...current, keyfilePassword: "old secret" };
  rereadOnHup(keyed, () => ({ ...keyed, keyfilePassword: "new secret" }), log);
  assert.match(
    lines.join(""),
    /SIGHUP: settings changed: --keyfile-password "<hidden>" → "<hidden>"/,
  );
  assert.ok(!lines.join("").includes("secret"), lines.join(""));
});

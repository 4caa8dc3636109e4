/**
 * `--capture-output` (gunicorn's): with `--error-log FILE`, what the app prints to stdout lands in
 * the error log, from every worker and also with one worker (a supervisor runs then), and a line
 * that looks like a worker control message is written as it is, never obeyed; without an error
 * log file it warns and the output stays on stdout.
 */
import assert from "node:assert/strict";
import { freePort, type Proc, reachEachWorker, startLsbaws } from "../../_support/proc.ts";

const APP = "tests/fixtures/apps/prints.ts";

async function hello(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { Connection: "close" } });
  return Number(await res.text());
}

/** Waits until the error log at `path` holds a hello from each of `pids`; returns its text. */
async function logWithHellos(p: Proc, path: string, pids: Iterable<number>): Promise<string> {
  let text = "";
  const all = () => {
    text = Deno.readTextFileSync(path);
    return [...pids].every((pid) => text.includes(`app says hello from ${pid}\n`));
  };
  await p.waitFor(all, "every worker's print in the error log");
  return text;
}

for (const workers of [2, 1]) {
  Deno.test(`--capture-output -w ${workers}: the app's stdout goes to the --error-log file`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-capture-" });
    const log = `${dir}/error.log`;
    const port = freePort();
    const p = await startLsbaws([
      "-w",
      String(workers),
      "--capture-output",
      "--error-log",
      log,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      APP,
    ]);
    try {
      await p.waitFor(
        () => p.workers().length === workers,
        `${workers} worker(s) under a supervisor`,
      );
      const { pids } = await reachEachWorker(p.workers(), () => hello(port));
      assert.equal(pids.size, workers);
      const text = await logWithHellos(p, log, pids);
      assert.ok(text.includes('\x1elsbaws:{"t":"recycle","requests":1}\n'), "written, not obeyed");
      assert.ok(!text.includes("recycling"), "no worker was recycled by it");
      assert.ok(!p.out.some((l) => l.includes("app says hello")), "nothing on stdout");
    } finally {
      await p.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("--capture-output without an --error-log file warns; the output stays on stdout", async () => {
  const port = freePort();
  const p = await startLsbaws([
    "--capture-output",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    APP,
  ]);
  try {
    const pid = await hello(port);
    assert.equal(pid, p.pid, "a single process, no supervisor");
    await p.waitFor(() => p.out.some((l) => l === `app says hello from ${pid}`), "stdout");
    assert.ok(
      p.err.some((l) => /--capture-output needs --error-log FILE/.test(l)),
      p.err.join("\n"),
    );
  } finally {
    await p.stop();
  }
});

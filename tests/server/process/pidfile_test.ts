/**
 * `--pid FILE`: `claimPidFile` writes the pid, refuses a file naming a running process, replaces
 * a stale or empty one, and gives the file up only while it still names us; a real server writes
 * its own pid (the supervisor's with workers), removes the file when it stops, and a second server
 * given the same file stops with exit code 3 and leaves the first one's file alone.
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../../_support/proc.ts";
import { claimPidFile, PidFileError, processRuns } from "../../../server/process/pidfile.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-pid-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A pid that no process has: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("claimPidFile writes the pid atomically and the release removes it", () =>
  withDir((dir) => {
    const path = `${dir}/app.pid`;
    const release = claimPidFile(path, 4242);
    assert.equal(Deno.readTextFileSync(path), "4242\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["app.pid"], "no temp file");
    release();
    assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
    release(); // a second release is harmless
  }));

Deno.test("claimPidFile refuses a file naming a running process and leaves it as it was", async () => {
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    await withDir((dir) => {
      const path = `${dir}/app.pid`;
      Deno.writeTextFileSync(path, `${sleeper.pid}\n`);
      assert.throws(
        () => claimPidFile(path, 4242),
        (err: unknown) =>
          err instanceof PidFileError &&
          err.message === `pid file ${path} says lsbaws is already running as PID ${sleeper.pid}`,
      );
      assert.equal(Deno.readTextFileSync(path), `${sleeper.pid}\n`);
    });
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
});

Deno.test("claimPidFile replaces a stale file, an empty one and one naming ourselves", async () => {
  const dead = await deadPid();
  assert.equal(processRuns(dead), false);
  assert.equal(processRuns(Deno.pid), true);
  await withDir((dir) => {
    const path = `${dir}/app.pid`;
    for (const before of [`${dead}\n`, "", "garbage\n", "4242\n"]) {
      Deno.writeTextFileSync(path, before);
      const release = claimPidFile(path, 4242);
      assert.equal(Deno.readTextFileSync(path), "4242\n", `replaces ${JSON.stringify(before)}`);
      release();
    }
  });
});

Deno.test("a zombie does not count as running", async () => {
  // `sh` starts a child that exits 1 s later, by when `sh` has become `sleep 30`, which never
  // reaps it. (A child that exits at once may be reaped by `sh` itself before the exec.)
  const sh = new Deno.Command("sh", {
    args: ["-c", "sleep 1 & echo $!; exec sleep 30"],
    stdout: "piped",
  }).spawn();
  try {
    const reader = sh.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    const zombie = Number(new TextDecoder().decode(value).trim());
    const end = Date.now() + 5000;
    while (processRuns(zombie) !== false && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(Deno.readTextFileSync(`/proc/${zombie}/stat`).includes(") Z "), "it is a zombie");
    assert.equal(processRuns(zombie), false);
  } finally {
    sh.kill("SIGKILL");
    await sh.status;
    await sh.stdout.cancel().catch(() => {});
  }
});

Deno.test("the release leaves a pid file another server has claimed since", () =>
  withDir((dir) => {
    const path = `${dir}/app.pid`;
    const release = claimPidFile(path, 4242);
    Deno.writeTextFileSync(path, "4343\n");
    release();
    assert.equal(Deno.readTextFileSync(path), "4343\n");
  }));

Deno.test("claimPidFile reports a directory that does not exist", () => {
  assert.throws(
    () => claimPidFile("/nonexistent-lsbaws-dir/app.pid", 4242),
    (err: unknown) =>
      err instanceof PidFileError &&
      /^cannot write pid file \/nonexistent-lsbaws-dir\/app\.pid: No such file/.test(err.message),
  );
});

/** Runs `main.ts ARGS` to its end, killed after 20 s if it is still running (a server that
 * should have been refused would serve forever). */
async function runBounded(args: string[]): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-net", "-A", "main.ts", ...args],
    cwd: new URL("../../../", import.meta.url).pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    return await child.output();
  } finally {
    clearTimeout(timer);
  }
}

for (const workers of [1, 2]) {
  Deno.test(`--pid FILE with -w ${workers}: the signalled process's pid while serving, removed at stop; a second server is refused`, async () => {
    await withDir(async (dir) => {
      const path = `${dir}/lsbaws.pid`;
      const p = await startLsbaws(["-w", String(workers), "-p", "0", "--pid", path, APP]);
      try {
        assert.equal(Deno.readTextFileSync(path), `${p.pid}\n`);
        if (workers > 1) {
          await p.waitFor(() => p.workers().length === workers, `${workers} workers`);
          assert.ok(!p.workers().includes(Number(Deno.readTextFileSync(path))));
        }
        const second = await runBounded(["-p", "0", "--pid", path, APP]);
        const err = new TextDecoder().decode(second.stderr);
        assert.equal(second.code, 3, err);
        assert.equal(
          err,
          `lsbaws: error: pid file ${path} says lsbaws is already running as PID ${p.pid}\n`,
        );
        assert.equal(
          new TextDecoder().decode(second.stdout),
          "",
          "the second server never listened",
        );
        assert.equal(Deno.readTextFileSync(path), `${p.pid}\n`, "the first server's file stays");
        const res = await fetch(`http://127.0.0.1:${p.port()}/env`, {
          headers: { Connection: "close" },
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      } finally {
        assert.equal((await p.stop()).code, 0);
      }
      assert.throws(() => Deno.statSync(path), Deno.errors.NotFound, "removed at stop");
    });
  });
}

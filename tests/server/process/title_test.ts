/**
 * Process titles (gunicorn's `setproctitle`): the `/proc/PID/stat` parsing and the byte layout,
 * then real processes: `-w 2` shows `lsbaws: master [NAME]` and `lsbaws: worker [NAME]` in
 * `/proc/PID/cmdline` and `comm` (a HUP's new workers too) while the app still reads its
 * environment, `--name` replaces the app spec, and `--no-proc-title` and a single process keep
 * their command lines. The process tests need Linux's `/proc`; elsewhere they skip and say why.
 */
import assert from "node:assert/strict";
import { argumentArea, processTitle, titleBytes } from "../../../server/process/title.ts";
import { freePort, type Proc, reachEachWorker, startLsbaws } from "../../_support/proc.ts";

const APP = "tests/fixtures/apps/env_var.ts";
const LINUX = Deno.build.os === "linux";

Deno.test("the argument area is read after the command name's last ')'", () => {
  const tail = Array.from({ length: 50 }, (_, i) => String(i + 3));
  tail[45] = "140737488347000";
  tail[46] = "140737488347100";
  const stat = `4242 (a) b (c)) ${tail.join(" ")}\n`;
  assert.deepEqual(argumentArea(stat), { start: 140737488347000n, end: 140737488347100n });
  assert.equal(argumentArea("4242 no parenthesis"), null);
  assert.equal(argumentArea("4242 (short) S 1 2"), null, "fields missing");
  tail[46] = tail[45];
  assert.equal(argumentArea(`1 (x) ${tail.join(" ")}`), null, "an empty area");
});

Deno.test("the title fills the area, cut at a character and NUL-terminated", () => {
  assert.equal(processTitle("worker", "app.ts:app"), "lsbaws: worker [app.ts:app]");
  const fits = titleBytes("ab", 5);
  assert.deepEqual([...fits], [97, 98, 0, 0, 0]);
  assert.deepEqual([...titleBytes("abcdef", 4)], [97, 98, 99, 0], "cut, the last byte NUL");
  assert.deepEqual([...titleBytes("aé", 3)], [97, 0, 0], "é (2 bytes) does not fit whole");
  assert.equal(titleBytes("x", 0).length, 0);
});

function cmdline(pid: number): string {
  return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replace(/\0+$/, "").replaceAll("\0", " ");
}

function comm(pid: number): string {
  return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
}

/** Checks both workers' titles, and that each still reads its environment (`GREETING`). */
async function expectWorkerTitles(p: Proc, port: number, title: string): Promise<void> {
  await p.waitFor(() => p.workers().length === 2, "2 workers");
  const workers = p.workers();
  const { pids } = await reachEachWorker(workers, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/GREETING`, {
      headers: { Connection: "close" },
    });
    const [value, pid] = (await res.text()).split(/ (?=\d+$)/);
    assert.equal(value, "still here", "the environment after the title");
    return Number(pid);
  });
  assert.equal(pids.size, 2);
  for (const pid of workers) {
    // A worker sets its title just after it starts; it answered, so it is set.
    assert.equal(cmdline(pid), title, `worker ${pid}`);
    assert.equal(comm(pid), "lsbaws worker");
  }
}

Deno.test({
  name: "-w 2: master and worker titles with the app spec; a HUP's workers take theirs",
  ignore: !LINUX,
  fn: async () => {
    const port = freePort();
    const p = await startLsbaws(["-w", "2", "--host", "127.0.0.1", "--port", String(port), APP], {
      env: { GREETING: "still here" },
    });
    try {
      assert.equal(cmdline(p.pid), `lsbaws: master [${APP}]`);
      assert.equal(comm(p.pid), "lsbaws master");
      await expectWorkerTitles(p, port, `lsbaws: worker [${APP}]`);
      const before = p.workers();
      p.signal("SIGHUP");
      await p.waitFor(
        () => p.workers().length === 2 && p.workers().every((w) => !before.includes(w)),
        "two new workers after HUP",
        30_000,
      );
      await expectWorkerTitles(p, port, `lsbaws: worker [${APP}]`);
    } finally {
      await p.stop();
    }
  },
});

Deno.test({
  name: "--name replaces the app spec; --no-proc-title and a single process keep the command line",
  ignore: !LINUX,
  fn: async () => {
    const port = freePort();
    const named = await startLsbaws(
      ["-w", "2", "-n", "shop", "--host", "127.0.0.1", "--port", String(port), APP],
      { env: { GREETING: "still here" } },
    );
    try {
      assert.equal(cmdline(named.pid), "lsbaws: master [shop]");
      await expectWorkerTitles(named, port, "lsbaws: worker [shop]");
    } finally {
      await named.stop();
    }
    for (const extra of [["-w", "2", "--no-proc-title"], []]) {
      const p = await startLsbaws([...extra, "--host", "127.0.0.1", "--port", "0", APP]);
      try {
        if (extra.length > 0) await p.waitFor(() => p.workers().length === 2, "2 workers");
        for (const pid of [p.pid, ...p.workers()]) {
          assert.match(cmdline(pid), /main\.ts .*env_var\.ts$/, `${extra.join(" ")} ${pid}`);
          assert.notEqual(comm(pid), "lsbaws master");
        }
      } finally {
        await p.stop();
      }
    }
  },
});

if (!LINUX) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `title_test: process tests skipped: /proc/PID/cmdline is Linux's (${Deno.build.os})\n`,
    ),
  );
}

/**
 * The access log file through log rotation: `fileSink` follows its path when the file is renamed
 * or removed (checked at most once per interval, on a write), keeps writing to the old file when
 * the path cannot be reopened (one warning), and a real server keeps logging across a rename and a
 * removal, in a single process and with workers. An access log that cannot be opened at start is
 * a boot error (exit 3) with a clear message, not a stack trace.
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../_support/proc.ts";
import { fileSink, FOLLOW_CHECK_MS } from "../../server/log.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "lsbaws-logfile-" });
}

Deno.test("fileSink reopens its path after a rename, at the first write once the interval passed", async () => {
  const dir = await tempDir();
  try {
    let now = 0;
    const path = `${dir}/access.log`;
    const sink = fileSink(path, { now: () => now, checkEveryMs: 1000 });
    sink.write("one\n");
    await Deno.rename(path, `${dir}/access.log.1`);
    now = 999; // within the interval: the open file is still used
    sink.write("two\n");
    now = 2000;
    sink.write("three\n");
    sink.close!();
    assert.equal(await Deno.readTextFile(`${dir}/access.log.1`), "one\ntwo\n");
    assert.equal(await Deno.readTextFile(path), "three\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileSink recreates a removed file; lines written before stay in the old one", async () => {
  const dir = await tempDir();
  try {
    let now = 0;
    const path = `${dir}/access.log`;
    const sink = fileSink(path, { now: () => now, checkEveryMs: 10 });
    sink.write("a\n");
    now = 20;
    sink.write("b\n"); // checked, same file: no reopen
    await Deno.link(path, `${dir}/kept.log`); // the old file stays reachable under this name
    await Deno.remove(path);
    now = 40;
    sink.write("c\n");
    sink.close!();
    assert.equal(await Deno.readTextFile(`${dir}/kept.log`), "a\nb\n");
    assert.equal(await Deno.readTextFile(path), "c\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileSink that cannot reopen keeps the old file, warns once, and recovers", async () => {
  const dir = await tempDir();
  try {
    let now = 0;
    const warnings: string[] = [];
    const path = `${dir}/logs/access.log`;
    await Deno.mkdir(`${dir}/logs`);
    const sink = fileSink(path, {
      now: () => now,
      checkEveryMs: 10,
      warn: (m) => void warnings.push(m),
    });
    sink.write("1\n");
    await Deno.rename(`${dir}/logs`, `${dir}/old`); // the path's directory is gone
    now = 20;
    sink.write("2\n");
    now = 40;
    sink.write("3\n");
    assert.equal(warnings.length, 1, "one warning for a run of failed reopens");
    assert.match(
      warnings[0],
      /cannot reopen log file .*access\.log .*still writing to the old file/,
    );
    await Deno.mkdir(`${dir}/logs`);
    now = 60;
    sink.write("4\n");
    sink.close!();
    assert.equal(await Deno.readTextFile(`${dir}/old/access.log`), "1\n2\n3\n");
    assert.equal(await Deno.readTextFile(path), "4\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileSink throws when the file cannot be opened at all", () => {
  assert.throws(() => fileSink("/nonexistent-lsbaws-dir/access.log"), Deno.errors.NotFound);
});

/** GETs `path` on `port` `n` times over fresh connections and checks every answer is 200. */
async function requests(port: number, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/env?${tag}=${i}`, {
      headers: { Connection: "close" },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
}

/** How many request targets in `file` carry `tag` (0 while the file does not exist). */
function taggedCount(file: string, tag: string): number {
  try {
    return Deno.readTextFileSync(file).split(`/env?${tag}=`).length - 1;
  } catch {
    return 0;
  }
}

/** Lines of `file` whose request target carries `tag`. */
async function taggedLines(file: string, tag: string): Promise<string[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter((l) => l.includes(`/env?${tag}=`));
}

for (const workers of [1, 2]) {
  Deno.test(`a server with --access-log FILE keeps logging across a rename and a removal (-w ${workers})`, async () => {
    const dir = await tempDir();
    const file = `${dir}/access.log`;
    const p = await startLsbaws(["-w", String(workers), "-p", "0", "--access-log", file, APP]);
    try {
      if (workers > 1) {
        await p.waitFor(
          () => p.err.filter((l) => / is ready/.test(l)).length === workers,
          `${workers} workers`,
        );
      }
      const port = p.port();
      await requests(port, 4, "before");
      await p.waitFor(() => taggedCount(file, "before") === 4, "the first lines flushed");
      await Deno.rename(file, `${file}.1`); // logrotate's default (create) mode
      // Lines flushed before a worker's next check may still go to the renamed file; after
      // FOLLOW_CHECK_MS every worker writes to the new one.
      await new Promise((r) => setTimeout(r, FOLLOW_CHECK_MS + 200));
      await requests(port, 6, "after");
      await p.waitFor(() => taggedCount(file, "after") >= 6, "the lines after the rename", 10000);
      await Deno.remove(file);
      await new Promise((r) => setTimeout(r, FOLLOW_CHECK_MS + 200));
      await requests(port, 3, "removed");
      await p.waitFor(
        () => taggedCount(file, "removed") >= 3,
        "the lines after the removal in a recreated file",
        10000,
      );
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
    const rotated = await taggedLines(`${file}.1`, "before");
    assert.equal(rotated.length, 4, "the lines before the rename stay in the renamed file");
    assert.equal((await taggedLines(`${file}.1`, "removed")).length, 0);
    assert.equal((await taggedLines(file, "removed")).length, 3, "no line lost after removal");
    assert.ok(p.err.every((l) => !/cannot reopen/.test(l)), p.err.join("\n"));
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("an --access-log file that cannot be opened is a boot error (exit 3), not a crash", async () => {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "-A",
      "main.ts",
      "-p",
      "0",
      "--access-log",
      "/nonexistent-lsbaws-dir/access.log",
      APP,
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 3, err);
  assert.match(
    err,
    /^lsbaws: cannot open the access log \/nonexistent-lsbaws-dir\/access\.log: No such file or directory/,
  );
  assert.doesNotMatch(err, /Uncaught|\n {4}at /, "no stack trace");
  assert.equal(new TextDecoder().decode(out.stdout), "", "nothing was served");
});

Deno.test("--error-log FILE: a single process's log lines go to the file (following a rename), not stderr", async () => {
  const dir = await tempDir();
  const file = `${dir}/error.log`;
  const p = await startLsbaws(["-p", "0", "--error-log", file, APP]);
  try {
    assert.match(
      p.out.join("\n"),
      /listening on http:\/\/127\.0\.0\.1:\d+/,
      "the banner stays on stdout",
    );
    p.signal("SIGHUP"); // a warning in a single process
    await p.waitFor(
      () => Deno.readTextFileSync(file).includes("SIGHUP ignored"),
      "the warning in the file",
    );
    await Deno.rename(file, `${file}.1`);
    await new Promise((r) => setTimeout(r, FOLLOW_CHECK_MS + 200));
    p.signal("SIGTTIN");
    await p.waitFor(() => {
      try {
        return Deno.readTextFileSync(file).includes("SIGTTIN ignored");
      } catch {
        return false;
      }
    }, "the next warning in a new file");
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
  assert.deepEqual(p.err, [], "nothing on stderr");
  const rotated = await Deno.readTextFile(`${file}.1`);
  assert.match(rotated, /\[WARNING\] SIGHUP ignored/);
  assert.doesNotMatch(rotated, /SIGTTIN/);
  const current = await Deno.readTextFile(file);
  assert.match(current, /\[INFO\] SIGTERM: shutting down gracefully/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--error-log FILE with workers: the supervisor's and the workers' lines go to the file", async () => {
  const dir = await tempDir();
  const file = `${dir}/error.log`;
  // At debug level every worker logs lines of its own (its stop, at least).
  const p = await startLsbaws([
    "-w",
    "2",
    "-p",
    "0",
    "--log-level",
    "debug",
    "--error-log",
    file,
    APP,
  ]);
  let workers: number[] = [];
  try {
    await p.waitFor(() => {
      try {
        return Deno.readTextFileSync(file).split(" is ready").length - 1 === 2;
      } catch {
        return false;
      }
    }, "2 workers ready, in the file");
    workers = p.workers();
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
  assert.deepEqual(p.err, [], "nothing on stderr");
  const text = await Deno.readTextFile(file);
  assert.match(text, new RegExp(`\\[${p.pid}\\] \\[INFO\\] supervisor pid ${p.pid}`));
  for (const w of workers) assert.match(text, new RegExp(`\\[${w}\\] `), `a line from worker ${w}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--error-log FILE: an app that cannot load under a supervisor says so in the file, and stderr points there", async () => {
  const dir = await tempDir();
  const file = `${dir}/error.log`;
  const p = await startLsbaws(["-w", "2", "-p", "0", "--error-log", file, "apps/nope.ts:app"], {
    waitListening: false,
  });
  const status = await p.status;
  assert.equal(status.code, 4, p.err.join("\n"));
  assert.deepEqual(p.err, [`lsbaws: exit code 4; the error log ${file} says why`]);
  assert.match(
    await Deno.readTextFile(file),
    /cannot load app: app module not found: .*apps\/nope\.ts/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an --error-log file that cannot be opened is a boot error (exit 3)", async () => {
  const p = await startLsbaws(
    ["-p", "0", "--error-log", "/nonexistent-lsbaws-dir/error.log", APP],
    {
      waitListening: false,
    },
  );
  const status = await p.status;
  assert.equal(status.code, 3);
  assert.deepEqual(p.err, [
    "lsbaws: cannot open the error log /nonexistent-lsbaws-dir/error.log: No such file or directory (os error 2): open '/nonexistent-lsbaws-dir/error.log'",
  ]);
  assert.deepEqual(p.out, []);
});

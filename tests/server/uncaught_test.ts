/**
 * `--uncaught` (main.ts): an error that no code catches, a throw in a timer or a rejected promise
 * nobody awaits, from tests/fixtures/apps/uncaught.ts. With the default (`log`) it is logged at
 * ERROR with its stack and the process keeps serving, as a background task's exception does in
 * uvicorn or gunicorn. With `exit` the process ends, as Deno's default is; with workers the
 * supervisor then starts a replacement.
 */
import assert from "node:assert/strict";
import { delay, startLsbaws } from "../_support/proc.ts";

const APP = "tests/fixtures/apps/uncaught.ts";

/** How many "worker N (pid P) is ready" lines the supervisor logged. */
function ready(err: string[]): number {
  return err.filter((l) => /worker \d+ \(pid \d+\) is ready/.test(l)).length;
}

async function get(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return await res.text();
}

Deno.test("--uncaught log (default): a throw in a timer and an unawaited rejection are logged; the process serves on", async () => {
  const p = await startLsbaws(["-p", "0", APP]);
  try {
    const port = p.port();
    const before = await get(port, "/");
    assert.equal(await get(port, "/throw-later"), "scheduled");
    await p.waitForErr(/\[ERROR\] uncaught exception .*: Error: thrown in a timer/);
    assert.equal(await get(port, "/reject"), "rejected");
    await p.waitForErr(/\[ERROR\] unhandled promise rejection .*: Error: rejected, never awaited/);
    assert.equal(await get(port, "/"), before, "the same process answers");
    assert.ok(p.err.some((l) => /uncaught\.ts:\d+/.test(l)), "the stack is logged");
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
});

Deno.test("--uncaught exit: the same throw ends the process, as Deno's default does", async () => {
  const p = await startLsbaws(["-p", "0", "--uncaught", "exit", APP]);
  try {
    assert.equal(await get(p.port(), "/throw-later"), "scheduled");
    const status = await Promise.race([p.status, delay(10_000).then(() => null)]);
    assert.ok(status !== null, "the process is still running");
    assert.notEqual(status.code, 0);
    assert.ok(p.err.some((l) => /thrown in a timer/.test(l)), p.err.join("\n"));
  } finally {
    await p.stop();
  }
});

Deno.test("--uncaught exit with -w 2: the worker ends and the supervisor replaces it", async () => {
  const p = await startLsbaws(["-w", "2", "-p", "0", "--uncaught", "exit", APP]);
  try {
    await p.waitFor(() => ready(p.err) === 2, "2 workers ready");
    assert.equal(await get(p.port(), "/throw-later"), "scheduled");
    await p.waitForErr(/died \(exit code 1\); starting a replacement/);
    await p.waitFor(() => ready(p.err) === 3, "a replacement worker ready");
    assert.match(await get(p.port(), "/"), /^alive \d+$/);
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
});

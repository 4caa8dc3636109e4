/**
 * App factories end to end: `module:createApp("x")` (gunicorn's syntax) and `--factory` (uvicorn's)
 * with real processes. Every worker calls the factory once and serves what it built; a factory
 * that fails stops the server with exit code 4 and the factory's error.
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../_support/proc.ts";

/** GETs `/` over fresh connections until answers from `want` distinct processes came back. */
async function answersFrom(port: number, want: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 400 && seen.size < want; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { Connection: "close" } });
    assert.equal(res.status, 200);
    seen.add(await res.text());
  }
  return seen;
}

Deno.test("an app factory with JSON arguments runs once in each of two workers", async () => {
  const p = await startLsbaws([
    "-w",
    "2",
    "-p",
    "0",
    'tests/fixtures/apps/factory.ts:createApp("shop")',
  ]);
  try {
    await p.waitFor(() => p.workers().length === 2, "2 workers");
    const seen = await answersFrom(p.port(), 2);
    const pids = [...seen].map((s) => {
      const [name, pid] = s.split(" ");
      assert.equal(name, "shop");
      return Number(pid);
    });
    assert.equal(pids.length, 2, `answers: ${[...seen].join(", ")}`);
    for (const pid of pids) assert.ok(p.workers().includes(pid), `${pid} is a worker`);
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
});

Deno.test("--factory calls the named export without parentheses in the spec (single process)", async () => {
  // createApp(undefined): the name is missing, which the body shows.
  const p = await startLsbaws(["-p", "0", "--factory", "tests/fixtures/apps/factory.ts:createApp"]);
  try {
    const res = await fetch(`http://127.0.0.1:${p.port()}/`, { headers: { Connection: "close" } });
    assert.equal(await res.text(), `undefined ${p.pid}`);
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
});

Deno.test("a factory that fails stops the server with exit code 4 and the factory's error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-factory-" });
  try {
    await Deno.writeTextFile(
      `${dir}/app.ts`,
      `export async function create() {\n  await 0;\n  throw new Error("database unreachable");\n}\n`,
    );
    for (const workers of ["1", "2"]) {
      const p = await startLsbaws(["-w", workers, "-p", "0", `${dir}/app.ts:create()`], {
        waitListening: false,
      });
      const status = await p.status;
      assert.equal(status.code, 4, p.err.join("\n"));
      const text = p.err.join("\n");
      assert.match(
        text,
        /cannot load app: app factory create\(\) in .*app\.ts failed: database unreachable/,
      );
      assert.match(text, /at file:\/\/.*app\.ts:3:9/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The app's dispose hook (`Symbol.asyncDispose`, else `Symbol.dispose`): called once per process
 * after a graceful stop has drained every request, awaited within `--shutdown-grace-ms`; a failure
 * is logged and the exit code stays 0; a fast stop does not wait for it. `disposerOf` finds the
 * hook on objects and functions, own or inherited.
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../_support/proc.ts";
import { disposerOf } from "../../gateway/handler.ts";

const APP = "tests/fixtures/apps/dispose.ts";

async function withEvents(fn: (file: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-dispose-" });
  try {
    await fn(`${dir}/events`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function events(file: string): string[] {
  try {
    return Deno.readTextFileSync(file).trim().split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

Deno.test("SIGTERM: the in-flight request finishes, then the factory's app is disposed, then exit 0", () =>
  withEvents(async (file) => {
    const p = await startLsbaws(["-p", "0", `${APP}:createApp()`], {
      env: { LSBAWS_TEST_EVENTS: file },
    });
    let body: Promise<string>;
    try {
      body = fetch(`http://127.0.0.1:${p.port()}/slow`, { headers: { Connection: "close" } })
        .then((r) => r.text());
      await new Promise((r) => setTimeout(r, 100)); // the request is in flight
      p.signal("SIGTERM");
      assert.equal(await body, "ok");
      assert.equal((await p.status).code, 0); // a second TERM (stop()) would be a fast stop
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
    assert.deepEqual(events(file), [
      `created ${p.pid}`,
      `request done ${p.pid}`,
      `disposed ${p.pid}`,
    ]);
  }));

Deno.test("with -w 2 every worker disposes its own app; a gateway app's Symbol.dispose is called", () =>
  withEvents(async (file) => {
    const p = await startLsbaws(["-w", "2", "-p", "0", `${APP}:gateway`], {
      env: { LSBAWS_TEST_EVENTS: file },
    });
    let workers: number[] = [];
    try {
      await p.waitFor(() => p.workers().length === 2, "2 workers");
      await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length === 2, "ready");
      workers = p.workers();
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
    assert.deepEqual(events(file).sort(), workers.map((w) => `disposed sync ${w}`).sort());
  }));

Deno.test("a dispose that rejects is logged and the exit code stays 0", async () => {
  const p = await startLsbaws(["-p", "0", `${APP}:failing`]);
  const status = await p.stop();
  assert.equal(status.code, 0);
  assert.ok(
    p.err.some((l) => /\[ERROR\] the app's dispose failed: Error: pool already closed/.test(l)),
    p.err.join("\n"),
  );
});

Deno.test("a dispose that never settles is given up after --shutdown-grace-ms", async () => {
  const p = await startLsbaws(["-p", "0", "--shutdown-grace-ms", "300", `${APP}:hanging`]);
  const started = Date.now();
  const status = await p.stop();
  assert.equal(status.code, 0);
  assert.ok(
    p.err.some((l) =>
      /\[WARNING\] the app's dispose did not finish within 300 ms; exiting anyway/.test(l)
    ),
    p.err.join("\n"),
  );
  // stop() would SIGKILL after its own deadline; the server must have left well before.
  assert.ok(Date.now() - started < 10_000);
});

Deno.test("a fast stop (SIGQUIT) does not wait for the dispose", async () => {
  const p = await startLsbaws(["-p", "0", `${APP}:hanging`]);
  try {
    p.signal("SIGQUIT");
    const status = await p.status;
    assert.equal(status.code, 0);
    assert.ok(
      p.err.some((l) => /fast stop: not waiting for the app's dispose/.test(l)),
      p.err.join("\n"),
    );
  } finally {
    await p.stop();
  }
});

Deno.test("disposerOf: asyncDispose first, then dispose; own or inherited; bound; none otherwise", async () => {
  const calls: string[] = [];
  const both = {
    [Symbol.asyncDispose]() {
      calls.push(`async ${this === both}`);
      return Promise.resolve();
    },
    [Symbol.dispose]() {
      calls.push("sync");
    },
  };
  await disposerOf(both)!();
  assert.deepEqual(calls, ["async true"]);
  class Pool {
    closed = false;
    [Symbol.dispose]() {
      this.closed = true;
    }
  }
  const pool = new Pool();
  disposerOf(pool)!();
  assert.equal(pool.closed, true, "inherited, called with the app as this");
  assert.equal(disposerOf(() => {}), null);
  assert.equal(disposerOf({ fetch() {} }), null);
  assert.equal(disposerOf(null), null);
  assert.equal(disposerOf({ [Symbol.dispose]: 1 }), null);
});

Deno.test("an app loaded for a server that then cannot listen is disposed before the exit code 3", () =>
  withEvents(async (file) => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = String((taken.addr as Deno.NetAddr).port);
      const p = await startLsbaws(["-p", port, `${APP}:createApp()`], {
        env: { LSBAWS_TEST_EVENTS: file },
        waitListening: false,
      });
      const status = await p.status;
      assert.equal(status.code, 3, p.err.join("\n"));
      assert.deepEqual(events(file), [`created ${p.pid}`, `disposed ${p.pid}`]);
    } finally {
      taken.close();
    }
  }));

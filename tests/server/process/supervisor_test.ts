/**
 * The supervisor (server/process/supervisor.ts) with real processes: workers sharing the port, reaping and
 * replacement, boot-failure halts, the heartbeat timeout, --max-requests recycling, orphan safety.
 */
import assert from "node:assert/strict";
import { workerCommand } from "../../../server/process/spawn.ts";
import { rawOnce, runLoad } from "../../_support/load.ts";
import {
  childrenOf,
  delay,
  isAlive,
  type Proc,
  reachEachWorker,
  startLsbaws,
} from "../../_support/proc.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

/** Pids answering `/` over fresh connections, each of `p`'s workers reached (`reachEachWorker`). */
async function pidsServing(p: Proc, port: number): Promise<Set<number>> {
  const { pids } = await reachEachWorker(p.workers(), async () => {
    const r = await rawOnce({ url: `http://127.0.0.1:${port}/` });
    return Number(r.body.split(" ")[1]);
  });
  return pids;
}

Deno.test("workerCommand re-runs main.ts under deno, or the compiled binary itself", () => {
  assert.deepEqual(workerCommand(["-w", "2", "a.ts"], "/usr/bin/deno", "file:///x/main.ts"), {
    cmd: "/usr/bin/deno",
    args: ["run", "--unstable-net", "-A", "file:///x/main.ts", "-w", "2", "a.ts"],
  });
  assert.deepEqual(workerCommand(["a.ts"], "/opt/lsbaws"), { cmd: "/opt/lsbaws", args: ["a.ts"] });
});

Deno.test("-w 2 serves from two pids and replaces a worker killed with SIGKILL, leaving no zombies", async () => {
  const p = await startLsbaws(["-w", "2", "-p", "0", APP]);
  try {
    await p.waitFor(() => p.err.some((l) => /worker 2 \(pid \d+\) is ready/.test(l)), "2 workers");
    const port = p.port();
    const first = await pidsServing(p, port);
    assert.equal(first.size, 2, "both workers answer");
    assert.deepEqual(
      new Set(p.workers()),
      first,
      "the answering pids are the supervisor's children",
    );

    const [victim, survivor] = [...first];
    Deno.kill(victim, "SIGKILL");
    await p.waitForErr(new RegExp(`worker pid ${victim} died \\(signal SIGKILL\\)`));
    await p.waitFor(
      () => p.err.some((l) => /worker 3 \(pid \d+\) is ready/.test(l)),
      "a replacement",
    );
    const now = new Set(p.workers());
    assert.equal(now.size, 2);
    assert.ok(now.has(survivor) && !now.has(victim));
    const replacement = [...now].find((x) => x !== survivor)!;
    const after = await pidsServing(p, port);
    assert.ok(after.has(replacement), "the new worker answers");
    const zombies = childrenOf(p.pid).filter((c) => c.state === "Z");
    assert.deepEqual(zombies, [], "no zombie children");
  } finally {
    const s = await p.stop();
    assert.equal(s.code, 0);
  }
});

Deno.test("a worker that cannot load the app halts the supervisor with exit code 4, once", async () => {
  const p = await startLsbaws(["-w", "3", "-p", "0", "tests/fixtures/apps/ops.ts:nope"], {
    waitListening: false,
  });
  try {
    const s = await p.status;
    assert.equal(s.code, 4);
    const loadErrors = p.err.filter((l) => l.includes("cannot load app"));
    assert.equal(loadErrors.length, 1, p.err.join("\n"));
    assert.match(loadErrors[0], /nope/);
    assert.ok(!p.err.some((l) => /booting worker 2/.test(l)), "no crash loop, no second worker");
  } finally {
    await p.stop();
  }
});

Deno.test("a worker that cannot listen halts the supervisor with exit code 3", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (blocker.addr as Deno.NetAddr).port;
  const p = await startLsbaws(["-w", "2", "-p", String(port), APP], { waitListening: false });
  try {
    const s = await p.status;
    assert.equal(s.code, 3);
    assert.ok(p.err.some((l) => l.includes("cannot listen")), p.err.join("\n"));
  } finally {
    blocker.close();
    await p.stop();
  }
});

Deno.test("--timeout kills a worker whose event loop is blocked, logs its request, replaces it", async () => {
  const p = await startLsbaws(["-w", "2", "-p", "0", "--timeout", "1", APP]);
  try {
    await p.waitFor(() => p.err.some((l) => /worker 2 \(pid \d+\) is ready/.test(l)), "2 workers");
    const port = p.port();
    const spun = rawOnce({ url: `http://127.0.0.1:${port}/spin?who=test`, timeoutMs: 20000 })
      .then(() => "answered", (e) => `failed: ${e}`);
    const m = await p.waitForErr(
      /worker pid (\d+) timed out: .* while serving "GET \/spin\?who=test"/,
    );
    assert.match(await spun, /^failed/, "the blocked request is cut off");
    await p.waitFor(
      () => p.err.some((l) => /worker 3 \(pid \d+\) is ready/.test(l)),
      "a replacement",
    );
    assert.ok(!p.workers().includes(Number(m[1])));
    const r = await rawOnce({ url: `http://127.0.0.1:${port}/` });
    assert.equal(r.status, 200);
  } finally {
    await p.stop();
  }
});

Deno.test("--max-requests with jitter recycles workers gracefully (no failed request)", async () => {
  const p = await startLsbaws([
    "-w",
    "2",
    "-p",
    "0",
    "--max-requests",
    "40",
    "--max-requests-jitter",
    "10",
    APP,
  ]);
  try {
    await p.waitFor(() => p.err.some((l) => /worker 2 \(pid \d+\) is ready/.test(l)), "2 workers");
    // Paced (20 ms per request) so replacements have time to boot while the load runs. A
    // replacement serves only once it booted (0.3 to 1 s on a busy machine, whatever the socket
    // backend), so the load goes on in rounds of 400 (at most 3) until a successor has served.
    const url = `http://127.0.0.1:${p.port()}/slow?ms=20`;
    const pids = new Set<string>();
    for (let round = 0; round < 3 && pids.size < 3; round++) {
      const r = await runLoad({ url, total: 400, concurrency: 8 }).done;
      assert.equal(r.failed + r.refused, 0, r.errors.join("\n"));
      assert.equal(r.ok, 400);
      for (const body of r.bodies.keys()) pids.add(body);
    }
    assert.ok(pids.size >= 3, `at least 3 worker pids served (got ${pids.size})`);
    assert.ok(p.err.some((l) => /served \d+ requests \(--max-requests\); replacing it/.test(l)));
  } finally {
    await p.stop();
  }
});

Deno.test("workers stop on their own when the supervisor is killed with SIGKILL", async () => {
  const p = await startLsbaws(["-w", "2", "-p", "0", APP]);
  let workers: number[] = [];
  try {
    await p.waitFor(() => p.workers().length === 2, "2 workers");
    workers = p.workers();
    p.signal("SIGKILL");
    await p.status;
    const end = Date.now() + 10000;
    while (workers.some(isAlive) && Date.now() < end) await delay(50);
    assert.deepEqual(workers.filter(isAlive), [], "orphaned workers exited");
  } finally {
    await p.stop();
  }
});

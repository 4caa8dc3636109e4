/**
 * Tests of `bench/lib/cgroup.ts`: finding the cpu hierarchy (v1, v2, hybrid), reading a
 * process's group and `cpu.stat`, and, on this machine, either capping a busy process for real
 * (it gets about half a core, the group disappears afterwards and the process is back where it
 * was) or, where no cgroup is writable, a skip reason and a refusal to cap.
 */
import assert from "node:assert/strict";
import {
  activeCaps,
  capExists,
  capProcess,
  cgroupOf,
  detectCpuCgroup,
  findCpuHierarchy,
  parseCpuStat,
  releaseCap,
} from "../../bench/lib/cgroup.ts";
import { cpuSeconds, sleep } from "../../bench/lib/proc.ts";

const HYBRID = [
  "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0",
  "cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0",
  "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0",
  "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0",
].join("\n");

Deno.test("findCpuHierarchy: v1 cpu mount, combined cpu,cpuacct, v2 with cpu, none", () => {
  assert.deepEqual(findCpuHierarchy(HYBRID, () => ""), {
    version: 1,
    root: "/sys/fs/cgroup/cpu",
  });
  assert.deepEqual(
    findCpuHierarchy("cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0", () => null),
    { version: 1, root: "/sys/fs/cgroup/cpu,cpuacct" },
  );
  const v2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0";
  assert.deepEqual(findCpuHierarchy(v2, () => "cpuset cpu io memory pids\n"), {
    version: 2,
    root: "/sys/fs/cgroup",
  });
  // A v2 mount that does not offer cpu (hybrid setups) loses to the v1 controller.
  assert.deepEqual(findCpuHierarchy(`${v2}\n${HYBRID}`, () => "memory pids"), {
    version: 1,
    root: "/sys/fs/cgroup/cpu",
  });
  assert.equal(findCpuHierarchy(v2, () => "memory pids"), null);
  assert.equal(
    findCpuHierarchy("cgroup /sys/fs/cgroup/cpuacct cgroup rw,cpuacct 0 0", () => ""),
    null,
  );
});

Deno.test("cgroupOf reads the cpu line of /proc/PID/cgroup", () => {
  const text = "4:memory:/a/b\n3:cpu,cpuacct:/bench/x\n1:name=systemd:/\n0::/user.slice\n";
  assert.equal(cgroupOf(text, 1), "/bench/x");
  assert.equal(cgroupOf(text, 2), "/user.slice");
  assert.equal(cgroupOf("1:cpu:/\n", 1), "/");
  assert.equal(cgroupOf("4:memory:/a\n", 1), null);
  assert.equal(cgroupOf("", 2), null);
});

Deno.test("parseCpuStat reads v1 (ns) and v2 (µs) throttling counters", () => {
  assert.deepEqual(
    parseCpuStat("nr_periods 20\nnr_throttled 18\nthrottled_time 900000000\n"),
    { periods: 20, throttled: 18, throttledS: 0.9 },
  );
  assert.deepEqual(
    parseCpuStat(
      "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 7\nnr_throttled 3\n" +
        "throttled_usec 250000\n",
    ),
    { periods: 7, throttled: 3, throttledS: 0.25 },
  );
});

Deno.test("capProcess holds a busy process to half a core and cleans up", async () => {
  const support = detectCpuCgroup();
  const child = new Deno.Command("bash", {
    args: ["-c", "while :; do :; done"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    if (!support.ok) {
      // No writable cgroup here: the harness skips the scenario with this reason.
      assert.match(support.reason, /cgroup/);
      assert.throws(() => capProcess(support, child.pid, 50_000, 100_000), /no CPU cap/);
      return;
    }
    const before = await Deno.readTextFile(`/proc/${child.pid}/cgroup`);
    const cap = capProcess(support, child.pid, 50_000, 100_000);
    assert(capExists(cap));
    assert.match(cap.dir, new RegExp(`/lsbaws-bench-${Deno.pid}-\\d+$`));
    assert.deepEqual(activeCaps(), [cap.dir]);
    const inside = cgroupOf(await Deno.readTextFile(`/proc/${child.pid}/cgroup`), cap.version);
    assert(inside?.endsWith(cap.dir.slice(cap.dir.lastIndexOf("/"))), `in ${inside}`);
    const limit = cap.version === 2
      ? await Deno.readTextFile(`${cap.dir}/cpu.max`)
      : await Deno.readTextFile(`${cap.dir}/cpu.cfs_quota_us`);
    assert.match(limit, /^50000\b/);

    const t0 = performance.now();
    const c0 = cpuSeconds(child.pid);
    await sleep(1000);
    const share = (cpuSeconds(child.pid) - c0) / ((performance.now() - t0) / 1000);
    assert(share < 0.65, `capped process used ${share.toFixed(2)} of a core`);

    assert.equal(await releaseCap(cap), true);
    assert.equal(capExists(cap), false);
    assert.deepEqual(activeCaps(), []);
    assert.equal(await Deno.readTextFile(`/proc/${child.pid}/cgroup`), before);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("capProcess with extra pids: two busy processes share one half-core quota", async () => {
  const support = detectCpuCgroup();
  const spawn = () =>
    new Deno.Command("bash", {
      args: ["-c", "while :; do :; done"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  const a = spawn();
  const b = spawn();
  try {
    if (!support.ok) {
      assert.throws(() => capProcess(support, a.pid, 50_000, 100_000, [b.pid]), /no CPU cap/);
      return;
    }
    const before = await Deno.readTextFile(`/proc/${b.pid}/cgroup`);
    const cap = capProcess(support, a.pid, 50_000, 100_000, [b.pid]);
    assert.deepEqual(cap.extraPids, [b.pid]);
    const name = cap.dir.slice(cap.dir.lastIndexOf("/"));
    for (const pid of [a.pid, b.pid]) {
      const inside = cgroupOf(await Deno.readTextFile(`/proc/${pid}/cgroup`), cap.version);
      assert(inside?.endsWith(name), `${pid} in ${inside}`);
    }
    const t0 = performance.now();
    const c0 = cpuSeconds(a.pid) + cpuSeconds(b.pid);
    await sleep(1000);
    const wall = (performance.now() - t0) / 1000;
    const share = (cpuSeconds(a.pid) + cpuSeconds(b.pid) - c0) / wall;
    assert(share < 0.65, `the two capped processes used ${share.toFixed(2)} of a core together`);
    assert.equal(await releaseCap(cap), true);
    assert.equal(capExists(cap), false);
    assert.equal(await Deno.readTextFile(`/proc/${b.pid}/cgroup`), before);
  } finally {
    for (const c of [a, b]) {
      c.kill("SIGKILL");
      await c.status;
    }
  }
});

Deno.test("releaseCap removes the group of a process that already exited", async () => {
  const support = detectCpuCgroup();
  const child = new Deno.Command("sleep", { args: ["30"], stdin: "null" }).spawn();
  if (!support.ok) {
    child.kill("SIGKILL");
    await child.status;
    assert.throws(() => capProcess(support, child.pid, 50_000, 100_000), /no CPU cap/);
    return;
  }
  const cap = capProcess(support, child.pid, 50_000, 100_000);
  child.kill("SIGKILL");
  await child.status;
  assert.equal(await releaseCap(cap), true);
  assert.equal(capExists(cap), false);
  assert.deepEqual(activeCaps(), []);
});

/**
 * Capping a server process's CPU with a cgroup, so that a benchmark measures the server rather
 * than the load generator: the server gets at most `quotaUs` of CPU time per `periodUs`.
 *
 * Contract:
 * - `detectCpuCgroup()` finds a cgroup v2 mount whose root offers (and delegates) the `cpu`
 *   controller (`cpu.max`), else a cgroup v1 `cpu` controller mount (`cpu.cfs_quota_us`,
 *   `cpu.cfs_period_us`), and proves it writable by creating and removing a probe group. When
 *   neither works it returns `ok: false` with a reason a person can act on; it never throws.
 * - `capProcess()` creates a uniquely named group (`lsbaws-bench-<harness pid>-<n>`), sets the
 *   limit, and moves the whole process (every thread, via `cgroup.procs`; v1 falls back to each
 *   thread's id in `tasks`) into it, and with it any `extraPids` (e.g. nginx's worker, a child
 *   of the process held), which then share the one quota. On any failure it removes what it
 *   created and throws.
 * - `releaseCap()` moves the processes (those still alive) back to the group the first came
 *   from and removes the group; it never throws. `releaseAllCaps()` does the same,
 *   synchronously, for every cap still held (for signal handlers). No group created here
 *   outlives the harness unless the harness itself is SIGKILLed.
 */

/** Where CPU caps can be set, or why they cannot. */
export type CpuCgroupSupport =
  | { ok: true; version: 1 | 2; root: string }
  | { ok: false; reason: string };

/** A process placed in a CPU-capped group. */
export interface CpuCap {
  /** cgroup version of the hierarchy used. */
  version: 1 | 2;
  /** Mount point of that hierarchy. */
  root: string;
  /** Directory of the group created for this cap. */
  dir: string;
  /** The capped process. */
  pid: number;
  /** Further processes sharing the quota. */
  extraPids: number[];
  /** The process's group before (path relative to `root`). */
  origin: string;
  /** CPU time allowed per period, microseconds. */
  quotaUs: number;
  /** Period, microseconds. */
  periodUs: number;
}

/** Throttling counters of a capped group (`cpu.stat`). */
export interface ThrottleStats {
  /** Enforcement periods that elapsed while the group had runnable threads. */
  periods: number;
  /** Periods in which the group ran out of quota. */
  throttled: number;
  /** Total time the group's threads were held back, seconds. */
  throttledS: number;
}

const active = new Set<CpuCap>();
let counter = 0;

/**
 * The cpu hierarchy described by `mounts` (the text of `/proc/self/mounts`): a cgroup2 mount
 * whose `cgroup.controllers` (read through `controllersOf(dir)`) lists `cpu`, else a cgroup v1
 * mount with the `cpu` option; null when there is neither.
 */
export function findCpuHierarchy(
  mounts: string,
  controllersOf: (dir: string) => string | null,
): { version: 1 | 2; root: string } | null {
  let v1: string | null = null;
  for (const line of mounts.split("\n")) {
    const [, dir, type, options] = line.split(" ");
    if (!dir) continue;
    const path = dir.replace(/\\040/g, " ");
    if (type === "cgroup2") {
      const controllers = (controllersOf(path) ?? "").trim().split(/\s+/);
      if (controllers.includes("cpu")) return { version: 2, root: path };
    } else if (type === "cgroup" && v1 === null && options?.split(",").includes("cpu")) {
      v1 = path;
    }
  }
  return v1 === null ? null : { version: 1, root: v1 };
}

/**
 * The group of a process in the cpu hierarchy, from the text of `/proc/PID/cgroup`
 * (v1: the line whose controller list has `cpu`; v2: the `0::` line); null when absent.
 */
export function cgroupOf(procCgroup: string, version: 1 | 2): string | null {
  for (const line of procCgroup.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (version === 2 && line.startsWith("0::")) return path;
    if (version === 1 && controllers.split(",").includes("cpu")) return path;
  }
  return null;
}

/** Parses a `cpu.stat` file (v1 reports nanoseconds, v2 microseconds). */
export function parseCpuStat(text: string): ThrottleStats {
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
  const ns = field("throttled_time");
  const us = field("throttled_usec");
  return {
    periods: field("nr_periods"),
    throttled: field("nr_throttled"),
    throttledS: Number.isFinite(us) ? us / 1e6 : ns / 1e9,
  };
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Writes to an existing control file (never creates one). */
function writeControl(path: string, value: string): void {
  Deno.writeTextFileSync(path, value, { create: false });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function limitFiles(version: 1 | 2, dir: string, quotaUs: number, periodUs: number): void {
  if (version === 2) {
    writeControl(`${dir}/cpu.max`, `${quotaUs} ${periodUs}`);
  } else {
    writeControl(`${dir}/cpu.cfs_period_us`, String(periodUs));
    writeControl(`${dir}/cpu.cfs_quota_us`, String(quotaUs));
  }
}

function removeGroup(dir: string): boolean {
  try {
    Deno.removeSync(dir); // rmdir(2): a cgroup directory is removed without its control files
    return true;
  } catch (err) {
    return err instanceof Deno.errors.NotFound;
  }
}

/** Finds a writable cpu hierarchy (see the module contract). */
export function detectCpuCgroup(): CpuCgroupSupport {
  const mounts = readText("/proc/self/mounts");
  if (mounts === null) return { ok: false, reason: "/proc/self/mounts is unreadable" };
  const h = findCpuHierarchy(mounts, (dir) => readText(`${dir}/cgroup.controllers`));
  if (h === null) {
    return {
      ok: false,
      reason: "no cgroup v1 `cpu` controller mount and no cgroup v2 mount offering `cpu`",
    };
  }
  if (h.version === 2) {
    const delegated = (readText(`${h.root}/cgroup.subtree_control`) ?? "").split(/\s+/);
    if (!delegated.includes("cpu")) {
      return {
        ok: false,
        reason: `cgroup v2 at ${h.root} does not enable \`cpu\` for its children ` +
          `(cgroup.subtree_control)`,
      };
    }
  }
  const probe = `${h.root}/lsbaws-bench-probe-${Deno.pid}`;
  try {
    Deno.mkdirSync(probe);
  } catch (err) {
    return {
      ok: false,
      reason: `cannot create a cgroup under ${h.root} (cgroup v${h.version}): ${message(err)}`,
    };
  }
  try {
    limitFiles(h.version, probe, 50_000, 100_000);
  } catch (err) {
    return {
      ok: false,
      reason: `cannot set a CPU limit under ${h.root} (cgroup v${h.version}): ${message(err)}`,
    };
  } finally {
    removeGroup(probe);
  }
  return { ok: true, version: h.version, root: h.root };
}

/** Moves every thread of `pid` into the group at `dir`. */
function moveProcess(version: 1 | 2, dir: string, pid: number): void {
  try {
    writeControl(`${dir}/cgroup.procs`, String(pid));
    return;
  } catch (err) {
    if (version === 2) throw err;
  }
  // cgroup v1 without a writable cgroup.procs: move the threads one by one.
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    writeControl(`${dir}/tasks`, e.name);
  }
}

/**
 * Creates a group limited to `quotaUs` per `periodUs` and moves `pid` (and `extraPids`) into it;
 * throws (having removed the group) when any step fails.
 */
export function capProcess(
  support: CpuCgroupSupport,
  pid: number,
  quotaUs: number,
  periodUs: number,
  extraPids: readonly number[] = [],
): CpuCap {
  if (!support.ok) throw new Error(`no CPU cap available: ${support.reason}`);
  const { version, root } = support;
  const origin = cgroupOf(readText(`/proc/${pid}/cgroup`) ?? "", version);
  if (origin === null) throw new Error(`process ${pid}: no cpu cgroup in /proc/${pid}/cgroup`);
  const name = `lsbaws-bench-${Deno.pid}-${++counter}`;
  const dir = `${root}/${name}`;
  Deno.mkdirSync(dir);
  const cap: CpuCap = {
    version,
    root,
    dir,
    pid,
    origin,
    quotaUs,
    periodUs,
    extraPids: [...extraPids],
  };
  active.add(cap);
  try {
    limitFiles(version, dir, quotaUs, periodUs);
    moveProcess(version, dir, pid);
    for (const extra of extraPids) moveProcess(version, dir, extra);
    const now = cgroupOf(readText(`/proc/${pid}/cgroup`) ?? "", version);
    if (now !== `/${name}` && !now?.endsWith(`/${name}`)) {
      throw new Error(`process ${pid} is in ${now}, not in ${dir}`);
    }
    return cap;
  } catch (err) {
    releaseCapSync(cap);
    throw new Error(`capping process ${pid} in ${dir}: ${message(err)}`);
  }
}

/** Throttling counters of the cap's group so far (NaN fields when unreadable). */
export function throttleStats(cap: CpuCap): ThrottleStats {
  return parseCpuStat(readText(`${cap.dir}/cpu.stat`) ?? "");
}

/** Whether the cap's group directory exists. */
export function capExists(cap: CpuCap): boolean {
  try {
    return Deno.statSync(cap.dir).isDirectory;
  } catch {
    return false;
  }
}

function moveBack(cap: CpuCap): void {
  const back = `${cap.root}${cap.origin === "/" ? "" : cap.origin}`;
  for (const pid of [cap.pid, ...cap.extraPids]) {
    try {
      moveProcess(cap.version, back, pid);
    } catch {
      // the process is gone (or already elsewhere); rmdir below tells whether the group emptied
    }
  }
}

function releaseCapSync(cap: CpuCap): boolean {
  moveBack(cap);
  const removed = removeGroup(cap.dir);
  if (removed) active.delete(cap);
  return removed;
}

/**
 * Moves the capped process back where it came from and removes the group, retrying for up to
 * `waitMs` while the group still holds an exiting process; resolves to whether the group is gone.
 */
export async function releaseCap(cap: CpuCap, waitMs = 2000): Promise<boolean> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    if (releaseCapSync(cap)) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Releases every cap still held (synchronously; for signal handlers and fatal errors). */
export function releaseAllCaps(): void {
  for (const cap of [...active]) releaseCapSync(cap);
}

/** Directories of the groups currently held (for tests). */
export function activeCaps(): string[] {
  return [...active].map((c) => c.dir);
}

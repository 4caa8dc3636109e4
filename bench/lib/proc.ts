/**
 * Process plumbing for the benchmark: starting servers pinned to a core, reading their memory and
 * CPU use from `/proc`, and stopping them.
 *
 * Contract:
 * - Every child is started through `bash -c 'ulimit -n <hard limit>; exec taskset -c CPU cmd…'`,
 *   so the PID we hold is the measured process itself (bash and taskset both `exec`).
 * - `startServer` resolves once the child printed a `listening on http://HOST:PORT` line (or,
 *   for a server told its port, e.g. nginx, once 127.0.0.1:`port` accepts a connection), and
 *   rejects (with the child's stderr) if it exits or is not ready within `startTimeoutMs`.
 * - `/proc` readers return `NaN` when the process is gone instead of throwing.
 */

const decoder = new TextDecoder();
const live = new Set<Deno.ChildProcess>();

/** Remembers `child` until it exits, so that `killAll` can stop it; returns it. */
export function track(child: Deno.ChildProcess): Deno.ChildProcess {
  live.add(child);
  child.status.then(() => live.delete(child), () => live.delete(child));
  return child;
}

/** SIGKILLs every tracked child that is still running (used on Ctrl-C). */
export function killAll(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Command to run `cmd` with raised fd limit, pinned to `cpu`. */
export function pinnedCommand(cpu: number | null, cmd: readonly string[]): string[] {
  const pin = cpu === null ? "" : `taskset -c ${cpu} `;
  return [
    "bash",
    "-c",
    `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${pin}"$@"`,
    "bash",
    ...cmd,
  ];
}

/** A running server process. */
export interface ServerProcess {
  /** PID of the server itself. */
  pid: number;
  /** Port it listens on (127.0.0.1). */
  port: number;
  /** Base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** Last few KiB of the server's stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Options for `startServer`. */
export interface StartOptions {
  /** Working directory. */
  cwd: string;
  /** Core to pin to, or null for no pinning. */
  cpu: number | null;
  /** Give up after this long without a listening line (default 60 s). */
  startTimeoutMs?: number;
  /**
   * The port the server was told to use (it prints no listening line): ready once
   * 127.0.0.1:`port` accepts a connection.
   */
  port?: number;
}

const LISTEN_RE = /listening on https?:\/\/([^\s/]+):(\d+)/i;

/** Starts `cmd` and waits for its listening line. */
export async function startServer(cmd: readonly string[], opts: StartOptions): Promise<
  ServerProcess
> {
  const [bin, ...args] = pinnedCommand(opts.cpu, cmd);
  const child = track(
    new Deno.Command(bin, {
      args,
      cwd: opts.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
  let tail = "";
  const append = (s: string) => {
    tail = (tail + s).slice(-8192);
  };
  let onLine: ((text: string) => void) | undefined;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        append(text);
        onLine?.(tail);
      }
    } catch {
      // the process went away
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start within ${opts.startTimeoutMs ?? 60_000} ms`));
    }, opts.startTimeoutMs ?? 60_000);
    onLine = (text) => {
      const m = LISTEN_RE.exec(text);
      if (m) {
        clearTimeout(timer);
        onLine = undefined;
        resolve(Number(m[2]));
      }
    };
    onLine(tail);
    if (opts.port !== undefined) {
      pollPort(opts.port, () => exited, (p) => {
        clearTimeout(timer);
        onLine = undefined;
        resolve(p);
      });
    }
    status.then((s) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${s.code} before listening:\n${tail}`));
    });
  }).catch(async (err) => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await status;
    await pumps;
    throw new Error(`${cmd.join(" ")}: ${err instanceof Error ? err.message : err}`);
  });

  return {
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => tail,
    async stop(graceMs = 3000) {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, graceMs);
        await status;
        clearTimeout(timer);
      }
      await pumps;
    },
  };
}

/** Connects to 127.0.0.1:`port` every 50 ms until it accepts (then `ready(port)`) or `gone()`. */
async function pollPort(port: number, gone: () => boolean, ready: (p: number) => void) {
  while (!gone()) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      ready(port);
      return;
    } catch {
      await sleep(50);
    }
  }
}

function readProc(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function statusField(pid: number, field: string): number {
  const text = readProc(`/proc/${pid}/status`);
  if (text === null) return NaN;
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  return statusField(pid, "VmRSS");
}

/** Peak resident set size in bytes since start or the last `resetPeakRss` (VmHWM). */
export function peakRssBytes(pid: number): number {
  return statusField(pid, "VmHWM");
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`); false if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** User plus system CPU time of the process (all threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const text = readProc(`/proc/${pid}/stat`);
  if (text === null) return NaN;
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(rest[11]) + Number(rest[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** The PIDs of the children of `pid` (every thread's), from `/proc/PID/task/TID/children`. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = readProc(`/proc/${pid}/task/${t.name}/children`) ?? "";
      for (const c of text.trim().split(/\s+/)) if (c) out.push(Number(c));
    }
  } catch {
    // gone
  }
  return out;
}

/** The PIDs of the live descendants of `pid` (children first, then theirs). */
export function descendantPids(pid: number): number[] {
  const out: number[] = [];
  for (const child of childPids(pid)) out.push(child, ...descendantPids(child));
  return out;
}

/**
 * CPU seconds of `pid` and its live descendants (e.g. nginx's master and worker); NaN when `pid`
 * is gone. A descendant that exits in between takes its time with it, so compare two readings
 * only over a span in which the process tree stays the same.
 */
export function treeCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid);
  for (const child of childPids(pid)) {
    const t = treeCpuSeconds(child);
    if (Number.isFinite(t)) total += t;
  }
  return total;
}

/** Number of open socket descriptors of the process. */
export function socketCount(pid: number): number {
  let n = 0;
  try {
    for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        if (Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`).startsWith("socket:")) n++;
      } catch {
        // closed while we looked
      }
    }
  } catch {
    return NaN;
  }
  return n;
}

/** Samples RSS every `intervalMs` until stopped; reports the highest sample. */
export class RssSampler {
  #pid: number;
  #timer: ReturnType<typeof setInterval>;
  #peak = 0;
  #count = 0;

  /** Starts sampling `pid` at once and then every `intervalMs`. */
  constructor(pid: number, intervalMs = 50) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const rss = rssBytes(this.#pid);
    if (!Number.isNaN(rss)) {
      this.#count++;
      if (rss > this.#peak) this.#peak = rss;
    }
  }

  /** Stops sampling; returns the peak sample and the number of samples taken. */
  stop(): { peak: number; samples: number } {
    this.#sample();
    clearInterval(this.#timer);
    return { peak: this.#peak, samples: this.#count };
  }
}

/** Median of `count` RSS samples taken `intervalMs` apart. */
export async function steadyRss(pid: number, count = 5, intervalMs = 100): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(intervalMs);
    xs.push(rssBytes(pid));
  }
  return median(xs);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Median of the finite values of `xs` (NaN when there are none). */
export function median(xs: readonly number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Runs a command to completion; returns its exit code and decoded output. */
export async function capture(
  cmd: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, { args: [...args], stdin: "null" }).output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } catch (err) {
    return { code: -1, stdout: "", stderr: err instanceof Error ? err.message : String(err) };
  }
}

/** CPU counters of the whole machine and of this process, for attributing CPU time. */
export interface CpuSnapshot {
  /** Seconds since an arbitrary point (performance.now based). */
  at: number;
  /** Busy seconds summed over every core (user, system, irq, softirq, steal). */
  machineBusy: number;
  /** CPU seconds of this process itself. */
  self: number;
  /** CPU seconds of this process's terminated and reaped children. */
  children: number;
}

/** Reads `/proc/stat` and `/proc/self/stat`. */
export function cpuSnapshot(): CpuSnapshot {
  const stat = readProc("/proc/stat") ?? "";
  let busy = 0;
  for (const line of stat.split("\n")) {
    if (!/^cpu\d+ /.test(line)) continue;
    const f = line.split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    busy += f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0);
  }
  const self = readProc("/proc/self/stat") ?? "";
  const rest = self.slice(self.lastIndexOf(")") + 2).split(" ").map(Number);
  return {
    at: performance.now() / 1000,
    machineBusy: busy / 100,
    self: (rest[11] + rest[12]) / 100,
    children: (rest[13] + rest[14]) / 100,
  };
}

/** CPU use between two snapshots, in percent of one core. */
export interface CpuUse {
  /** Wall time between the snapshots, seconds. */
  wallS: number;
  /** Whole machine, all cores. */
  machinePct: number;
  /** This process. */
  selfPct: number;
  /** Children reaped in between (e.g. wrk, when it exited in the window). */
  childrenPct: number;
}

/** CPU use between `a` and `b`. */
export function cpuUse(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wallS = b.at - a.at;
  const pct = (x: number) => (wallS > 0 ? (x / wallS) * 100 : NaN);
  return {
    wallS,
    machinePct: pct(b.machineBusy - a.machineBusy),
    selfPct: pct(b.self - a.self),
    childrenPct: pct(b.children - a.children),
  };
}

/**
 * Makes sure `command` is on the PATH, installing the Debian package `pkg` with apt-get
 * (through `sudo -n` when not root) when it is missing. Resolves whether the command is there
 * afterwards, with apt-get's exit code and the tail of its output; `log` reports the attempt.
 */
export async function ensureDebianCommand(
  command: string,
  pkg: string,
  log: (s: string) => void,
): Promise<{ present: boolean; code: number; output: string }> {
  const present = async () => (await capture("bash", ["-c", `command -v ${command}`])).code === 0;
  if (await present()) return { present: true, code: 0, output: "" };
  log(`${command} not found: installing the Debian package (apt-get install -y ${pkg})...`);
  const root = (await capture("id", ["-u"])).stdout.trim() === "0";
  const sudo = root ? "" : "sudo -n ";
  const out = await capture("bash", [
    "-c",
    `export DEBIAN_FRONTEND=noninteractive; ${sudo}apt-get update -qq && ` +
    `${sudo}apt-get install -y -qq ${pkg}`,
  ]);
  const output = (out.stdout + out.stderr).slice(-2000);
  return { present: out.code === 0 && await present(), code: out.code, output };
}

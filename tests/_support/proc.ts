/**
 * Test support: run lsbaws as a real process (`deno run --unstable-net -A main.ts ...`), watch its
 * output, signal it, and inspect its children through /proc.
 *
 * Contract: `startLsbaws(args)` resolves once the banner ("listening on ...") appeared (unless
 * `waitListening` is false) and returns a `Proc` whose stdout/stderr lines are collected as they
 * arrive. `proc.stop()` sends SIGTERM, then SIGKILL after a deadline, waits for the exit, and
 * makes sure every worker pid ever seen is gone (killing leftovers), so tests never leak
 * processes. Always call it in `finally`.
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running lsbaws process. */
export interface Proc {
  /** Process id (the supervisor when `-w` > 1). */
  readonly pid: number;
  /** Collected stdout lines. */
  readonly out: string[];
  /** Collected stderr lines. */
  readonly err: string[];
  /** Resolves with the exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Port of the first `listening on http(s)://host:port` banner line. */
  port(): number;
  /** All banner addresses, in order. */
  listening(): string[];
  /** Sends a signal (ignored if the process is gone). */
  signal(sig: Deno.Signal): void;
  /** Waits until `pred()` holds, polling; throws `what` on timeout. */
  waitFor(pred: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Waits for a stderr line matching `re` and returns the match. */
  waitForErr(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Current worker children (pids of non-zombie children). */
  workers(): number[];
  /** Stops the process (TERM, then KILL) and every worker seen; resolves with the status. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Options for `startLsbaws`. */
export interface StartOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory (default: the project root). */
  cwd?: string;
  /** Wait for the banner (default true). */
  waitListening?: boolean;
  /** How long to wait for the banner (default 20 s). */
  timeoutMs?: number;
  /** Run through `sh -c 'ulimit -n N; exec ...'`. */
  fdLimit?: number;
  /** Deno config file for the run (`--config`), e.g. apps/frameworks/deno.json and its lock. */
  config?: string;
  /** A program (and its arguments) that executes the deno command line, e.g. a launcher. */
  launcher?: string[];
}

/** `LSBAWS_IO` for child servers: the backend `$LSBAWS_TEST_IO` asks for (none when unset). */
function ioEnv(): Record<string, string> {
  const io = Deno.env.get("LSBAWS_TEST_IO") ?? "";
  return io === "" ? {} : { LSBAWS_IO: io };
}

/** Starts `deno run --unstable-net -A [--config FILE] main.ts ...args` from the project root (with
 * the backend `$LSBAWS_TEST_IO` names, if set). */
export async function startLsbaws(args: string[], opts: StartOptions = {}): Promise<Proc> {
  const config = opts.config ? ["--config", opts.config] : [];
  const denoArgs = ["run", "--unstable-net", "-A", ...config, "main.ts", ...args];
  const cmd = opts.launcher
    ? new Deno.Command(opts.launcher[0], {
      args: [...opts.launcher.slice(1), Deno.execPath(), ...denoArgs],
      cwd: opts.cwd ?? ROOT,
      env: { NO_COLOR: "1", ...ioEnv(), ...opts.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
    : opts.fdLimit
    ? new Deno.Command("sh", {
      args: ["-c", `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, Deno.execPath(), ...denoArgs],
      cwd: opts.cwd ?? ROOT,
      env: { NO_COLOR: "1", ...ioEnv(), ...opts.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), {
      args: denoArgs,
      cwd: opts.cwd ?? ROOT,
      env: { NO_COLOR: "1", ...ioEnv(), ...opts.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const child = cmd.spawn();
  const out: string[] = [];
  const err: string[] = [];
  const pumps = [collect(child.stdout, out), collect(child.stderr, err)];
  const status = child.status.then(async (s) => {
    await Promise.all(pumps);
    return s;
  });
  let exited = false;
  status.then(() => (exited = true));
  const seen = new Set<number>();
  const workers = () => {
    const pids = childrenOf(child.pid).filter((c) => c.state !== "Z").map((c) => c.pid);
    for (const p of pids) seen.add(p);
    return pids;
  };
  const waitFor = async (pred: () => boolean, what: string, timeoutMs = 15000) => {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) {
        throw new Error(
          `timed out waiting for ${what}\nstdout:\n${out.join("\n")}\nstderr:\n${err.join("\n")}`,
        );
      }
      await delay(25);
    }
  };
  const listening = () =>
    out.flatMap((l) => {
      const m = /listening on (\S+)/.exec(l);
      return m ? [m[1]] : [];
    });
  const proc: Proc = {
    pid: child.pid,
    out,
    err,
    status,
    port() {
      const first = listening().find((a) => /^https?:/.test(a));
      if (!first) throw new Error(`no TCP banner yet:\n${out.join("\n")}\n${err.join("\n")}`);
      return Number(/:(\d+)$/.exec(first)![1]);
    },
    listening,
    signal(sig) {
      if (exited) return;
      try {
        child.kill(sig);
      } catch {
        // already gone
      }
    },
    waitFor,
    async waitForErr(re, timeoutMs = 15000) {
      let m: RegExpMatchArray | null = null;
      await waitFor(
        () => {
          for (const l of err) if ((m = l.match(re))) return true;
          return false;
        },
        `stderr ${re}`,
        timeoutMs,
      );
      return m!;
    },
    workers,
    async stop() {
      if (!exited) workers();
      proc.signal("SIGTERM");
      const timer = setTimeout(() => proc.signal("SIGKILL"), 15000);
      const s = await status;
      clearTimeout(timer);
      // Workers notice the closed supervisor pipe and exit; kill any that linger.
      const end = Date.now() + 5000;
      for (const pid of seen) {
        while (isAlive(pid) && Date.now() < end) await delay(25);
        if (isAlive(pid)) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone
          }
        }
      }
      return s;
    },
  };
  if (opts.waitListening !== false) {
    await Promise.race([
      waitFor(() => listening().length > 0, "the listening banner", opts.timeoutMs ?? 20000),
      status.then((s) => {
        if (listening().length === 0) {
          throw new Error(`lsbaws exited (${s.code}) before listening:\n${err.join("\n")}`);
        }
      }),
    ]).catch(async (e) => {
      await proc.stop();
      throw e;
    });
  }
  return proc;
}

async function collect(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) lines.push(buf);
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A process entry from /proc. */
export interface ProcEntry {
  /** Process id. */
  pid: number;
  /** Parent process id. */
  ppid: number;
  /** State letter (R, S, Z, ...). */
  state: string;
}

/** Reads /proc/<pid>/stat; null if the process is gone. */
export function procStat(pid: number): ProcEntry | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: rest[0], ppid: Number(rest[1]) };
}

/** Children of `pid` (including zombies), from /proc. */
export function childrenOf(pid: number): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const st = procStat(Number(e.name));
    if (st && st.ppid === pid) out.push(st);
  }
  return out;
}

/** Whether `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== "Z";
}

/** Picks a free loopback TCP port (bind port 0, read it, close). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts a helper daemon (nginx, HAProxy) in the foreground; its stderr is collected in `err`. */
export function spawnDaemon(
  cmd: string,
  args: string[],
): { child: Deno.ChildProcess; err: string[] } {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .spawn();
  const err: string[] = [];
  (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) err.push(c);
  })();
  return { child, err };
}

/** Waits until something accepts on 127.0.0.1:`port` (a helper daemon started); false after 5 s. */
export async function waitForPort(port: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const up = await Deno.connect({ hostname: "127.0.0.1", port }).then(
      (c) => (c.close(), true),
      () => false,
    );
    if (up) return true;
    await delay(50);
  }
  return false;
}

/** The project root directory. */
export const PROJECT_ROOT = ROOT;

/** Whether worker `pid` serves a socket its supervisor owns (inherited: `LSBAWS_WORKER_FDS`). */
export function servesSharedSocket(pid: number): boolean {
  const environ = Deno.readTextFileSync(`/proc/${pid}/environ`);
  return environ.split("\0").some((kv) => kv.startsWith("LSBAWS_WORKER_FDS="));
}

/**
 * Sends requests until each of `workers` answered one, whatever the socket model, and returns the
 * answering pids and how many requests were sent. `request()` makes one request and returns the
 * pid that answered. On a socket the workers share (the libc backend) the kernel may hand every
 * connection of a sequential client to the same worker for as long as the machine is busy, so
 * each worker in turn answers `perWorker` requests while the others are stopped (SIGSTOP, then
 * SIGCONT). With SO_REUSEPORT (each worker binds its own listener) a stopped worker would strand
 * the connections hashed to it, and the hash spreads fresh connections anyway: requests are sent
 * (at least `perWorker` per worker) until every worker answered or `tries` were made.
 */
export async function reachEachWorker(
  workers: readonly number[],
  request: () => Promise<number>,
  perWorker = 1,
  tries = 300,
): Promise<{ pids: Set<number>; sent: number }> {
  const pids = new Set<number>();
  let sent = 0;
  if (workers.every(servesSharedSocket)) {
    for (const alone of workers) {
      const others = workers.filter((w) => w !== alone);
      for (const w of others) Deno.kill(w, "SIGSTOP");
      try {
        for (let i = 0; i < perWorker; i++, sent++) pids.add(await request());
      } finally {
        for (const w of others) Deno.kill(w, "SIGCONT");
      }
    }
    return { pids, sent };
  }
  const least = perWorker * workers.length;
  while (sent < tries && (sent < least || workers.some((w) => !pids.has(w)))) {
    pids.add(await request());
    sent++;
  }
  return { pids, sent };
}

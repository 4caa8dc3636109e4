/**
 * `--control-socket` and `lsbaws ctl` (gunicorn 25's control interface and `gunicornc`): the
 * command grammar, each command against a fake supervisor view, and a real supervisor driven
 * through the real client: show workers/stats/listeners, worker add/remove/kill, reload,
 * shutdown, the client's exit codes, the socket's mode, a second server refused, the path
 * removed at exit.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../../../server/config.ts";
import {
  type ControlCommand,
  ControlError,
  parseCommand,
  runCommand,
  startControlSocket,
} from "../../../server/process/control_socket.ts";
import { createLogger } from "../../../server/log.ts";
import type { WorkerProc } from "../../../server/process/spawn.ts";
import type { SupervisorView } from "../../../server/process/supervisor_options.ts";
import { startLsbaws } from "../../_support/proc.ts";

Deno.test("parseCommand: the accepted forms, any case and spacing", () => {
  const cases: [string, ControlCommand][] = [
    ["help", { kind: "help" }],
    ["  Show   Workers ", { kind: "show", what: "workers" }],
    ["show stats", { kind: "show", what: "stats" }],
    ["show config", { kind: "show", what: "config" }],
    ["show listeners", { kind: "show", what: "listeners" }],
    ["worker add", { kind: "worker", op: "add", count: 1 }],
    ["worker add 3", { kind: "worker", op: "add", count: 3 }],
    ["worker remove 1024", { kind: "worker", op: "remove", count: 1024 }],
    ["worker kill 4242", { kind: "kill", pid: 4242 }],
    ["reload", { kind: "reload" }],
    ["shutdown", { kind: "shutdown", mode: "graceful" }],
    ["shutdown quick", { kind: "shutdown", mode: "quick" }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseCommand(line), want, line);
  const bad: [string, RegExp][] = [
    ["", /unknown command ''; commands: show workers, /],
    ["show", /unknown command 'show'/],
    ["show everything", /unknown command/],
    ["worker add 0", /count must be a number from 1 to 1024, got '0'/],
    ["worker add 1025", /count must be/],
    ["worker add two", /count must be/],
    ["worker add 1 2", /unknown command/],
    ["worker kill", /unknown command/],
    ["worker kill -1", /unknown command/],
    ["shutdown now", /unknown command/],
    ["reload please", /unknown command/],
  ];
  for (const [line, message] of bad) {
    assert.throws(() => parseCommand(line), (err: unknown) => {
      assert.ok(err instanceof ControlError, String(err));
      assert.match(err.message, message, line);
      return true;
    });
  }
});

function fakeView(workers: Partial<WorkerProc>[], target = 2) {
  const raised: string[] = [];
  const retired: number[] = [];
  const view: SupervisorView = {
    workers: () => workers as WorkerProc[],
    target: () => target,
    generation: () => 3,
    started: () => 7,
    listeners: () => ["127.0.0.1:8000"],
    config: () => ({ ...DEFAULTS, workers: 2, keyfilePassword: "sesame" }),
    raise: (sig) => void raised.push(sig),
    retire: (w) => void retired.push(w.pid),
  };
  return { view, raised, retired };
}

Deno.test("runCommand: answers from the supervisor's view and acts through its signals", () => {
  const now = 100_000;
  const w1 = { id: 6, pid: 11, gen: 3, ready: true, retiring: false, spawnedAt: 90_000 };
  const w2 = { id: 7, pid: 12, gen: 3, ready: false, retiring: false, spawnedAt: 99_500 };
  const { view, raised, retired } = fakeView([
    { ...w1, lastBeat: 99_750 },
    { ...w2, lastBeat: 0 },
  ]);
  const run = (line: string) => runCommand(parseCommand(line), view, now);
  assert.deepEqual(run("show workers"), {
    workers: [
      { id: 6, pid: 11, generation: 3, ready: true, retiring: false, age: 10, lastBeat: 0.25 },
      { id: 7, pid: 12, generation: 3, ready: false, retiring: false, age: 0.5, lastBeat: null },
    ],
    count: 2,
  });
  const stats = run("show stats") as Record<string, number>;
  assert.equal(stats.pid, Deno.pid);
  assert.deepEqual(
    [stats.workersTarget, stats.workersCurrent, stats.workersStarted, stats.generation],
    [2, 2, 7, 3],
  );
  const config = run("show config") as Record<string, unknown>;
  assert.equal(config.workers, 2);
  assert.equal(config.keyfilePassword, "<hidden>", "secrets stay hidden");
  assert.deepEqual(run("show listeners"), { listeners: ["127.0.0.1:8000"] });

  assert.deepEqual(run("worker add 3"), { previous: 2, total: 5 });
  assert.deepEqual(raised.splice(0), ["SIGTTIN", "SIGTTIN", "SIGTTIN"]);
  assert.deepEqual(run("worker remove 5"), { previous: 2, total: 1 });
  assert.equal(raised.splice(0).filter((s) => s === "SIGTTOU").length, 5);
  assert.deepEqual(run("reload"), { status: "reloading" });
  assert.deepEqual(run("shutdown"), { status: "stopping", mode: "graceful" });
  assert.deepEqual(run("shutdown quick"), { status: "stopping", mode: "quick" });
  assert.deepEqual(raised.splice(0), ["SIGHUP", "SIGTERM", "SIGQUIT"]);

  assert.deepEqual(run("worker kill 12"), { retired: 12 });
  assert.deepEqual(retired, [12]);
  assert.throws(() => run("worker kill 99"), /pid 99 is not a serving worker/);
  assert.ok(Object.keys((run("help") as { commands: object }).commands).includes("reload"));
});

Deno.test("startControlSocket in process: answers a command; close() cuts an idle client and removes the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-ctl-unit-" });
  const sock = `${dir}/c.sock`;
  const { view } = fakeView([]);
  let ready: SupervisorView | null = null;
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    accessLog: "",
    accessLogFormat: "common",
    errorSink: { write: (t) => void lines.push(t) },
  });
  // An hour to send a line: only close() can end the idle client's wait.
  const control = await startControlSocket(sock, () => ready, logger, 3_600_000);
  let idle: Deno.Conn | null = null;
  const ask = async (line: string) => {
    const conn = await Deno.connect({ transport: "unix", path: sock });
    await conn.write(new TextEncoder().encode(line + "\n"));
    return JSON.parse(await new Response(conn.readable).text());
  };
  try {
    assert.deepEqual(await ask("show stats"), {
      ok: false,
      error: "the supervisor is starting; try again",
    });
    ready = view;
    assert.deepEqual(await ask("reload"), { ok: true, data: { status: "reloading" } });
    assert.match(lines.join(""), /\[INFO\] control socket: reload/);
    idle = await Deno.connect({ transport: "unix", path: sock });
    await new Promise((r) => setTimeout(r, 20)); // accepted and waiting for its line
    let guard: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      control.close().then(() => "closed"),
      new Promise((r) => (guard = setTimeout(() => r("still waiting after 20 s"), 20_000))),
    ]);
    clearTimeout(guard);
    assert.equal(closed, "closed");
    assert.equal(
      await idle.read(new Uint8Array(8)).catch(() => null),
      null,
      "the idle client sees the end",
    );
    assert.throws(() => Deno.lstatSync(sock), Deno.errors.NotFound);
  } finally {
    try {
      idle?.close(); // ends the server's wait if close() did not
    } catch {
      // closed already
    }
    await control.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// --- a real supervisor and the real client ------------------------------------------------

const APP = "tests/fixtures/apps/ops.ts:app";
const ROOT = new URL("../../../", import.meta.url).pathname;

/** Runs `lsbaws ctl -s SOCK ...args`; resolves to the exit code and the output. */
async function ctl(sock: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "ctl", "-s", sock, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout), err: d.decode(out.stderr) };
}

async function json(sock: string, ...command: string[]) {
  const r = await ctl(sock, "--json", ...command);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

Deno.test("a supervisor with --control-socket is driven by lsbaws ctl: show, add, remove, kill, reload, shutdown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-ctl-" });
  const sock = `${dir}/lsbaws.ctl`;
  const p = await startLsbaws(["-p", "0", "-w", "2", "--control-socket", sock, APP]);
  try {
    await p.waitFor(() => p.workers().length === 2, "2 workers");
    assert.equal(Deno.lstatSync(sock).mode! & 0o777, 0o600, "only the owner may connect");
    const table = await ctl(sock, "show", "workers");
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^id\s+pid\s+generation\s+ready\s+retiring\s+age\s+lastBeat\n/);
    assert.match(table.out, /\n2 worker\(s\)\n$/);
    const pids = async () =>
      (await json(sock, "show", "workers")).workers.filter((w: { retiring: boolean }) =>
        !w.retiring
      ).map((w: { pid: number }) => w.pid).sort();
    assert.deepEqual(await pids(), p.workers().sort());
    const stats = await json(sock, "show", "stats");
    assert.deepEqual([stats.pid, stats.workersTarget, stats.generation], [p.pid, 2, 1]);
    assert.deepEqual((await json(sock, "show", "listeners")).listeners, [
      `127.0.0.1:${p.port()}`,
    ]);

    assert.deepEqual(await json(sock, "worker", "add"), { previous: 2, total: 3 });
    await p.waitFor(() => p.workers().length === 3, "3 workers after 'worker add'");
    assert.deepEqual(await json(sock, "worker", "remove", "2"), { previous: 3, total: 1 });
    await p.waitFor(() => p.workers().length === 1, "1 worker after 'worker remove 2'");

    const [victim] = p.workers();
    assert.deepEqual(await json(sock, "worker", "kill", String(victim)), { retired: victim });
    await p.waitFor(
      () => p.workers().length === 1 && p.workers()[0] !== victim,
      "a replacement for the killed worker",
    );
    const before = p.workers()[0];
    assert.deepEqual(await json(sock, "reload"), { status: "reloading" });
    // Ready as the supervisor sees it: with the deno backend a worker binds for itself.
    const ready = async () =>
      (await json(sock, "show", "workers")).workers.filter((w: { ready: boolean }) => w.ready);
    const end = Date.now() + 30_000;
    let now: { pid: number; generation: number }[] = [];
    while (Date.now() < end) {
      now = await ready();
      if (now.length === 1 && now[0].pid !== before && now[0].generation === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(now.map((w) => w.generation), [2], JSON.stringify(now));
    assert.notEqual(now[0].pid, before);
    const res = await fetch(`http://127.0.0.1:${p.port()}/`, { headers: { Connection: "close" } });
    assert.equal(res.status, 200, "still serving");
    await res.body?.cancel();

    const unknown = await ctl(sock, "show", "everything");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /lsbaws ctl: unknown command 'show everything'/);
    const notWorker = await ctl(sock, "worker", "kill", "1");
    assert.equal(notWorker.code, 1);
    assert.match(notWorker.err, /pid 1 is not a serving worker/);

    const second = await startLsbaws(["-p", "0", "--control-socket", sock, APP], {
      waitListening: false,
    });
    assert.equal((await second.status).code, 3);
    await second.stop();
    assert.match(second.err.join("\n"), /cannot open the control socket: .*another server answers/);

    assert.deepEqual(await json(sock, "shutdown"), { status: "stopping", mode: "graceful" });
    assert.equal((await p.status).code, 0);
    assert.throws(() => Deno.lstatSync(sock), Deno.errors.NotFound, "the path is removed");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lsbaws ctl: no command is exit 2, a socket nobody serves is exit 3", async () => {
  const none = await ctl("/nonexistent/lsbaws.ctl");
  assert.equal(none.code, 2);
  assert.match(none.err, /lsbaws ctl: no command given\nusage: lsbaws ctl/);
  const unreachable = await ctl("/nonexistent/lsbaws.ctl", "show", "stats");
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.err, /cannot reach the control socket \/nonexistent\/lsbaws\.ctl/);
  const help = await ctl("x", "--help");
  assert.equal(help.code, 0);
  assert.match(help.out, /worker kill PID\s+retire one worker gracefully/);
});

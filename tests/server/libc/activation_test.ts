/**
 * systemd socket activation with real processes: tests/fixtures/sd_launch.py binds sockets, sets
 * LISTEN_FDS/LISTEN_PID and executes lsbaws (main.ts), which serves the inherited sockets instead
 * of binding, single-process and with -w N; --bind is ignored (one info line); the variables do
 * not reach the app; --io deno and a descriptor that is not a listening stream socket are boot
 * errors (exit 3); activation meant for another pid is ignored. `--bind fd://N` (gunicorn's) serves
 * descriptors the launcher passes without the variables, with the same checks.
 */
import assert from "node:assert/strict";
import { rawOnce } from "../../_support/load.ts";
import { fdBindsOf } from "../../../server/address.ts";
import { freePort, type Proc, reachEachWorker, startLsbaws } from "../../_support/proc.ts";

const LAUNCHER = ["python3", "tests/fixtures/sd_launch.py"];

/** An app answering `<pid> <LISTEN_FDS or ->` from a temp dir. */
async function envApp(): Promise<{ path: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-sd-" });
  const path = `${dir}/app.ts`;
  await Deno.writeTextFile(
    path,
    `export default {
  fetch() {
    const seen = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"].filter((k) => Deno.env.get(k));
    return new Response(Deno.pid + " " + (seen.join(",") || "-"));
  },
};\n`,
  );
  return { path, dir };
}

/** Starts lsbaws under the launcher with `sockets` (launcher options) and lsbaws `args`. */
function launch(sockets: string[], args: string[], wait = true): Promise<Proc> {
  // Activation needs the libc backend: set it even in the suite's deno pass (--io wins over it).
  return startLsbaws(args, {
    launcher: [...LAUNCHER, ...sockets, "--"],
    waitListening: wait,
    env: { LSBAWS_IO: "libc" },
  });
}

/** One GET over the unix socket at `path`; the body. */
async function unixBody(path: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    assert.match(text, /^HTTP\/1\.1 200 /);
    return text.slice(text.indexOf("\r\n\r\n") + 4);
  } finally {
    conn.close();
  }
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test("socket activation, single process: serves the inherited TCP and unix sockets, ignores --bind", async () => {
  const app = await envApp();
  const sock = `${app.dir}/s.sock`;
  const ignored = freePort();
  const p = await launch(
    ["--tcp", "127.0.0.1:0", "--unix", sock, "--names", "web:local"],
    ["-b", `127.0.0.1:${ignored}`, app.path],
  );
  try {
    await p.waitFor(() => p.listening().length === 2, "two banner lines");
    assert.equal(p.listening()[1], `unix:${sock}`);
    const r = await rawOnce({ url: `http://127.0.0.1:${p.port()}/` });
    assert.equal(r.body, `${p.pid} -`, "served in the launcher's pid; no LISTEN_* in the app");
    assert.equal(await unixBody(sock), `${p.pid} -`);
    assert.ok(await refused(ignored), "--bind was not bound");
    assert.ok(
      p.err.some((l) =>
        /socket activation: serving 2 inherited socket\(s\) \(fd 3 web, fd 4 local\); --bind, --host and --port are ignored/
          .test(l)
      ),
      p.err.join("\n"),
    );
  } finally {
    assert.equal((await p.stop()).code, 0);
    await Deno.remove(app.dir, { recursive: true });
  }
});

/**
 * With `-w 2` under the launcher (`sockets`, lsbaws `args` before the app): both workers answer on
 * the inherited TCP socket and the unix one at `sock`, the supervisor never does, and a HUP's new
 * workers serve the same sockets.
 */
async function workersServeAcrossHup(sockets: string[], args: string[]): Promise<void> {
  const app = await envApp();
  const sock = `${app.dir}/s.sock`;
  const p = await launch(
    [...sockets, "--tcp", "127.0.0.1:0", "--unix", sock],
    ["-w", "2", ...args, app.path],
  );
  try {
    const ready = () => p.err.filter((l) => /worker \d+ \(pid \d+\) is ready/.test(l)).length;
    await p.waitFor(() => ready() === 2, "2 workers");
    const port = p.port();
    const serving = async () => {
      const { pids } = await reachEachWorker(p.workers(), async () => {
        const body = (await rawOnce({ url: `http://127.0.0.1:${port}/` })).body;
        assert.match(body, / -$/, "no LISTEN_* in a worker");
        return Number(body.split(" ")[0]);
      });
      return pids;
    };
    const before = await serving();
    assert.equal(before.size, 2, "two workers answer on the inherited port");
    assert.ok(!before.has(p.pid), "the supervisor never serves");
    assert.match(await unixBody(sock), /^\d+ -$/);
    p.signal("SIGHUP");
    await p.waitFor(() => ready() === 4 && p.workers().length === 2, "the new generation");
    const after = await serving();
    assert.ok([...after].every((pid) => !before.has(pid)), "new workers on the same socket");
    assert.match(await unixBody(sock), /^\d+ -$/);
  } finally {
    assert.equal((await p.stop()).code, 0);
    await Deno.remove(app.dir, { recursive: true });
  }
}

Deno.test("socket activation with -w 2: both workers serve the inherited sockets, across a HUP", async () => {
  await workersServeAcrossHup([], []);
});

Deno.test("socket activation with --io deno is a boot error (exit 3) naming the reason", async () => {
  for (const workers of ["1", "2"]) {
    const p = await launch(
      ["--tcp", "127.0.0.1:0"],
      ["--io", "deno", "-w", workers, "tests/fixtures/apps/ops.ts:app"],
      false,
    );
    const s = await p.status;
    await p.stop();
    assert.equal(s.code, 3, `-w ${workers}: ${p.err.join("\n")}`);
    assert.ok(
      p.err.some((l) =>
        /cannot listen: inherited sockets need the libc backend.*--io deno/.test(l)
      ),
      p.err.join("\n"),
    );
  }
});

Deno.test("an inherited fd that is not a listening stream socket is a boot error naming it", async () => {
  const cases: [string[], RegExp][] = [
    [["--unlistened"], /inherited fd 3 is a stream socket that is not listening/],
    [["--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"], /inherited fd 4 is not a stream socket/],
  ];
  for (const [sockets, re] of cases) {
    for (const workers of ["1", "2"]) {
      const p = await launch(sockets, ["-w", workers, "tests/fixtures/apps/ops.ts:app"], false);
      const s = await p.status;
      await p.stop();
      assert.equal(s.code, 3, `${sockets.join(" ")} -w ${workers}: ${p.err.join("\n")}`);
      assert.ok(p.err.some((l) => re.test(l)), p.err.join("\n"));
      assert.ok(!p.err.some((l) => /booting worker/.test(l)), "no worker was started");
    }
  }
});

Deno.test("activation meant for another process (LISTEN_PID) is ignored: lsbaws binds as usual", async () => {
  const p = await launch(
    ["--tcp", "127.0.0.1:0", "--wrong-pid"],
    ["-p", "0", "tests/fixtures/apps/ops.ts:app"],
  );
  try {
    const launcherPort = Number(
      /sd_launch: fd 3 \('127\.0\.0\.1', (\d+)\)/.exec(p.err.join("\n"))![1],
    );
    assert.notEqual(p.port(), launcherPort);
    assert.equal((await rawOnce({ url: `http://127.0.0.1:${p.port()}/` })).status, 200);
    assert.ok(!p.err.some((l) => /socket activation/.test(l)));
  } finally {
    await p.stop();
  }
});

Deno.test("--bind fd://N (gunicorn's; uvicorn's --fd): descriptors are checked and never mixed with addresses", () => {
  assert.equal(fdBindsOf([]), null);
  assert.equal(fdBindsOf(["127.0.0.1:8000", "unix:/run/s"]), null);
  assert.deepEqual(fdBindsOf(["fd://3", "fd://10"]), [3, 10]);
  const bad: [string[], RegExp][] = [
    [["fd://3", "127.0.0.1:8000"], /cannot be mixed with addresses/],
    [["fd://x"], /invalid bind 'fd:\/\/x': expected fd:\/\/N/],
    [["fd://"], /expected fd:\/\/N/],
    [["fd://2"], /0, 1 and 2 are stdin, stdout and stderr/],
    [["fd://3", "fd://3"], /fd 3 is named twice/],
  ];
  for (const [binds, re] of bad) assert.throws(() => fdBindsOf(binds), re, binds.join(" "));
});

Deno.test("--bind fd://3 --bind fd://4, no LISTEN_* set: a single process serves the launcher's sockets", async () => {
  const app = await envApp();
  const sock = `${app.dir}/s.sock`;
  const p = await launch(
    ["--no-env", "--tcp", "127.0.0.1:0", "--unix", sock],
    ["--bind", "fd://3", "--bind", "fd://4", app.path],
  );
  try {
    await p.waitFor(() => p.listening().length === 2, "two banner lines");
    assert.equal(p.listening()[1], `unix:${sock}`);
    const launcherPort = Number(
      /sd_launch: fd 3 \('127\.0\.0\.1', (\d+)\)/.exec(p.err.join("\n"))![1],
    );
    assert.equal(p.port(), launcherPort, "the banner names the inherited socket");
    assert.equal((await rawOnce({ url: `http://127.0.0.1:${p.port()}/` })).body, `${p.pid} -`);
    assert.equal(await unixBody(sock), `${p.pid} -`);
    assert.ok(!p.err.some((l) => /socket activation/.test(l)), "not taken for activation");
  } finally {
    assert.equal((await p.stop()).code, 0);
    await Deno.remove(app.dir, { recursive: true });
  }
});

Deno.test("--bind fd://3 --bind fd://4 with -w 2: both workers serve them, across a HUP", async () => {
  await workersServeAcrossHup(["--no-env"], ["--bind", "fd://3", "--bind", "fd://4"]);
});

Deno.test("--bind fd://N errors: usage (exit 2) for bad values, boot (exit 3) for what the fd is", async () => {
  const cases: [string[], string[], number, RegExp][] = [
    [[], ["--bind", "fd://3", "--bind", "127.0.0.1:0"], 2, /cannot be mixed with addresses/],
    [[], ["--bind", "fd://1"], 2, /0, 1 and 2 are stdin, stdout and stderr/],
    [["--udp", "127.0.0.1:0"], ["--bind", "fd://3"], 3, /inherited fd 3 is not a stream socket/],
    [[], ["--bind", "fd://900"], 3, /inherited fd 900 is not a socket \(EBADF\)/],
    [
      ["--tcp", "127.0.0.1:0"],
      ["--io", "deno", "--bind", "fd://3"],
      3,
      /inherited sockets need the libc backend.*--io deno/,
    ],
  ];
  for (const [sockets, args, code, re] of cases) {
    for (const workers of ["1", "2"]) {
      const p = await launch(["--no-env", ...sockets], [
        "-w",
        workers,
        ...args,
        "tests/fixtures/apps/ops.ts:app",
      ], false);
      const s = await p.status;
      await p.stop();
      const what = `${args.join(" ")} -w ${workers}: ${p.err.join("\n")}`;
      assert.equal(s.code, code, what);
      assert.ok(p.err.some((l) => re.test(l)), what);
    }
  }
});

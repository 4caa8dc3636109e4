/**
 * The CLI (`main.ts`): help, version, exit codes for usage, app-load and boot errors, the
 * listening banner, and a graceful SIGTERM/SIGINT stop of a single process with a request in
 * flight. `main(args, deps)` is driven with injected dependencies; the signal tests spawn the real
 * process (loopback only).
 */
import assert from "node:assert/strict";
import { main, type MainDeps } from "../../main.ts";
import type { Server } from "../../server/serve.ts";
import { EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR, EXIT_USAGE, SETTINGS } from "../../server/config.ts";

const root = new URL("../../", import.meta.url).pathname;

interface Captured {
  deps: MainDeps;
  out: string[];
  err: string[];
  signals: Map<string, () => void>;
  server: Promise<Server>;
}

function capture(env: Record<string, string> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const signals = new Map<string, () => void>();
  const listening = Promise.withResolvers<Server>();
  const deps: MainDeps = {
    env,
    cwd: root,
    stdout: { write: (t) => void out.push(t) },
    stderr: { write: (t) => void err.push(t) },
    onSignal(signal, handler) {
      signals.set(signal, handler);
      return () => signals.delete(signal);
    },
    onListen: (s) => listening.resolve(s),
  };
  return { deps, out, err, signals, server: listening.promise };
}

Deno.test("--help prints every setting and exits 0; --version prints the version", async () => {
  const c = capture();
  assert.equal(await main(["--help"], c.deps), 0);
  const help = c.out.join("");
  for (const s of SETTINGS) assert.ok(help.includes(`--${s.flag}`), s.flag);
  const v = capture();
  assert.equal(await main(["--version"], v.deps), 0);
  assert.match(v.out.join(""), /^lsbaws \d+\.\d+\.\d+/);
});

Deno.test("a bad flag or value exits with EXIT_USAGE and a clear message", async () => {
  for (const args of [["--nope", "apps/hello.ts"], ["--port", "x", "apps/hello.ts"], []]) {
    const c = capture();
    assert.equal(await main(args, c.deps), EXIT_USAGE, args.join(" "));
    assert.match(c.err.join(""), /^lsbaws: error: /);
  }
});

Deno.test("an app that cannot be loaded exits with EXIT_APP_LOAD_ERROR naming file and export", async () => {
  const missing = capture();
  assert.equal(await main(["--port", "0", "apps/nope.ts"], missing.deps), EXIT_APP_LOAD_ERROR);
  assert.match(missing.err.join(""), /nope\.ts/);
  const noExport = capture();
  assert.equal(
    await main(["--port", "0", "apps/hello.ts:missing"], noExport.deps),
    EXIT_APP_LOAD_ERROR,
  );
  const text = noExport.err.join("");
  assert.match(text, /missing/);
  assert.match(text, /app/, "lists the exports that exist");
});

Deno.test("a port that is taken exits with EXIT_BOOT_ERROR", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const c = capture();
    const port = String((taken.addr as Deno.NetAddr).port);
    assert.equal(await main(["--port", port, "apps/hello.ts:app"], c.deps), EXIT_BOOT_ERROR);
    assert.match(c.err.join(""), /cannot listen/);
  } finally {
    taken.close();
  }
});

Deno.test("--port 0 prints the chosen address; SIGTERM stops it and main resolves to 0", async () => {
  const c = capture();
  const done = main(["--port", "0", "--log-level", "warning", "apps/hello.ts:app"], c.deps);
  const server = await c.server;
  const port = (server.addrs[0] as Deno.NetAddr).port;
  assert.ok(c.out.join("").includes(`listening on http://127.0.0.1:${port}`));
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await res.text(), "Hello, world!\n");
  c.signals.get("SIGTERM")!();
  assert.equal(await done, 0);
});

async function spawnServer(): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "-A",
      "main.ts",
      "--port",
      "0",
      "--log-level",
      "warning",
      "tests/fixtures/apps/ops.ts:app",
    ],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!/listening on http:\/\/[^:]+:(\d+)/.test(banner)) {
    const { value, done } = await reader.read();
    if (done) break;
    banner += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(banner)?.[1]);
  assert.ok(port > 0, `no banner: ${banner}`);
  return { child, port };
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} lets an in-flight request finish, refuses new connections, exits 0`, async () => {
    const { child, port } = await spawnServer();
    try {
      const inflight = fetch(`http://127.0.0.1:${port}/slow?ms=800`);
      await new Promise((r) => setTimeout(r, 200));
      child.kill(signal);
      const res = await inflight;
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^slow \d+/);
      assert.equal(res.headers.get("connection"), "close");
      const status = await child.status;
      assert.equal(status.code, 0);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
    }
  });
}

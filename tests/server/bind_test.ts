/**
 * Listening: repeatable -b/--bind (host:port, [::1]:port, unix:/path), the PORT convention,
 * `deno serve`'s DENO_SERVE_ADDRESS, unix socket ownership on shutdown, the atomic unix-socket
 * handover between workers, and the errors for binds that cannot work.
 */
import assert from "node:assert/strict";
import { parseCli } from "../../server/config.ts";
import { ConfigError } from "../../server/config_file.ts";
import { parseBind, parseServeAddress } from "../../server/address.ts";
import { listenUnix } from "../../server/deno/unix_listener.ts";
import { startApp } from "../_support/server.ts";
import { rawOnce } from "../_support/load.ts";
import { freePort, startLsbaws } from "../_support/proc.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

const hasIpv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

/** One GET over a unix socket; returns the raw response text. */
async function unixGet(path: string, target = "/"): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(
      new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n; (n = await conn.read(buf)) !== null;) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("parseBind reads host:port, [v6]:port, :port and unix:/path", () => {
  assert.deepEqual(parseBind("127.0.0.1:80"), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 80,
  });
  assert.deepEqual(parseBind("[::1]:8080"), { transport: "tcp", hostname: "::1", port: 8080 });
  assert.deepEqual(parseBind(":81"), { transport: "tcp", hostname: "0.0.0.0", port: 81 });
  assert.deepEqual(parseBind("unix:/run/a.sock"), { transport: "unix", path: "/run/a.sock" });
  for (const bad of ["localhost", "1.2.3.4:99999", "unix:", "[::1]", "a:b:c"]) {
    assert.throws(() => parseBind(bad), Error, bad);
  }
});

Deno.test("repeatable --bind listens on IPv4, IPv6 and a unix socket at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-bind-" });
  const sock = `${dir}/app.sock`;
  const args = ["-b", "127.0.0.1:0", "-b", `unix:${sock}`];
  if (hasIpv6) args.push("-b", "[::1]:0");
  const p = await startLsbaws([...args, APP]);
  try {
    await p.waitFor(() => p.listening().length === args.length / 2, "every banner line");
    const addrs = p.listening();
    assert.match(addrs[0], /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(addrs[1], `unix:${sock}`);
    assert.equal((await rawOnce({ url: `${addrs[0]}/` })).status, 200);
    if (hasIpv6) {
      assert.match(addrs[2], /^http:\/\/\[::1\]:\d+$/);
      const r = await rawOnce({ url: `${addrs[2]}/env` });
      assert.equal(JSON.parse(r.body).REMOTE_ADDR, "::1");
    }
    assert.match(await unixGet(sock), /^HTTP\/1\.1 200 /);
    assert.equal(Deno.statSync(sock).mode! & 0o777, 0o600, "unix socket is private (0600)");
    assert.equal((await p.stop()).code, 0);
    assert.throws(() => Deno.statSync(sock), Deno.errors.NotFound, "socket file removed on exit");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

// With workers the supervisor binds the unix socket, which needs the libc backend (with --io deno,
// -w 2 and a unix socket is refused: bind_test's "binds that cannot work").
const denoIo = Deno.env.get("LSBAWS_TEST_IO") === "deno";
if (denoIo) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "bind_test: --unix-socket-mode with -w 2 skipped under LSBAWS_TEST_IO=deno: only the libc supervisor binds unix sockets\n",
    ),
  );
}
for (const workers of denoIo ? ["1"] : ["1", "2"]) {
  Deno.test(`--unix-socket-mode 660 and 666 give the socket those permissions (-w ${workers})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-mode-" });
    try {
      for (const mode of [0o660, 0o666]) {
        const sock = `${dir}/app-${mode.toString(8)}.sock`;
        const p = await startLsbaws([
          "-w",
          workers,
          "-b",
          `unix:${sock}`,
          "--unix-socket-mode",
          mode.toString(8),
          APP,
        ]);
        try {
          await p.waitFor(() => p.listening().length === 1, "the banner");
          assert.equal(Deno.statSync(sock).mode! & 0o777, mode);
          assert.match(await unixGet(sock), /^HTTP\/1\.1 200 /);
        } finally {
          assert.equal((await p.stop()).code, 0);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("--unix-socket-mode takes three octal digits", () => {
  for (const ok of ["600", "0660", "666", "640"]) {
    assert.equal(parseCli(["--unix-socket-mode", ok, "a.ts"], {}).kind, "run", ok);
  }
  for (const bad of ["6", "888", "rw-rw----", "0o660", "7777"]) {
    assert.throws(
      () => parseCli(["--unix-socket-mode", bad, "a.ts"], {}),
      /--unix-socket-mode must be three octal digits \(600, 660, 666\)/,
      bad,
    );
  }
});

Deno.test("PORT convention: $PORT alone means 0.0.0.0:$PORT; --host or --bind still win", async () => {
  assert.deepEqual(
    [parseCli(["a.ts"], { PORT: "5000" })].map((r) =>
      r.kind === "run" && [r.config.host, r.config.port]
    )[0],
    ["0.0.0.0", 5000],
  );
  const withHost = parseCli(["--host", "127.0.0.1", "a.ts"], { PORT: "5000" });
  assert.ok(withHost.kind === "run" && withHost.config.host === "127.0.0.1");
  const noPort = parseCli(["a.ts"], {});
  assert.ok(noPort.kind === "run" && noPort.config.host === "127.0.0.1");
  const port = freePort();
  const p = await startLsbaws(["--host", "127.0.0.1", APP], { env: { PORT: String(port) } });
  try {
    assert.equal(p.port(), port);
    assert.equal((await rawOnce({ url: `http://127.0.0.1:${port}/` })).status, 200);
  } finally {
    await p.stop();
  }
});

Deno.test("DENO_SERVE_ADDRESS: Deno's grammar (tcp:IP:PORT, tcp:[v6]:PORT, unix:PATH, duplicate,); the rest is refused", () => {
  assert.deepEqual(parseServeAddress("tcp:127.0.0.1:8080"), {
    bind: "127.0.0.1:8080",
    duplicate: false,
  });
  assert.deepEqual(parseServeAddress("tcp:[::1]:9000"), { bind: "[::1]:9000", duplicate: false });
  assert.deepEqual(parseServeAddress("duplicate,tcp:[::1]:9000"), {
    bind: "[::1]:9000",
    duplicate: true,
  });
  assert.deepEqual(parseServeAddress("unix:/var/run/socket.sock"), {
    bind: "unix:/var/run/socket.sock",
    duplicate: false,
  });
  assert.deepEqual(parseServeAddress("duplicate,unix:/run/a:b.sock"), {
    bind: "unix:/run/a:b.sock",
    duplicate: true,
  });
  for (
    const [bad, why] of [
      ["tcp:", /expected tcp:IP:PORT/],
      ["tcp:localhost:8000", /an IP address/],
      ["tcp:127.0.0.1", /expected tcp:IP:PORT/],
      ["tcp:256.0.0.1:80", /expected tcp:IP:PORT/],
      ["tcp:127.0.0.1:65536", /expected tcp:IP:PORT/],
      ["tcp:[::g]:80", /expected tcp:IP:PORT/],
      ["unix:", /empty unix socket path/],
      ["vsock:1234:5678", /vsock addresses are Deno's own/],
      ["tunnel:x", /tunnel addresses are Deno's own/],
      ["foo:", /expected tcp:IP:PORT, tcp:\[IPv6\]:PORT or unix:PATH/],
      ["bar", /expected tcp:IP:PORT/],
      ["duplicate,", /expected tcp:IP:PORT/],
    ] as const
  ) {
    assert.throws(() => parseServeAddress(bad), (err: Error) => {
      assert.ok(err.message.startsWith(`DENO_SERVE_ADDRESS='${bad}': `), err.message);
      assert.match(err.message, why);
      return true;
    });
  }
  const binds = (args: string[], value: string) => {
    const r = parseCli([...args, "a.ts"], { DENO_SERVE_ADDRESS: value });
    assert.ok(r.kind === "run");
    assert.deepEqual(r.sources.bind, { kind: "env", name: "DENO_SERVE_ADDRESS" });
    return r.config.bind;
  };
  // As for Deno.serve, it replaces the configured addresses, flags included ...
  assert.deepEqual(binds(["--port", "3000"], "tcp:127.0.0.1:4000"), ["127.0.0.1:4000"]);
  assert.deepEqual(binds(["-b", "unix:/a", "-b", ":1"], "unix:/b"), ["unix:/b"]);
  // ... and with duplicate, it is served besides them.
  assert.deepEqual(binds(["--port", "3000"], "duplicate,unix:/b"), ["127.0.0.1:3000", "unix:/b"]);
  assert.deepEqual(binds(["--host", "::1", "-p", "1"], "duplicate,tcp:127.0.0.1:2"), [
    "[::1]:1",
    "127.0.0.1:2",
  ]);
  assert.deepEqual(binds(["-b", "unix:/a"], "duplicate,tcp:[::1]:2"), ["unix:/a", "[::1]:2"]);
  const handedIn = parseCli(["-b", "fd://3", "a.ts"], { DENO_SERVE_ADDRESS: "unix:/b" });
  assert.ok(handedIn.kind === "run");
  assert.deepEqual(handedIn.config.bind, ["fd://3"], "descriptors handed in win");
  assert.equal(handedIn.sources.bind.kind, "cli");
  const none = parseCli(["a.ts"], { DENO_SERVE_ADDRESS: "" });
  assert.ok(none.kind === "run" && none.config.bind.length === 0, "empty: not set");
  assert.throws(
    () => parseCli(["a.ts"], { DENO_SERVE_ADDRESS: "vsock:1:2" }),
    (err: Error) =>
      err instanceof ConfigError && /DENO_SERVE_ADDRESS='vsock:1:2'/.test(err.message),
  );
});

Deno.test("DENO_SERVE_ADDRESS in a real process: it replaces -p, duplicate,unix: serves besides --bind, vsock is exit 2", async () => {
  const port = freePort();
  const p = await startLsbaws(["-p", "0", APP], {
    env: { DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}` },
  });
  try {
    assert.deepEqual(p.listening(), [`http://127.0.0.1:${port}`]);
    assert.equal((await rawOnce({ url: `http://127.0.0.1:${port}/` })).status, 200);
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-dsa-" });
  const sock = `${dir}/deno.sock`;
  const both = await startLsbaws(["-b", "127.0.0.1:0", APP], {
    env: { DENO_SERVE_ADDRESS: `duplicate,unix:${sock}` },
  });
  try {
    await both.waitFor(() => both.listening().length === 2, "both banner lines");
    const [tcp, unix] = both.listening();
    assert.match(tcp, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(unix, `unix:${sock}`);
    assert.equal((await rawOnce({ url: `${tcp}/` })).status, 200);
    assert.match(await unixGet(sock), /^HTTP\/1\.1 200 /);
  } finally {
    assert.equal((await both.stop()).code, 0);
    await Deno.remove(dir, { recursive: true });
  }
  const vsock = await startLsbaws(["-p", "0", APP], {
    env: { DENO_SERVE_ADDRESS: "vsock:3:8000" },
    waitListening: false,
  });
  const status = await vsock.status;
  await vsock.stop();
  assert.equal(status.code, 2, vsock.err.join("\n"));
  assert.match(
    vsock.err.join("\n"),
    /lsbaws: error: DENO_SERVE_ADDRESS='vsock:3:8000': vsock addresses are Deno's own/,
  );
});

Deno.test("a unix socket file is only removed on shutdown if it is still ours", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-unix-" });
  const sock = `${dir}/s.sock`;
  const a = await startApp(APP, { bind: [`unix:${sock}`] });
  const b = await startApp(APP, { bind: [`unix:${sock}`] }); // takes the path over
  try {
    await a.close();
    assert.ok(Deno.statSync(sock).isSocket, "the successor's socket survives");
    assert.match(await unixGet(sock), /^HTTP\/1\.1 200 /);
  } finally {
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-w 1 --max-requests on a unix socket: each replacement takes the path over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-unixw-" });
  const sock = `${dir}/app.sock`;
  const p = await startLsbaws(["-w", "1", "--max-requests", "5", "-b", `unix:${sock}`, APP]);
  try {
    const pids = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const text = await unixGet(sock);
      assert.match(text, /^HTTP\/1\.1 200 /, `request ${i}`);
      pids.add(text.slice(text.indexOf("\r\n\r\n") + 4));
      await new Promise((r) => setTimeout(r, 25)); // let replacements boot
    }
    assert.ok(pids.size >= 2, `recycled (${pids.size} pids)`);
    assert.ok(Deno.statSync(sock).isSocket, "the path survives every handover");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unix socket handover: every connect succeeds while workers are replaced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-unixh-" });
  const sock = `${dir}/app.sock`;
  const p = await startLsbaws(["-w", "1", "--max-requests", "3", "-b", `unix:${sock}`, APP]);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + 20_000;
  const pids = new Set<string>();
  const failures: string[] = [];
  let connects = 0;
  const done = () => pids.size >= 4 || Date.now() > deadline || failures.length > 0;
  try {
    // Requests spend each worker's budget (3), so the supervisor keeps replacing it...
    const requests = async () => {
      for (let i = 0; i < 200 && !done(); i++) {
        const text = await unixGet(sock).catch((err) => `request failed: ${err}`);
        if (!text.startsWith("HTTP/1.1 200 ")) failures.push(text.slice(0, 200));
        else pids.add(text.slice(text.indexOf("\r\n\r\n") + 4));
        await pause(20);
      }
    };
    // ...while bare connects hammer the path: each must find a live listener.
    const hammer = async () => {
      while (!done() && connects < 4000) {
        try {
          (await Deno.connect({ transport: "unix", path: sock })).close();
          connects++;
        } catch (err) {
          failures.push(`connect ${connects}: ${err}`);
        }
        await pause(2);
      }
    };
    await Promise.all([requests(), hammer(), hammer()]);
    assert.deepEqual(failures, []);
    assert.ok(pids.size >= 3, `at least two handovers (${pids.size} pids, ${connects} connects)`);
    assert.ok(connects > 0);
    const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n !== "app.sock");
    assert.deepEqual(leftovers, [], "no private socket names left behind");
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a unix bind never replaces a file that is not a socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-unixf-" });
  const path = `${dir}/not-a-socket`;
  await Deno.writeTextFile(path, "keep me");
  try {
    await assert.rejects(startApp(APP, { bind: [`unix:${path}`] }), Deno.errors.AddrInUse);
    assert.equal(await Deno.readTextFile(path), "keep me");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["not-a-socket"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("accepted unix connections report the public path, not the private name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-unixa-" });
  const sock = `${dir}/s.sock`;
  const l = await listenUnix(sock);
  try {
    assert.deepEqual(l.addr, { transport: "unix", path: sock });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["s.sock"]);
    const client = await Deno.connect({ transport: "unix", path: sock });
    const conn = await l.accept();
    assert.deepEqual(conn.localAddr, { transport: "unix", path: sock });
    conn.close();
    client.close();
  } finally {
    l.close();
  }
  assert.deepEqual([...Deno.readDirSync(dir)], [], "close removes the path it still owns");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("binds that cannot work are usage errors (exit 2)", async () => {
  for (
    const args of [
      ["-w", "2", "--io", "deno", "-b", "unix:/tmp/lsbaws-never.sock", APP],
      ["-b", "nonsense", APP],
      ["--forwarded-allow-ips", "10.0.0.0/99", APP],
    ]
  ) {
    const p = await startLsbaws(args, { waitListening: false });
    const s = await p.status;
    await p.stop();
    assert.equal(s.code, 2, `${args.join(" ")}\n${p.err.join("\n")}`);
  }
});

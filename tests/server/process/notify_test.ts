/**
 * systemd's readiness protocol (`NOTIFY_SOCKET`, `Type=notify` / `Type=notify-reload`): the
 * socket address encoding (a path, or `@name` in the abstract namespace), and real processes
 * reporting to a datagram socket the test binds: a single process sends READY=1 once it listens
 * and STOPPING=1 on TERM; a supervisor sends READY=1 once it serves, RELOADING=1 with
 * MONOTONIC_USEC on HUP and READY=1 when the new generation serves, STOPPING=1 on TERM; neither
 * the app nor the workers see the variable. The abstract namespace is checked with python3 as
 * the receiver (Deno cannot bind one).
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../../_support/proc.ts";
import { notifyAddress, takeNotifySocket } from "../../../server/process/notify.ts";

Deno.test("NOTIFY_SOCKET addresses: a path NUL-terminated, @name abstract, too long refused", () => {
  assert.deepEqual([...notifyAddress("/run/n")], [1, 0, 0x2f, 0x72, 0x75, 0x6e, 0x2f, 0x6e, 0]);
  assert.deepEqual([...notifyAddress("@ab")], [1, 0, 0, 0x61, 0x62]);
  assert.throws(() => notifyAddress("/" + "x".repeat(110)), /too long/);
  const env: Record<string, string> = { NOTIFY_SOCKET: "/run/n", OTHER: "1" };
  const unset: string[] = [];
  assert.equal(takeNotifySocket(env, (n) => unset.push(n)), "/run/n");
  assert.deepEqual(unset, ["NOTIFY_SOCKET"]);
  assert.equal(takeNotifySocket({}, () => assert.fail("nothing to unset")), null);
});

/** A datagram socket at a fresh path and the states received on it. */
async function receiver(): Promise<{ path: string; states: string[]; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-notify-" });
  const path = `${dir}/notify.sock`;
  const sock = Deno.listenDatagram({ transport: "unixpacket", path });
  const states: string[] = [];
  const loop = (async () => {
    try {
      while (true) {
        const [buf] = await sock.receive();
        states.push(new TextDecoder().decode(buf));
      }
    } catch {
      // closed
    }
  })();
  return {
    path,
    states,
    async close() {
      sock.close();
      await loop;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const ENV_APP = "tests/fixtures/apps/env_var.ts";

Deno.test("a single process: READY=1 once it listens, STOPPING=1 on TERM; the app never sees it", async () => {
  const rx = await receiver();
  try {
    const p = await startLsbaws(["-p", "0", ENV_APP], { env: { NOTIFY_SOCKET: rx.path } });
    try {
      await p.waitFor(() => rx.states.includes("READY=1"), "READY=1");
      const res = await fetch(`http://127.0.0.1:${p.port()}/NOTIFY_SOCKET`);
      assert.match(await res.text(), /^<unset> /);
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
    await p.waitFor(() => rx.states.includes("STOPPING=1"), "STOPPING=1");
    assert.deepEqual(rx.states, ["READY=1", "STOPPING=1"]);
  } finally {
    await rx.close();
  }
});

Deno.test("a supervisor: READY=1, RELOADING=1 with MONOTONIC_USEC on HUP, READY=1, STOPPING=1", async () => {
  const rx = await receiver();
  try {
    const p = await startLsbaws(["-w", "2", "-p", "0", ENV_APP], {
      env: { NOTIFY_SOCKET: rx.path },
    });
    try {
      await p.waitFor(() => rx.states.length === 1, "READY=1");
      assert.deepEqual(rx.states, ["READY=1"]);
      await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length === 2, "2 workers");
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`http://127.0.0.1:${p.port()}/NOTIFY_SOCKET`, {
          headers: { Connection: "close" },
        });
        assert.match(await res.text(), /^<unset> /, "no worker sees it");
      }
      p.signal("SIGHUP");
      await p.waitFor(() => rx.states.length === 3, "RELOADING=1, then READY=1", 30_000);
      assert.match(rx.states[1], /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
      assert.equal(rx.states[2], "READY=1");
      await p.waitFor(
        () => p.err.filter((l) => / is ready/.test(l)).length >= 4,
        "the new generation's workers were ready (READY waits for them)",
      );
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
    await p.waitFor(() => rx.states.length === 4, "STOPPING=1");
    assert.equal(rx.states[3], "STOPPING=1");
  } finally {
    await rx.close();
  }
});

const PYTHON = (() => {
  try {
    return new Deno.Command("python3", { args: ["-c", "pass"] }).outputSync().success;
  } catch {
    return false;
  }
})();
if (!PYTHON) {
  Deno.stderr.writeSync(
    new TextEncoder().encode("notify_test: the abstract-namespace test is skipped: no python3\n"),
  );
}

Deno.test({
  name: "an abstract NOTIFY_SOCKET (@name) is reached too (python3 receives)",
  ignore: !PYTHON,
  async fn() {
    const name = `lsbaws-notify-${Deno.pid}-${Date.now()}`;
    const py = new Deno.Command("python3", {
      args: [
        "-u",
        "-c",
        `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
s.bind("\\0${name}")
print("bound",flush=True)
s.settimeout(30)
print(s.recv(4096).decode().replace("\\n"," "),flush=True)`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = py.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("bound\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const p = await startLsbaws(["-p", "0", ENV_APP], { env: { NOTIFY_SOCKET: `@${name}` } });
    try {
      while (!/READY=1/.test(out)) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      assert.match(out, /READY=1/);
    } finally {
      await p.stop();
      reader.releaseLock();
      await py.stdout.cancel().catch(() => {});
      try {
        py.kill();
      } catch {
        // exited after its one datagram
      }
      await py.status;
    }
  },
});

/**
 * The libc backend as a whole process (`--io libc`): app timers and async handlers keep running
 * under keep-alive load (the loop yields), idle keep-alive connections cost no CPU (the loop
 * parks), a request that arrives while an async handler runs is served right after it, and
 * `--io` boot errors and fallbacks.
 */
import assert from "node:assert/strict";
import { rawOnce, runLoad } from "../../_support/load.ts";
import { delay, startLsbaws } from "../../_support/proc.ts";
import { parseResponses } from "../../_support/raw_client.ts";
import { loadLibc } from "../../../server/libc/ffi.ts";

const FAIR_APP = "tests/server/libc/fairness_app.ts:app";
const OPS_APP = "tests/fixtures/apps/ops.ts:app";
const HAS_LIBC = loadLibc().ok;
const enc = new TextEncoder();
const dec = new TextDecoder();

async function get(port: number, path: string): Promise<string> {
  const r = await rawOnce({ url: `http://127.0.0.1:${port}${path}`, timeoutMs: 5000 });
  assert.equal(r.status, 200);
  return r.body;
}

/** Prints a measurement next to the test results. */
function report(line: string): void {
  Deno.stderr.writeSync(enc.encode(line + "\n"));
}

/** utime + stime of `pid` in clock ticks (all threads). */
function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5)
}

Deno.test({
  name:
    "fairness: under keep-alive load a 10 ms interval keeps firing, a 5 ms timer and a fetch() answer",
  ignore: !HAS_LIBC,
  async fn() {
    const p = await startLsbaws(["-p", "0", "--io", "libc", FAIR_APP]);
    const ac = new AbortController();
    const second = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
      () => new Response("second"),
    );
    try {
      const port = p.port();
      await get(port, "/reset");
      const started = performance.now();
      const load = runLoad({ url: `http://127.0.0.1:${port}/`, total: 16000, concurrency: 32 });
      let loadEnded = false;
      load.done.then(() => loadEnded = true, () => loadEnded = true);
      await load.progress(500);
      const timerMs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        assert.equal(await get(port, "/timer"), "timer");
        timerMs.push(Math.round(performance.now() - t));
      }
      const fetchMs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        assert.equal(await get(port, `/fetch?port=${second.addr.port}`), "second");
        fetchMs.push(Math.round(performance.now() - t));
      }
      const stillLoaded = !loadEnded;
      const res = await load.done;
      const elapsed = performance.now() - started;
      const stats = JSON.parse(await get(port, "/stats"));
      report(
        `fairness: ${res.ok} requests in ${
          Math.round(elapsed)
        } ms; interval ticks ${stats.ticks} ` +
          `(expected ~${Math.round(elapsed / 10)}), lateness max ${
            stats.maxLateMs.toFixed(1)
          } ms ` +
          `mean ${stats.meanLateMs.toFixed(2)} ms; /timer took ${
            timerMs.join(", ")
          } ms; /fetch took ${fetchMs.join(", ")} ms ` +
          `(${stillLoaded ? "under load" : "the load had ended before the last fetch"})`,
      );
      assert.equal(res.ok, 16000, res.errors.join("; "));
      assert.ok(stats.ticks >= (elapsed / 10) * 0.3, `only ${stats.ticks} ticks in ${elapsed} ms`);
      assert.ok(stats.maxLateMs < 500, `an interval tick was ${stats.maxLateMs} ms late`);
      assert.ok(Math.max(...timerMs) < 1000, `/timer took ${timerMs} ms`);
      assert.ok(Math.max(...fetchMs) < 1000, `/fetch took ${fetchMs} ms`);
    } finally {
      ac.abort();
      await second.finished;
      await p.stop();
    }
  },
});

Deno.test({
  name: "idle: 1,000 idle keep-alive connections cost < 1 % of a core over 10 s",
  ignore: !HAS_LIBC || Deno.build.os !== "linux",
  async fn() {
    const p = await startLsbaws([
      "-p",
      "0",
      "--io",
      "libc",
      "--keep-alive-timeout-ms",
      "60000",
      OPS_APP,
    ]);
    const conns: Deno.Conn[] = [];
    try {
      const port = p.port();
      const buf = new Uint8Array(4096);
      for (let i = 0; i < 1000; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.push(c);
        await c.write(enc.encode("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
        const n = await c.read(buf);
        assert.ok(n !== null && dec.decode(buf.subarray(0, n)).startsWith("HTTP/1.1 200"));
      }
      await delay(300);
      const hz = 100; // USER_HZ on Linux
      const before = cpuTicks(p.pid);
      const t0 = performance.now();
      await delay(10_000);
      const used = (cpuTicks(p.pid) - before) / hz;
      const share = used / ((performance.now() - t0) / 1000);
      report(`idle: ${(share * 100).toFixed(2)} % of a core with 1,000 idle connections over 10 s`);
      assert.ok(share < 0.01, `${(share * 100).toFixed(1)} % of a core while idle`);
    } finally {
      for (const c of conns) c.close();
      await p.stop();
    }
  },
});

Deno.test({
  name: "a request that arrives while an async handler runs is answered right after it",
  ignore: !HAS_LIBC,
  async fn() {
    const p = await startLsbaws(["-p", "0", "--io", "libc", OPS_APP]);
    try {
      const port = p.port();
      for (let i = 0; i < 20; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          await c.write(enc.encode("GET /slow?ms=30 HTTP/1.1\r\nHost: t\r\n\r\n"));
          await delay(i % 2 === 0 ? 10 : 0);
          await c.write(enc.encode("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
          let text = "";
          const buf = new Uint8Array(4096);
          const deadline = Date.now() + 3000;
          while (parseResponses(text).responses.length < 2 && Date.now() < deadline) {
            const n = await c.read(buf);
            if (n === null) break;
            text += dec.decode(buf.subarray(0, n));
          }
          const statuses = parseResponses(text).responses.map((r) => r.status);
          assert.deepEqual(statuses, [200, 200], text);
        } finally {
          c.close();
        }
      }
    } finally {
      await p.stop();
    }
  },
});

Deno.test({
  name:
    "--io libc refuses TLS and a missing FFI permission as boot errors (exit 3); auto falls back",
  ignore: !HAS_LIBC,
  async fn() {
    const tls = await startLsbaws(
      [
        "-p",
        "0",
        "--io",
        "libc",
        "--certfile",
        "/nonexistent/c.pem",
        "--keyfile",
        "/no/k.pem",
        OPS_APP,
      ],
      { waitListening: false },
    );
    assert.equal((await tls.status).code, 3);
    await tls.stop();
    assert.ok(tls.err.some((l) => /cannot listen: --io libc: TLS/.test(l)), tls.err.join("\n"));

    const root = new URL("../../../", import.meta.url).pathname;
    const noFfi = (io: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--unstable-net",
          "--allow-net",
          "--allow-read",
          "--allow-env",
          "main.ts",
          "-p",
          "0",
          "--io",
          io,
          OPS_APP,
        ],
        cwd: root,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    const refused = await noFfi("libc").output();
    assert.equal(refused.code, 3);
    assert.match(dec.decode(refused.stderr), /--io libc: FFI not permitted/);

    const child = noFfi("auto");
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!/serving with --io deno: FFI not permitted/.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    child.kill("SIGTERM");
    await child.status;
    reader.releaseLock();
    await child.stderr.cancel().catch(() => {});
    await child.stdout.cancel();
    assert.match(err, /serving with --io deno: FFI not permitted/);
  },
});

/**
 * Concurrency and listen limits: --limit-concurrency answers 503 with Retry-After beyond N
 * in-flight requests, --backlog reaches the kernel (tcpBacklog), and the accept loop backs off on
 * EMFILE instead of spinning, then recovers.
 */
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";
import { rawOnce } from "../_support/load.ts";
import { delay, startLsbaws } from "../_support/proc.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

Deno.test("--limit-concurrency 2: two slow requests run, the others get 503 + Retry-After", async () => {
  const s = await startApp(APP, { limitConcurrency: 2 });
  try {
    const url = `http://127.0.0.1:${s.port}/slow?ms=800`;
    const first = [rawOnce({ url }), rawOnce({ url })];
    await delay(200);
    const rest = await Promise.all(Array.from({ length: 4 }, () => rawOnce({ url })));
    for (const r of rest) {
      assert.equal(r.status, 503);
      assert.match(r.head, /\r\nretry-after: 1\r\n/i);
    }
    for (const r of await Promise.all(first)) assert.equal(r.status, 200);
    assert.equal((await rawOnce({ url: `http://127.0.0.1:${s.port}/` })).status, 200);
  } finally {
    await s.close();
  }
});

function listenBacklog(port: number): number | null {
  let out;
  try {
    out = new Deno.Command("ss", { args: ["-ltnH"], stdout: "piped", stderr: "null" }).outputSync();
  } catch {
    return null;
  }
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[3]?.endsWith(`:${port}`)) return Number(f[2]);
  }
  return null;
}

const hasSs = (() => {
  try {
    new Deno.Command("ss", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "--backlog sets the kernel listen queue (ss shows it as Send-Q)",
  ignore: !hasSs,
  async fn() {
    const s = await startApp(APP, { backlog: 17 });
    const d = await startApp(APP);
    try {
      assert.equal(listenBacklog(s.port), 17);
      const somaxconn = Number(Deno.readTextFileSync("/proc/sys/net/core/somaxconn"));
      assert.equal(listenBacklog(d.port), Math.min(2048, somaxconn), "default 2048 (capped)");
    } finally {
      await s.close();
      await d.close();
    }
  },
});

Deno.test("the accept loop backs off on EMFILE instead of spinning, then recovers", async () => {
  const p = await startLsbaws(["-p", "0", APP], { fdLimit: 40 });
  const conns: Deno.Conn[] = [];
  try {
    const port = p.port();
    for (let i = 0; i < 60; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await p.waitForErr(/accept failed .*Too many open files/);
    await delay(1500);
    const retries = p.err.filter((l) => /accept failed/.test(l)).length;
    assert.ok(retries >= 2 && retries <= 30, `${retries} accept retries in ~1.5 s (backoff)`);
    assert.ok(p.err.some((l) => /retrying in 1000 ms/.test(l)), "backoff reaches 1 s");
    for (const c of conns.splice(0)) c.close();
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      ok = await rawOnce({ url: `http://127.0.0.1:${port}/`, timeoutMs: 3000 })
        .then((r) => r.status === 200, () => false);
      if (!ok) await delay(100);
    }
    assert.ok(ok, "serves again once descriptors are free");
  } finally {
    for (const c of conns) c.close();
    await p.stop();
  }
});

/**
 * The `deno serve` default export's `onListen(localAddr)` hook: lsbaws calls it once per listening
 * address after it listens, with the exported object as `this`, in a single process and in every
 * worker; a hook that throws or rejects is logged and the server keeps serving. Gateway apps and
 * objects without the hook have none (`listenHookOf`).
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../_support/proc.ts";
import { listenHookOf } from "../../gateway/handler.ts";

const APP = "tests/fixtures/apps/on_listen.ts";

/** The addresses the app's hook printed. */
function hookLines(
  out: string[],
): Array<{ addr: Record<string, unknown>; self: boolean; pid: number }> {
  return out.flatMap((l) => {
    const m = /^onListen (\{.*\}) this=(true|false) pid=(\d+)$/.exec(l);
    return m ? [{ addr: JSON.parse(m[1]), self: m[2] === "true", pid: Number(m[3]) }] : [];
  });
}

Deno.test("onListen is called once per listening address, after the banner, with the app as this", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-onlisten-" });
  const sock = `${dir}/app.sock`;
  const p = await startLsbaws(["--bind", "127.0.0.1:0", "--bind", `unix:${sock}`, APP]);
  try {
    await p.waitFor(() => hookLines(p.out).length === 2, "two onListen calls");
    const port = p.port();
    assert.deepEqual(hookLines(p.out).map((h) => h.addr), [
      { transport: "tcp", hostname: "127.0.0.1", port },
      { transport: "unix", path: sock },
    ]);
    assert.ok(hookLines(p.out).every((h) => h.self && h.pid === p.pid));
    const firstHook = p.out.findIndex((l) => l.startsWith("onListen "));
    assert.ok(p.out.slice(0, firstHook).filter((l) => / listening on /.test(l)).length === 2);
  } finally {
    assert.equal((await p.stop()).code, 0);
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(hookLines(p.out).length, 2, "no further calls");
});

Deno.test("with -w 2 every worker calls onListen once", async () => {
  const p = await startLsbaws(["-w", "2", "-p", "0", APP]);
  try {
    await p.waitFor(() => hookLines(p.out).length === 2, "one call per worker");
    const port = p.port();
    const pids = hookLines(p.out).map((h) => h.pid);
    assert.equal(new Set(pids).size, 2);
    for (const pid of pids) assert.ok(p.workers().includes(pid), `${pid} is a worker`);
    for (const h of hookLines(p.out)) {
      assert.deepEqual(h.addr, { transport: "tcp", hostname: "127.0.0.1", port });
    }
  } finally {
    assert.equal((await p.stop()).code, 0);
  }
});

for (const [name, message] of [["throwing", "hook broke"], ["rejecting", "async hook broke"]]) {
  Deno.test(`an onListen that ${name === "throwing" ? "throws" : "rejects"} is logged and the server keeps serving`, async () => {
    const p = await startLsbaws(["-p", "0", `${APP}:${name}`]);
    try {
      await p.waitForErr(
        new RegExp(
          `\\[ERROR\\] the app's onListen failed \\(serving goes on\\): Error: ${message}`,
        ),
      );
      const res = await fetch(`http://127.0.0.1:${p.port()}/`, {
        headers: { Connection: "close" },
      });
      assert.equal(await res.text(), "still serving");
    } finally {
      assert.equal((await p.stop()).code, 0);
    }
  });
}

Deno.test("listenHookOf: a fetch object's own or inherited onListen, bound; nothing else", () => {
  const seen: unknown[] = [];
  const obj = {
    fetch: () => new Response(),
    onListen(addr: Deno.Addr) {
      seen.push([this, addr]);
    },
  };
  const hook = listenHookOf(obj)!;
  hook({ transport: "tcp", hostname: "::1", port: 1 });
  assert.deepEqual(seen, [[obj, { transport: "tcp", hostname: "::1", port: 1 }]]);
  class Base {
    fetch() {
      return new Response();
    }
    onListen() {}
  }
  assert.equal(typeof listenHookOf(new Base()), "function", "inherited");
  assert.equal(listenHookOf({ fetch: () => new Response() }), null, "no hook");
  assert.equal(listenHookOf({ fetch: () => new Response(), onListen: 1 }), null, "not callable");
  assert.equal(listenHookOf({ onListen() {} }), null, "not a fetch app");
  const fn = Object.assign(() => {}, { fetch() {}, onListen() {} });
  assert.equal(listenHookOf(fn), null, "a function is not a deno serve export");
  const trap = {
    fetch: () => new Response(),
    get onListen(): never {
      throw new Error("getter");
    },
  };
  assert.equal(listenHookOf(trap), null, "a throwing getter");
});

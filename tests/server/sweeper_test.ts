/**
 * `createSweeper` (server/serve.ts): the timeout sweeper runs within one interval of activity,
 * every interval while requests are in flight, at the earliest pending deadline otherwise, and
 * not at all while nothing is armed or pending, so an idle server has no wake-ups.
 */
import assert from "node:assert/strict";
import { createSweeper } from "../../server/serve.ts";
import { createClock } from "../../server/clock.ts";
import type { LiveConnection } from "../../server/endpoint.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection whose pending deadline the test sets; counts the sweeps that checked it. */
function fakeConn(): LiveConnection & { deadline: number; checks: number[] } {
  return {
    liveSlot: -1,
    deadline: 0,
    checks: [],
    hijacked: false,
    run: () => Promise.resolve(),
    close() {},
    checkTimeout(now: number): number {
      this.checks.push(now);
      if (this.deadline !== 0 && now >= this.deadline) this.deadline = 0; // expired: closed
      return this.deadline;
    },
  };
}

Deno.test("sweeper: nothing armed, no sweep; an arm sweeps within the interval, then it sleeps", async () => {
  const clock = createClock();
  const c = fakeConn();
  const s = createSweeper(20, clock, () => [c], () => false);
  try {
    await delay(80);
    assert.equal(c.checks.length, 0, "no sweep without a deadline");
    c.deadline = clock.now() + 10_000; // far away, like an idle keep-alive connection
    s.arm(c.deadline);
    await delay(120);
    assert.equal(c.checks.length, 1, `one sweep after the arm, then none (got ${c.checks.length})`);
  } finally {
    s.stop();
  }
});

Deno.test("sweeper: a pending deadline is checked at its time (within the interval)", async () => {
  const clock = createClock();
  const c = fakeConn();
  const s = createSweeper(20, clock, () => [c], () => false);
  try {
    const t0 = clock.now();
    c.deadline = t0 + 150;
    s.arm(c.deadline);
    await delay(400);
    // The sweep right after the arm, then the one at the deadline (which expires it); no others.
    assert.equal(c.deadline, 0, "the deadline was enforced");
    const last = c.checks.at(-1)!;
    assert.ok(last >= t0 + 150, `enforced at +${last - t0} ms, not before the deadline`);
    assert.ok(c.checks.length <= 3, `${c.checks.length} sweeps for one deadline`);
  } finally {
    s.stop();
  }
});

Deno.test("sweeper: while requests are in flight it runs every interval; stop() ends it", async () => {
  const clock = createClock();
  const c = fakeConn();
  let busy = true;
  const s = createSweeper(20, clock, () => [c], () => busy);
  c.deadline = clock.now() + 60_000;
  s.arm(c.deadline);
  await delay(250);
  const whileBusy = c.checks.length;
  assert.ok(whileBusy >= 4, `${whileBusy} sweeps in 250 ms at a 20 ms interval while busy`);
  busy = false;
  await delay(100);
  const settled = c.checks.length;
  await delay(150);
  assert.equal(c.checks.length, settled, "idle again: no more sweeps before the far deadline");
  s.stop();
  s.arm(clock.now() + 10);
  await delay(80);
  assert.equal(c.checks.length, settled, "stopped: arms are ignored");
});

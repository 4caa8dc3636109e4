/**
 * `server/libc/turn_queues.ts`: queued work runs oldest first until the deadline (at least one
 * item), what is left runs first next time, work may queue work, writes all run, a throwing
 * handler is reported and the rest still run.
 */
import assert from "node:assert/strict";
import { TurnQueues, type TurnWork } from "../../../server/libc/turn_queues.ts";

function handler(name: string, log: string[], extra?: () => void): TurnWork {
  return {
    runWork() {
      log.push(`work ${name}`);
      extra?.();
    },
    runFlush() {
      log.push(`flush ${name}`);
    },
  };
}

Deno.test("TurnQueues: work oldest first, then every write; queues empty afterwards", () => {
  const log: string[] = [];
  const q = new TurnQueues((err) => {
    throw err;
  });
  const a = handler("a", log);
  const b = handler("b", log);
  q.queueWork(a);
  q.queueWork(b);
  q.queueFlush(b);
  q.queueFlush(a);
  assert.equal(q.pendingWork, 2);
  assert.equal(q.runWork(Infinity), true);
  assert.equal(q.pendingWork, 0);
  q.runFlushes();
  assert.deepEqual(log, ["work a", "work b", "flush b", "flush a"]);
  log.length = 0;
  assert.equal(q.runWork(Infinity), false, "nothing queued: nothing ran");
  q.runFlushes();
  assert.deepEqual(log, [], "a write runs once");
});

Deno.test("TurnQueues: past the deadline one item runs; the rest run first next time", () => {
  const log: string[] = [];
  const q = new TurnQueues(() => {});
  for (const n of ["a", "b", "c"]) q.queueWork(handler(n, log));
  assert.equal(q.runWork(0), true);
  assert.deepEqual(log, ["work a"]);
  assert.equal(q.pendingWork, 2);
  q.queueWork(handler("d", log));
  assert.equal(q.runWork(Infinity), true);
  assert.deepEqual(log, ["work a", "work b", "work c", "work d"]);
  assert.equal(q.pendingWork, 0);
});

Deno.test("TurnQueues: work queued by work runs in the same call", () => {
  const log: string[] = [];
  const q = new TurnQueues(() => {});
  q.queueWork(handler("a", log, () => q.queueWork(handler("b", log))));
  q.runWork(Infinity);
  assert.deepEqual(log, ["work a", "work b"]);
});

Deno.test("TurnQueues: a throwing handler is reported; the others still run", () => {
  const log: string[] = [];
  const errors: unknown[] = [];
  const q = new TurnQueues((err) => errors.push(err));
  const bad: TurnWork = {
    runWork() {
      throw new Error("work failed");
    },
    runFlush() {
      throw new Error("flush failed");
    },
  };
  q.queueWork(bad);
  q.queueWork(handler("a", log));
  q.queueFlush(bad);
  q.queueFlush(handler("a", log));
  q.runWork(Infinity);
  q.runFlushes();
  assert.deepEqual(log, ["work a", "flush a"]);
  assert.deepEqual(errors.map((e) => (e as Error).message), ["work failed", "flush failed"]);
});

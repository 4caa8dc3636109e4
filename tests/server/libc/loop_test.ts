/**
 * `server/libc/loop.ts` on its own, over eventfds: a turn stops dispatching once its slice is used
 * up, so timers run between slow handlers, and the events it did not dispatch yet are delivered
 * on a later turn (each exactly once, none lost); deferred callbacks are bounded the same way;
 * a turn runs its handlers, then the work they queued, then the writes they queued.
 */
import assert from "node:assert/strict";
import { EFD_CLOEXEC, EFD_NONBLOCK, EPOLLET, EPOLLIN, loadLibc } from "../../../server/libc/ffi.ts";
import { EventLoop } from "../../../server/libc/loop.ts";
import { createClock } from "../../../server/clock.ts";

const loaded = loadLibc();
const HAS_LIBC = loaded.ok;
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/** Spins for `ms` (a handler that holds the thread). */
function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

Deno.test({
  name: "libc loop: slow handlers are spread over turns; timers run between them; no event is lost",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const loop = new EventLoop(libc, { sliceMs: 2 });
    const fds: number[] = [];
    try {
      const seen = new Map<number, number>();
      const timeline: string[] = [];
      const all = Promise.withResolvers<void>();
      const drain = new Uint8Array(8);
      const COUNT = 24;
      for (let i = 0; i < COUNT; i++) {
        const fd = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert.ok(fd >= 0);
        fds.push(fd);
        loop.add(fd, {
          onEvents() {
            libc.sym.read(fd, drain, 8n);
            seen.set(fd, (seen.get(fd) ?? 0) + 1);
            timeline.push("event");
            burn(1);
            if (seen.size === COUNT) all.resolve();
          },
        }, EPOLLIN | EPOLLET);
      }
      const ticker = setInterval(() => timeline.push("timer"), 0);
      for (const fd of fds) libc.sym.write(fd, ONE, 8n);
      await all.promise;
      clearInterval(ticker);
      assert.equal(seen.size, COUNT);
      assert.ok([...seen.values()].every((n) => n === 1), "every event delivered exactly once");
      const first = timeline.indexOf("event");
      const last = timeline.lastIndexOf("event");
      const between = timeline.slice(first, last).filter((t) => t === "timer").length;
      assert.ok(between >= 3, `timers ran ${between} times during ${COUNT} ms of handlers`);
      assert.ok(loop.stats.deferredEvents > 0, "the slice ended mid-dispatch");
    } finally {
      await loop.stop();
      for (const fd of fds) libc.sym.close(fd);
    }
  },
});

Deno.test({
  name: "libc loop: deferred callbacks stop at the slice too, and all of them run in order",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const loop = new EventLoop(loaded.libc, { sliceMs: 2 });
    try {
      const ran: number[] = [];
      const timeline: string[] = [];
      const all = Promise.withResolvers<void>();
      const ticker = setInterval(() => timeline.push("timer"), 0);
      for (let i = 0; i < 20; i++) {
        loop.defer(() => {
          ran.push(i);
          timeline.push("callback");
          burn(1);
          if (ran.length === 20) all.resolve();
        });
      }
      await all.promise;
      clearInterval(ticker);
      assert.deepEqual(ran, [...Array(20).keys()]);
      const first = timeline.indexOf("callback");
      const last = timeline.lastIndexOf("callback");
      const between = timeline.slice(first, last).filter((t) => t === "timer").length;
      assert.ok(between >= 3, `timers ran ${between} times during 20 ms of callbacks`);
    } finally {
      await loop.stop();
    }
  },
});

Deno.test({
  name:
    "libc loop: while it never runs out of work, timers and Deno's own socket I/O still progress",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const loop = new EventLoop(libc, { sliceMs: 2 });
    const fd = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let busy = true;
    try {
      const drain = new Uint8Array(8);
      // Always readable again: the loop never finds itself idle, so it never parks.
      loop.add(fd, {
        onEvents() {
          libc.sym.read(fd, drain, 8n);
          burn(0.2);
          if (busy) libc.sym.write(fd, ONE, 8n);
        },
      }, EPOLLIN | EPOLLET);
      libc.sym.write(fd, ONE, 8n);
      const t0 = performance.now();
      const timer = new Promise<number>((r) => setTimeout(() => r(performance.now() - t0), 5));
      const port = (listener.addr as Deno.NetAddr).port;
      const connected = Deno.connect({ hostname: "127.0.0.1", port }).then((c) => {
        c.close();
        return performance.now() - t0;
      });
      const accepted = listener.accept().then((c) => {
        c.close();
        return performance.now() - t0;
      });
      const [timerMs, connectMs, acceptMs] = await Promise.all([timer, connected, accepted]);
      assert.ok(loop.stats.yields > 0 && loop.stats.parks <= 1, "the loop stayed busy");
      assert.ok(timerMs < 60, `a 5 ms timer fired after ${timerMs.toFixed(1)} ms`);
      assert.ok(connectMs < 60, `Deno.connect took ${connectMs.toFixed(1)} ms`);
      assert.ok(acceptMs < 60, `Deno.Listener.accept took ${acceptMs.toFixed(1)} ms`);
    } finally {
      busy = false;
      listener.close();
      await loop.stop();
      libc.sym.close(fd);
    }
  },
});

Deno.test({
  name:
    "libc loop: first come, first served: events a used-up slice left over run before later ones",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const loop = new EventLoop(libc, { sliceMs: 2 });
    const fds: number[] = [];
    try {
      const order: string[] = [];
      const all = Promise.withResolvers<void>();
      const drain = new Uint8Array(8);
      const COUNT = 16;
      const make = (name: string, after?: () => void): number => {
        const fd = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert.ok(fd >= 0);
        fds.push(fd);
        loop.add(fd, {
          onEvents() {
            libc.sym.read(fd, drain, 8n);
            order.push(name);
            burn(1);
            after?.();
            if (order.length === 2 * COUNT) all.resolve();
          },
        }, EPOLLIN | EPOLLET);
        return fd;
      };
      const fresh: number[] = [];
      for (let i = 0; i < COUNT; i++) fresh.push(make(`fresh${i}`));
      // Each "old" handler makes a fresh fd ready: under load, new work keeps arriving while
      // the slice has left old work over.
      const old: number[] = [];
      for (let i = 0; i < COUNT; i++) {
        old.push(make(`old${i}`, () => libc.sym.write(fresh[i], ONE, 8n)));
      }
      for (const fd of old) libc.sym.write(fd, ONE, 8n);
      await all.promise;
      const lastOld = order.findLastIndex((n) => n.startsWith("old"));
      const firstFresh = order.findIndex((n) => n.startsWith("fresh"));
      assert.ok(loop.stats.deferredEvents > 0, "the slice ended mid-dispatch");
      assert.ok(
        lastOld < firstFresh,
        `every old event ran before any later one: ${order.join(" ")}`,
      );
    } finally {
      await loop.stop();
      for (const fd of fds) libc.sym.close(fd);
    }
  },
});

Deno.test({
  name:
    "libc loop: forget + close takes an fd out of the set; its number, reused, gets its own events",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const loop = new EventLoop(libc);
    const drain = new Uint8Array(8);
    let reused = -1;
    try {
      const old = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      let oldEvents = 0;
      loop.add(old, { onEvents: () => oldEvents++ }, EPOLLIN);
      const size = loop.size;
      // Readable (level-triggered) but forgotten and closed before the loop saw it.
      libc.sym.write(old, ONE, 8n);
      loop.forget(old);
      libc.sym.close(old);
      assert.equal(loop.size, size - 1);
      reused = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      assert.equal(reused, old, "the kernel hands out the lowest free number again");
      const got = Promise.withResolvers<void>();
      let newEvents = 0;
      loop.add(reused, {
        onEvents() {
          libc.sym.read(reused, drain, 8n);
          newEvents++;
          got.resolve();
        },
      }, EPOLLIN);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(newEvents, 0, "no event of the closed fd reached the new registration");
      libc.sym.write(reused, ONE, 8n);
      await got.promise;
      assert.equal(newEvents, 1);
      assert.equal(oldEvents, 0, "the forgotten handler never ran");
    } finally {
      await loop.stop();
      if (reused >= 0) libc.sym.close(reused);
    }
  },
});

Deno.test({
  name:
    "libc loop: useClock gives one turn's handlers one clock reading; after the turn it is fresh",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    let source = 1_000;
    const clock = createClock(() => ++source);
    const loop = new EventLoop(libc);
    loop.useClock(clock);
    const fds: number[] = [];
    try {
      const drain = new Uint8Array(8);
      const inTurn: number[] = [];
      const afterAwait: number[] = [];
      const all = Promise.withResolvers<void>();
      for (let i = 0; i < 3; i++) {
        const fd = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert.ok(fd >= 0);
        fds.push(fd);
        loop.add(fd, {
          onEvents() {
            libc.sym.read(fd, drain, 8n);
            inTurn.push(clock.recent(), clock.recent());
            Promise.resolve().then(() => {
              afterAwait.push(clock.recent());
              if (afterAwait.length === 3) all.resolve();
            });
          },
        }, EPOLLIN | EPOLLET);
      }
      // Made ready from inside a turn, so that the turn's own epoll_wait finds all three at
      // once: written from outside, a parked loop may wake for the first before the others.
      loop.defer(() => {
        for (const fd of fds) libc.sym.write(fd, ONE, 8n);
      });
      await all.promise;
      assert.equal(inTurn.length, 6);
      assert.equal(new Set(inTurn).size, 1, `one reading for the whole turn: ${inTurn}`);
      for (const t of afterAwait) assert.ok(t > inTurn[0], "continuations read the clock afresh");
      assert.equal(new Set(afterAwait).size, 3, "each fresh read is its own");
      // now() never returns a held reading.
      clock.hold();
      const held = clock.recent();
      assert.ok(clock.now() > held);
      clock.release();
    } finally {
      await loop.stop();
      for (const fd of fds) libc.sym.close(fd);
    }
  },
});

Deno.test({
  name: "libc loop: a turn runs every ready handler, then their queued work, then their writes",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const libc = loaded.libc;
    const loop = new EventLoop(libc);
    const fds: number[] = [];
    try {
      const drain = new Uint8Array(8);
      const log: string[] = [];
      const done = Promise.withResolvers<void>();
      const COUNT = 4;
      let flushed = 0;
      for (let i = 0; i < COUNT; i++) {
        const fd = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert.ok(fd >= 0);
        fds.push(fd);
        const h = {
          onEvents() {
            libc.sym.read(fd, drain, 8n);
            log.push(`event ${i} ${loop.inTurn}`);
            loop.queueWork(h);
          },
          runWork() {
            log.push(`work ${i} ${loop.inTurn}`);
            loop.queueFlush(h);
          },
          runFlush() {
            log.push(`flush ${i} ${loop.inTurn}`);
            if (++flushed === COUNT) done.resolve();
          },
        };
        loop.add(fd, h, EPOLLIN | EPOLLET);
      }
      // A trigger whose handler makes all four ready at once, so the next turn's poll finds them
      // together (writes from outside could be split over turns by a waking park).
      const trigger = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      fds.push(trigger);
      loop.add(trigger, {
        onEvents() {
          libc.sym.read(trigger, drain, 8n);
          for (const fd of fds.slice(0, COUNT)) libc.sym.write(fd, ONE, 8n);
        },
      }, EPOLLIN | EPOLLET);
      assert.equal(loop.inTurn, false, "outside a turn");
      libc.sym.write(trigger, ONE, 8n);
      await done.promise;
      const kinds = log.map((l) => l.split(" ")[0]);
      assert.deepEqual(
        kinds,
        [
          ...Array(COUNT).fill("event"),
          ...Array(COUNT).fill("work"),
          ...Array(COUNT).fill("flush"),
        ],
        log.join(", "),
      );
      assert.ok(log.filter((l) => !l.startsWith("flush")).every((l) => l.endsWith("true")));
      assert.ok(log.filter((l) => l.startsWith("flush")).every((l) => l.endsWith("false")));
      assert.equal(loop.stats.deferredWork, 0);
    } finally {
      await loop.stop();
      for (const fd of fds) libc.sym.close(fd);
    }
  },
});

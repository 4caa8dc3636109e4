/**
 * The engine clock (server/clock.ts): `date()` formats the last `now()` reading and never reads
 * the time source itself; it changes when a reading crosses into a new second.
 */
import assert from "node:assert/strict";
import { createClock } from "../../server/clock.ts";

Deno.test("clock: date() follows the last now() reading, not the time source", () => {
  let t = Date.UTC(2026, 0, 1, 0, 0, 0, 400);
  let reads = 0;
  const clock = createClock(() => {
    reads++;
    return t;
  });
  assert.equal(clock.date(), "Thu, 01 Jan 2026 00:00:00 GMT");
  const before = reads;
  t += 5_000;
  // The source moved on, but nobody called now(): the date is still the last reading's.
  assert.equal(clock.date(), "Thu, 01 Jan 2026 00:00:00 GMT");
  assert.equal(reads, before, "date() must not read the time source");
  assert.equal(clock.now(), t);
  assert.equal(clock.date(), "Thu, 01 Jan 2026 00:00:05 GMT");
  t += 599; // 00:00:05.999: same second, same string object
  clock.now();
  assert.equal(clock.date(), "Thu, 01 Jan 2026 00:00:05 GMT");
  t += 1;
  clock.now();
  assert.equal(clock.date(), "Thu, 01 Jan 2026 00:00:06 GMT");
});

Deno.test("clock: the default source is the system clock", () => {
  const clock = createClock();
  const a = Date.now();
  const n = clock.now();
  assert.ok(n >= a && n <= Date.now());
  assert.equal(clock.date(), new Date(Math.floor(n / 1000) * 1000).toUTCString());
});

Deno.test("clock: recent() returns the held reading between hold() and release(), else a fresh one", () => {
  let t = 1_000;
  let reads = 0;
  const clock = createClock(() => {
    reads++;
    return t;
  });
  t = 2_000;
  assert.equal(clock.recent(), 2_000, "not held: a fresh reading");
  clock.hold();
  const before = reads;
  t = 3_000;
  assert.equal(clock.recent(), 2_000, "held: the reading hold() took");
  assert.equal(clock.recent(), 2_000);
  assert.equal(reads, before, "recent() must not read the source while held");
  assert.equal(clock.now(), 3_000, "now() always reads the source");
  assert.equal(
    clock.date(),
    "Thu, 01 Jan 1970 00:00:03 GMT",
    "the date follows the latest reading",
  );
  clock.release();
  t = 4_000;
  assert.equal(clock.recent(), 4_000, "released: fresh again");
});

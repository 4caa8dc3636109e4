/**
 * `server/live_set.ts`: members know their slot, deletion moves the last member into the gap,
 * non-members are refused, iteration walks a copy. And the reason it exists: under a new
 * connection per request, a scavenge keeps finding only the connections in flight (a `Set` of
 * live connections, or a `Map` of registered fds, made V8 keep replaced hash tables, and through
 * them every connection since, alive from one young-generation GC to the next: several MB per
 * scavenge within seconds). Run once per socket backend (the suite's second pass sets
 * `LSBAWS_TEST_IO=deno`).
 */
import assert from "node:assert/strict";
import { LiveSet, type LiveSlot } from "../../server/live_set.ts";
import { HAS_WRK, runWrk, scavengeSurvivors } from "../_support/gc_trace.ts";
import { startLsbaws } from "../_support/proc.ts";

interface Item extends LiveSlot {
  name: string;
}
const item = (name: string): Item => ({ name, liveSlot: -1 });

Deno.test("LiveSet: add records the slot; delete moves the last member into the gap", () => {
  const s = new LiveSet<Item>();
  const [a, b, c] = [item("a"), item("b"), item("c")];
  s.add(a);
  s.add(b);
  s.add(c);
  assert.equal(s.size, 3);
  assert.deepEqual([a.liveSlot, b.liveSlot, c.liveSlot], [0, 1, 2]);
  assert.equal(s.delete(a), true);
  assert.equal(a.liveSlot, -1);
  assert.equal(c.liveSlot, 0, "the last member took the freed slot");
  assert.deepEqual([...s].map((x) => x.name), ["c", "b"]);
  assert.equal(s.delete(a), false, "not a member any more");
  assert.equal(s.delete(c), true);
  assert.equal(s.delete(b), true);
  assert.equal(s.size, 0);
});

Deno.test("LiveSet: a member of another set, or a stale slot, is not deleted", () => {
  const s = new LiveSet<Item>();
  const t = new LiveSet<Item>();
  const [a, b] = [item("a"), item("b")];
  s.add(a);
  t.add(b); // slot 0 in t
  assert.equal(s.delete(b), false, "b's slot 0 in s holds a");
  assert.equal(s.size, 1);
  b.liveSlot = 7;
  assert.equal(t.delete(b), false, "out of range");
});

Deno.test("LiveSet: iteration walks a copy (members may leave meanwhile)", () => {
  const s = new LiveSet<Item>();
  const items = ["a", "b", "c", "d"].map(item);
  for (const x of items) s.add(x);
  const seen: string[] = [];
  for (const x of s) {
    seen.push(x.name);
    s.delete(x);
  }
  assert.deepEqual(seen, ["a", "b", "c", "d"]);
  assert.equal(s.size, 0);
});

/** The 90th percentile of bytes surviving a scavenge that still passes (before: 4-6 MB). */
const MAX_P90_SURVIVED = 1024 * 1024;
const IO = Deno.env.get("LSBAWS_TEST_IO") ?? "auto";

if (!HAS_WRK) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "live_set_test: GC test skipped, wrk is not installed " +
        "(it needs a client that opens connections as fast as the server takes them)\n",
    ),
  );
}

Deno.test({
  name: `a new connection per request: scavenges keep finding little alive (--io ${IO})`,
  ignore: !HAS_WRK,
  fn: async () => {
    const p = await startLsbaws(
      ["--host", "127.0.0.1", "--port", "0", "apps/hello.ts:app"],
      { env: { DENO_V8_FLAGS: "--trace-gc-nvp" } },
    );
    let wrkOut = "";
    try {
      wrkOut = await runWrk([
        "-t1",
        "-c16",
        "-d8s",
        "-H",
        "Connection: close",
        `http://127.0.0.1:${p.port()}/`,
      ]);
    } finally {
      await p.stop();
    }
    const survived = scavengeSurvivors(p.out);
    assert.ok(survived.length >= 20, `only ${survived.length} scavenges traced:\n${wrkOut}`);
    const p90 = survived[Math.floor(survived.length * 0.9)];
    const median = survived[Math.floor(survived.length / 2)];
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `  ${survived.length} scavenges, bytes survived: median ${median}, p90 ${p90} ` +
          `(16 connections, one request each, 8 s)\n`,
      ),
    );
    assert.ok(
      p90 <= MAX_P90_SURVIVED,
      `scavenges find ${p90} bytes alive (p90): closed connections are kept alive`,
    );
  },
});

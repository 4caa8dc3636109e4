/**
 * `server/libc/heap_trim.ts`: the trimming decision over fake allocator figures, and the real
 * glibc calls releasing memory that `free()` alone leaves resident (RssAnon from
 * /proc/self/status before and after).
 */
import assert from "node:assert/strict";
import { loadLibc } from "../../../server/libc/ffi.ts";
import { createHeapTrimmer, glibcHeapOps, startHeapTrim } from "../../../server/libc/heap_trim.ts";

const loaded = loadLibc();
const HAS_LIBC = loaded.ok;
const MiB = 1024 * 1024;

/** Says on stderr why a test did not run its check. */
function skipped(why: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`heap_trim_test: skipped: ${why}\n`));
}

Deno.test("heap trim: trims when 4 MiB more are free than at the last low point, not on every check", () => {
  let free = 0;
  let trimmed = 0;
  const t = createHeapTrimmer({ freeBytes: () => free, trim: () => trimmed++ }, 4 * MiB);
  free = 3 * MiB;
  assert.equal(t.check(), false, "below the threshold");
  free = 13 * MiB; // a burst freed memory
  assert.equal(t.check(), true);
  assert.equal(trimmed, 1);
  // A trim leaves the free figure as it was: no second trim for the same memory.
  assert.equal(t.check(), false);
  assert.equal(t.check(), false);
  free = 15 * MiB; // 2 MiB more: not enough
  assert.equal(t.check(), false);
  free = 6 * MiB; // memory reused: a new low point
  assert.equal(t.check(), false);
  free = 10 * MiB; // 4 MiB above the low point: trim again
  assert.equal(t.check(), true);
  assert.equal(trimmed, 2);
  assert.equal(t.trims, 2);
});

function rssAnonKiB(): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  assert.ok(m, "RssAnon in /proc/self/status");
  return Number(m[1]);
}

Deno.test({
  name: "heap trim: glibc's calls give back memory that free() left resident",
  ignore: !HAS_LIBC,
  fn() {
    if (!loaded.ok) return;
    const ops = glibcHeapOps(loaded.libc);
    if (ops === null) {
      skipped("this C library has no mallinfo2/malloc_trim (not glibc)");
      return;
    }
    const c = Deno.dlopen("libc.so.6", {
      malloc: { parameters: ["usize"], result: "pointer" },
      free: { parameters: ["pointer"], result: "void" },
      memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
    });
    try {
      // 48 MiB in 16 KiB blocks (below the mmap threshold, so inside the arena), each touched.
      const blocks: Deno.PointerValue[] = [];
      for (let i = 0; i < 3072; i++) {
        const p = c.symbols.malloc(16384n);
        assert.ok(p !== null);
        c.symbols.memset(p, 1, 16384n);
        blocks.push(p);
      }
      // Keep the block allocated last: it borders the arena's top chunk, so everything freed lies
      // behind it, where free() neither trims nor unmaps. (Not the highest address: a test module
      // runs on a thread arena, whose heaps are separate mappings; when the blocks span two, the
      // newer heap may lie lower, and once wholly free, free() unmaps it.)
      const top = blocks.length - 1;
      const keep = blocks[top];
      const freeBefore = ops.freeBytes();
      for (let i = 0; i < blocks.length; i++) if (i !== top) c.symbols.free(blocks[i]);
      const afterFree = rssAnonKiB();
      assert.ok(
        ops.freeBytes() - freeBefore >= 40 * MiB,
        "the allocator counts the blocks as free",
      );
      const trimmer = createHeapTrimmer(ops, 4 * MiB);
      assert.equal(trimmer.check(), true, "48 MiB newly free: a trim is due");
      const afterTrim = rssAnonKiB();
      assert.ok(
        afterFree - afterTrim >= 32 * 1024,
        `RssAnon ${afterFree} KiB after free(), ${afterTrim} KiB after the trim`,
      );
      c.symbols.free(keep);
    } finally {
      c.close();
    }
  },
});

Deno.test({
  name: "heap trim: startHeapTrim runs on an unref'd timer and stops",
  ignore: !HAS_LIBC,
  async fn() {
    if (!loaded.ok) return;
    const stop = startHeapTrim(loaded.libc, { intervalMs: 5 });
    if (stop === null) {
      skipped("this C library has no mallinfo2/malloc_trim (not glibc)");
      return;
    }
    await new Promise((r) => setTimeout(r, 30));
    stop();
  },
});

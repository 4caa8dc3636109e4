/**
 * Gives the C heap's free memory back to the operating system after a burst of allocations.
 *
 * Why: glibc gives each thread that allocates its own arena, and returns an arena's free memory
 * to the system on its own only from the arena's top. V8 compiles hot functions on a helper
 * thread; after the warm-up's burst of compilations that thread's arena held 12-16 MiB free but
 * resident (`malloc_stats`: 13.0 MB in the arena, 0.2 MB in use) under a keep-alive load, about
 * a seventh of the server's peak RSS. `malloc_trim(0)` releases free pages anywhere in every
 * arena (`madvise(MADV_DONTNEED)`).
 *
 * Contract:
 * - `createHeapTrimmer(ops, thresholdBytes)` returns a `check()` that reads the allocator's free
 *   bytes (`ops.freeBytes()`, glibc's `mallinfo2().fordblks` over all arenas) and trims
 *   (`ops.trim()`) when they exceed the lowest figure seen since the last trim (0 at the start)
 *   by at least `thresholdBytes`. A trim does not change the free figure (the pages stay free to
 *   the allocator, only no longer resident), so comparing with that baseline rather than with the
 *   threshold alone keeps a large steady free list from being trimmed on every check: only
 *   memory freed since the last trim triggers another.
 * - `startHeapTrim(libc, options)` runs `check()` every `intervalMs` on an unref'd timer (it never
 *   keeps the process alive) and returns a stop function; null when the C library lacks
 *   `mallinfo2` or `malloc_trim` (not glibc), in which case nothing runs.
 * - Cost: a check is one `mallinfo2` call (~13 µs here); a trim took up to ~1 ms and happens only
 *   after bursts (after start-up's compilations, then when a burst leaves memory free).
 */
import type { Libc } from "./ffi.ts";
import { MALLINFO2_FREE } from "./ffi.ts";

/** What the trimmer reads and does (glibc's calls, or fakes in tests). */
export interface HeapTrimOps {
  /** Bytes the allocator holds free (resident or not). */
  freeBytes(): number;
  /** Releases free memory to the operating system. */
  trim(): void;
}

/** Defaults: check every second; trim once 4 MiB more are free than at the last low point. */
export const HEAP_TRIM_INTERVAL_MS = 1000;
/** See `HEAP_TRIM_INTERVAL_MS`. */
export const HEAP_TRIM_THRESHOLD_BYTES = 4 * 1024 * 1024;

/** The trimming decision; see the module comment. */
export interface HeapTrimmer {
  /** Reads the free bytes and trims when due; true if it trimmed. */
  check(): boolean;
  /** Trims made so far. */
  readonly trims: number;
}

/** Creates the decision logic over `ops` (see the module comment). */
export function createHeapTrimmer(ops: HeapTrimOps, thresholdBytes: number): HeapTrimmer {
  let low = 0;
  let trims = 0;
  return {
    check(): boolean {
      const free = ops.freeBytes();
      if (free < low) low = free;
      if (free - low < thresholdBytes) return false;
      ops.trim();
      trims++;
      low = free;
      return true;
    },
    get trims(): number {
      return trims;
    },
  };
}

/** Options of `startHeapTrim`. */
export interface HeapTrimOptions {
  /** Time between checks (ms). */
  readonly intervalMs?: number;
  /** Newly free bytes that trigger a trim. */
  readonly thresholdBytes?: number;
}

/** glibc's calls as `HeapTrimOps`, or null when the C library lacks them. */
export function glibcHeapOps(libc: Libc): HeapTrimOps | null {
  const info = libc.sym.mallinfo2;
  const trim = libc.sym.malloc_trim;
  if (info === null || trim === null) return null;
  return {
    freeBytes(): number {
      const r = info();
      return Number(new DataView(r.buffer, r.byteOffset, r.byteLength).getBigUint64(
        MALLINFO2_FREE * 8,
        true,
      ));
    },
    trim(): void {
      trim(0n);
    },
  };
}

/** Starts the periodic check (see the module comment); returns its stop function, or null. */
export function startHeapTrim(libc: Libc, options: HeapTrimOptions = {}): (() => void) | null {
  const ops = glibcHeapOps(libc);
  if (ops === null) return null;
  const trimmer = createHeapTrimmer(ops, options.thresholdBytes ?? HEAP_TRIM_THRESHOLD_BYTES);
  const timer = setInterval(() => trimmer.check(), options.intervalMs ?? HEAP_TRIM_INTERVAL_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

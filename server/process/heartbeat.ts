/**
 * Worker liveness: tells the supervisor whether this process's event loop is still turning, and
 * which request it started last, even while the loop is blocked.
 *
 * Contract:
 * - A blocked event loop cannot report anything, so the reporting runs on a separate thread: a
 *   Web Worker started from an inline (blob) module, so it also works inside a compiled binary.
 *   Main thread and reporter share one `SharedArrayBuffer`:
 *   - the main thread bumps `TICK` from a timer every `periodMs / 2` (unref'd);
 *   - `onRequestStart(head)` copies `METHOD target` (at most `REQ_BYTES` bytes) into the buffer
 *     and bumps `SEQ`. This is the only per-request cost: a few typed-array stores, no syscall,
 *     no allocation.
 * - Every `periodMs` the reporter writes one control line (`server/process/control.ts`) to stderr: `beat`
 *   if `TICK` moved, else `stall` with how long it has been stuck and the last request started.
 *   The supervisor kills a worker whose last `beat` is older than `--timeout` and logs the request.
 * - `stop()` terminates the reporter and the timer.
 */
import { CONTROL_PREFIX } from "./control.ts";
import type { RequestHead } from "../http/request_head.ts";

/** Longest request description kept for the liveness report. */
export const REQ_BYTES = 240;

const TICK = 0;
const SEQ = 1;
const LEN = 2;
const HEADER_BYTES = 16;

/** The worker side of the liveness check. */
export interface Heartbeat {
  /** Records the request about to be handled (hot path). */
  onRequestStart(head: RequestHead): void;
  /** Stops the reporter thread and the tick timer. */
  stop(): void;
}

/**
 * The reporter thread's code. It runs in its own isolate, so it must be self-contained: it is
 * turned into source text with `Function.prototype.toString` (Deno has already stripped the types).
 */
function reporterThread(): void {
  const scope = self as unknown as { onmessage: ((e: MessageEvent) => void) | null };
  scope.onmessage = (e: MessageEvent) => {
    const { sab, periodMs, prefix } = e.data as {
      sab: SharedArrayBuffer;
      periodMs: number;
      prefix: string;
    };
    const i32 = new Int32Array(sab, 0, 4);
    const bytes = new Uint8Array(sab, 16);
    const enc = new TextEncoder();
    let lastTick = Atomics.load(i32, 0);
    let stuckSince = 0;
    const send = (msg: unknown) => {
      try {
        Deno.stderr.writeSync(enc.encode(prefix + JSON.stringify(msg) + "\n"));
      } catch {
        // The supervisor is gone; the main thread notices through stdin.
      }
    };
    const lastRequest = () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const seq = Atomics.load(i32, 1);
        const n = Atomics.load(i32, 2);
        let s = "";
        for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[i]);
        if (Atomics.load(i32, 1) === seq) return s;
      }
      return "?";
    };
    setInterval(() => {
      const tick = Atomics.load(i32, 0);
      if (tick !== lastTick) {
        lastTick = tick;
        stuckSince = 0;
        send({ t: "beat" });
      } else {
        const now = Date.now();
        if (stuckSince === 0) stuckSince = now - periodMs;
        send({ t: "stall", ms: now - stuckSince, req: lastRequest() });
      }
    }, periodMs);
  };
}

/** Starts the reporter thread and the tick timer; see the module comment. */
export function startHeartbeat(opts: { periodMs: number }): Heartbeat {
  const sab = new SharedArrayBuffer(HEADER_BYTES + REQ_BYTES);
  const i32 = new Int32Array(sab, 0, 4);
  const bytes = new Uint8Array(sab, HEADER_BYTES);
  const source = `(${reporterThread.toString()})();`;
  const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  const thread = new Worker(url, { type: "module" });
  thread.postMessage({ sab, periodMs: opts.periodMs, prefix: CONTROL_PREFIX });
  const timer = setInterval(() => Atomics.add(i32, TICK, 1), Math.max(50, opts.periodMs / 2));
  Deno.unrefTimer(timer);
  return {
    onRequestStart(head: RequestHead): void {
      const m = head.method;
      const t = head.target;
      let n = 0;
      for (let i = 0; i < m.length && n < REQ_BYTES; i++) bytes[n++] = m.charCodeAt(i);
      if (n < REQ_BYTES) bytes[n++] = 32;
      for (let i = 0; i < t.length && n < REQ_BYTES; i++) bytes[n++] = t.charCodeAt(i);
      Atomics.store(i32, LEN, n);
      Atomics.add(i32, SEQ, 1);
    },
    stop(): void {
      clearInterval(timer);
      thread.terminate();
      URL.revokeObjectURL(url);
    },
  };
}

/**
 * How the libc event loop, which polls its sockets with synchronous calls while busy, gives the
 * rest of the program its turn: timers, `fetch()`, signals, Deno's own sockets and file reads.
 *
 * Contract:
 * - `BusyYield.yield()` resolves after the event loop has turned at least once. No one primitive
 *   is enough in Deno: `setImmediate` lets the event loop turn, but while it always has something
 *   ready the runtime polls its own I/O (sockets, signals, `fetch()`) only every few dozen
 *   turns; it polls that I/O for sure only when the thread has nothing to run. Waiting for a
 *   0 ms timer gives it that, but leaves the thread idle for the timer's 1-2 ms granularity
 *   (about a fifth of the time at one such wait every 10 ms); a threaded call that returns at
 *   once does not reliably give it either (measured under load). So each yield is a
 *   `setImmediate`; at least every `THREADED_YIELD_MS` it is preceded by a threaded
 *   `usleep(IDLE_YIELD_US)`, which leaves the thread idle for a known ~0.2 ms, long enough for
 *   the runtime to poll its I/O and timers; and a 1 ms interval timer runs while the loop is
 *   busy, never waited for, so that a timer is always due and due timers run.
 * - One interval serves the whole busy spell (a 0 ms timeout armed again after every yield made
 *   a timer object and a timer-map entry ~500 times a second, and the armed one was alive at
 *   every young-generation GC); it is unref'd (it never keeps a stopping process alive) and
 *   `idle()` clears it: the loop calls that when it parks or stops.
 */
import { setImmediate } from "node:timers";
import type { Libc } from "./ffi.ts";

/**
 * Longest time between two yields that include a threaded sleep. Each costs the thread ~0.2 ms
 * idle, and requests that arrive meanwhile wait: at 10 ms the keep-alive p99 was ~10 % higher
 * and req/s ~3 % lower than at 25 ms, while a `fetch()` awaited under full load answered in 2-8
 * ms with 10, 25, 50 ms or none (the runtime polls its I/O more often than this bound; the bound
 * is the backstop).
 */
const THREADED_YIELD_MS = 25;
/** How long the thread sits idle in such a yield (µs). */
const IDLE_YIELD_US = 100;

/** The busy spell's interval timer callback: its only job is to be due. */
function tick(): void {}

function immediate(resolve: () => void): void {
  setImmediate(resolve);
}

/** Yields of one busy loop; see the module comment. */
export class BusyYield {
  readonly #libc: Libc;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #threadedAt = 0;

  /** Yields through `libc`'s threaded `usleep`. */
  constructor(libc: Libc) {
    this.#libc = libc;
  }

  /** Lets the event loop turn (see the module comment). */
  async yield(): Promise<void> {
    if (this.#ticker === undefined) {
      this.#ticker = setInterval(tick, 1);
      Deno.unrefTimer(this.#ticker);
    }
    const now = Date.now();
    if (now - this.#threadedAt >= THREADED_YIELD_MS) {
      this.#threadedAt = now;
      await this.#libc.sym.usleep_nb(IDLE_YIELD_US);
    }
    await new Promise<void>(immediate);
  }

  /** The busy spell ended (the loop parks or stops): clears its interval timer. */
  idle(): void {
    if (this.#ticker === undefined) return;
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }
}

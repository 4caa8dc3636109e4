/**
 * The engine's clock: wall time for deadlines and the access log, and the `Date` header value.
 *
 * Contract:
 * - `now()` reads the system clock (`Date.now()`, ms) and remembers the reading.
 * - `date()` is the IMF-fixdate (RFC 9110 §5.6.7) of the *last* `now()` reading, formatted once
 *   per second. It never reads the system clock itself: on this kind of machine a `Date.now()`
 *   costs ~60 ns, which a pipelined hello-world request would pay once more per response.
 *   The reading is at most one timeout sweep old (`timeoutCheckIntervalMs`, 250 ms by default:
 *   the server's sweeper calls `now()`), and every connection calls `now()` when it arms a
 *   deadline, i.e. once per batch of requests served. RFC 9110 asks only for the best available
 *   approximation of the time the message was generated; nginx caches its time per event-loop
 *   turn in the same way.
 * - `recent()` is for deadlines, which tolerate a reading a few ms old: while a driver holds the
 *   clock (`hold()` ... `release()`, around one synchronous stretch of work such as a libc event
 *   loop turn, which dispatches events for many connections) it returns the latest reading (the
 *   one `hold()` took, or a later `now()`'s); otherwise it reads the system clock like `now()`. A keep-alive request arms two
 *   deadlines (bytes arrived, response flushed), so holding saves two clock reads per request
 *   (~40 ns each here). `now()` always reads the system clock (the access log's durations).
 */
import { httpDate } from "./http/http_date.ts";

/** The clock an engine shares between its connections. */
export interface Clock {
  /** Current time in ms (reads the system clock). */
  now(): number;
  /** IMF-fixdate of the last reading (see the module comment). */
  date(): string;
  /** The held reading while held, else a fresh one (for deadlines; see the module comment). */
  recent(): number;
  /** Reads the clock once; `recent()` returns the latest reading until `release()`. */
  hold(): void;
  /** Ends `hold()`. */
  release(): void;
}

/** Creates a clock; `read` is the time source (injectable for tests). */
export function createClock(read: () => number = Date.now): Clock {
  let last = read();
  let sec = Math.floor(last / 1000);
  let date = httpDate(sec * 1000);
  let held = false;
  return {
    now(): number {
      last = read();
      return last;
    },
    recent(): number {
      if (held) return last;
      last = read();
      return last;
    },
    hold(): void {
      last = read();
      held = true;
    },
    release(): void {
      held = false;
    },
    date(): string {
      const s = Math.floor(last / 1000);
      if (s !== sec) {
        sec = s;
        date = httpDate(s * 1000);
      }
      return date;
    },
  };
}

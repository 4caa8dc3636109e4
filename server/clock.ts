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
 */
import { httpDate } from "./http/response_head.ts";

/** The clock an engine shares between its connections. */
export interface Clock {
  /** Current time in ms (reads the system clock). */
  now(): number;
  /** IMF-fixdate of the last `now()` reading (see the module comment). */
  date(): string;
}

/** Creates a clock; `read` is the time source (injectable for tests). */
export function createClock(read: () => number = Date.now): Clock {
  let last = read();
  let sec = Math.floor(last / 1000);
  let date = httpDate(sec * 1000);
  return {
    now(): number {
      last = read();
      return last;
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

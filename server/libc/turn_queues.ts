/**
 * The two phases of an event-loop turn after its events are handed out (`server/libc/loop.ts`):
 * the work handlers queued while their events ran, then the writes they queued.
 *
 * Contract:
 * - `queueWork(h)` and `queueFlush(h)` append `h`; callers queue a handler at most once per
 *   phase (the loop documents when they may call).
 * - `runWork(deadline)` calls `runWork()` of the queued handlers, oldest first, until `deadline`
 *   (`Date.now()`, checked between items; at least one runs): what is left stays first in line
 *   for the next call (`pendingWork`). Work may queue more work behind itself.
 * - `runFlushes()` calls every queued `runFlush()`, oldest first, and empties the queue.
 * - A handler that throws is reported to `onError` and the rest still run.
 * - Both queues are arrays reused from turn to turn (never emptied with `length = 0`, which drops
 *   V8's backing store) whose consumed slots are set to null, so they hold no handler alive.
 */

/** A handler's share of a turn after its event (see `EventLoop.queueWork` and `queueFlush`). */
export interface TurnWork {
  /** Runs the work queued with `queueWork`, after the turn's events were handed out. */
  runWork(): void;
  /** Sends what was queued with `queueFlush`, at the end of the turn. */
  runFlush(): void;
}

/** The work and write queues of one loop; see the module comment. */
export class TurnQueues {
  readonly #work: (TurnWork | null)[] = [];
  #workEnd = 0;
  readonly #flushes: (TurnWork | null)[] = [];
  #flushEnd = 0;
  readonly #onError: (err: unknown) => void;

  /** Queues that report a throwing handler to `onError`. */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  /** Work items queued and not yet run. */
  get pendingWork(): number {
    return this.#workEnd;
  }

  /** Queues `h.runWork()`. */
  queueWork(h: TurnWork): void {
    this.#work[this.#workEnd++] = h;
  }

  /** Queues `h.runFlush()`. */
  queueFlush(h: TurnWork): void {
    this.#flushes[this.#flushEnd++] = h;
  }

  /** Runs queued work until `deadline` (see the module comment); true if any ran. */
  runWork(deadline: number): boolean {
    const w = this.#work;
    let i = 0;
    while (i < this.#workEnd) {
      if (i > 0 && Date.now() >= deadline) break;
      const h = w[i]!;
      w[i++] = null;
      try {
        h.runWork();
      } catch (err) {
        this.#onError(err);
      }
    }
    const end = this.#workEnd;
    if (i < end) {
      w.copyWithin(0, i, end);
      w.fill(null, end - i, end);
    }
    this.#workEnd = end - i;
    return i > 0;
  }

  /** Runs every queued write. */
  runFlushes(): void {
    const f = this.#flushes;
    for (let j = 0; j < this.#flushEnd; j++) {
      const h = f[j]!;
      f[j] = null;
      try {
        h.runFlush();
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#flushEnd = 0;
  }
}

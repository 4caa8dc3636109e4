/**
 * The supervisor loop's sleep: a timer that an event (a signal, a worker message, an exit) can
 * cut short.
 *
 * Contract: `sleep(ms)` resolves after `ms`, or as soon as `wake()` is called. A `wake()` that
 * comes while nobody sleeps is remembered, so the next `sleep` resolves at once (no event is
 * lost between two turns of the loop). One sleeper at a time.
 */

/** A wakeable sleep; see the module comment. */
export class Wakeup {
  #wake: (() => void) | null = null;
  #pending = false;

  /** Ends the current sleep, or the next one if nobody sleeps now. */
  wake(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Sleeps up to `ms`, less if woken. */
  sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        this.#pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

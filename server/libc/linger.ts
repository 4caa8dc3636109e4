/**
 * The libc driver's lingering close (RFC 9112 §9.6): after a final response, when request bytes
 * may still come or sit unread, the sending side is shut down first and what the client still
 * sends is read and discarded before the socket closes, so the kernel does not answer unread
 * request bytes with a reset that destroys the response in flight.
 *
 * Contract:
 * - `Linger.start()` shuts down the sending side (`shutdown(SHUT_WR)`; false when that fails and
 *   the caller should close at once), discards what is readable, and arms a `LINGER_MS` timer.
 * - `read()` (on every readiness event meanwhile) discards what is readable. At EOF, an error,
 *   more than `LINGER_BYTES` in all, or when the timer fires, `close` (the connection's) runs.
 * - `cancel()` stops the timer; the connection calls it when it closes.
 */
import type { Libc } from "./ffi.ts";
import * as ffiModule from "./ffi.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { ERRNO, SHUT_WR } = ffiModule;

/** Longest lingering close (ms). */
export const LINGER_MS = 1000;
/** Most bytes discarded during a lingering close. */
export const LINGER_BYTES = 256 * 1024;
const scratch = new Uint8Array(16 * 1024);
const SCRATCH_LEN = BigInt(scratch.length);

/** One connection's lingering close; see the module comment. */
export class Linger {
  readonly #libc: Libc;
  readonly #fd: number;
  readonly #close: () => void;
  #discarded = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Lingers on `fd`; `close` closes the connection. */
  constructor(libc: Libc, fd: number, close: () => void) {
    this.#libc = libc;
    this.#fd = fd;
    this.#close = close;
  }

  /** Half-closes and starts discarding; false if `shutdown` failed (close at once). */
  start(): boolean {
    if (this.#libc.sym.shutdown(this.#fd, SHUT_WR) < 0) return false;
    if (this.read()) this.#timer = setTimeout(this.#close, LINGER_MS);
    return true;
  }

  /** Discards input; true while the socket stays open (would block), else it was closed. */
  read(): boolean {
    const libc = this.#libc;
    for (;;) {
      const n = libc.sym.recv(this.#fd, scratch, SCRATCH_LEN, 0);
      if (n > 0) {
        this.#discarded += n;
        if (this.#discarded <= LINGER_BYTES) continue;
      } else if (n < 0) {
        const errno = libc.errno();
        if (errno === ERRNO.EINTR) continue;
        if (errno === ERRNO.EAGAIN) return true;
      }
      this.#close(); // EOF, an error, or too much input
      return false;
    }
  }

  /** Stops the timer (the connection closed). */
  cancel(): void {
    clearTimeout(this.#timer);
  }
}

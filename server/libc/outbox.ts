/**
 * The libc connection's write side: the connection core's queued output, then a file body, sent
 * with synchronous calls, and the wait for `EPOLLOUT` when the socket is full.
 *
 * Contract:
 * - `flush()` sends what is queued (`PieceSender`: `send(MSG_NOSIGNAL)`), then the file body
 *   given to `sendFile` (`FileSend`: `sendfile`); it resolves at once when the socket took it
 *   all, else once `onWritable()` (the connection's `EPOLLOUT`) let the rest out. While a write
 *   waits (`waiting`), `flush()` returns the same promise.
 * - A failed send calls `close` (the connection's) and rejects the waiter with the mapped error
 *   (every promise `flush()` rejects is marked handled, so a flush nobody waits for cannot end
 *   the process with an unhandled rejection);
 *   the connection's close calls `fail(err)`, which drops what is queued, closes the file and
 *   rejects a waiter still there with `err`.
 * - `sendFile(file)` queues a file body behind the output and resolves with the bytes sent once
 *   it went out; a failed write closes the file.
 */
import { ignore } from "../conn_loop.ts";
import type { FileSend } from "./file_body.ts";
import type { Libc } from "./ffi.ts";
import { type OutputSource, PieceSender } from "./socket.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A promise rejected with `err` that is already marked handled: a caller that flushes without
 * waiting (the end of a batch) must not turn a client that went away into an unhandled rejection,
 * which would end the process; the connection is closed already.
 */
function rejected(err: unknown): Promise<void> {
  const p = Promise.reject(err);
  p.catch(ignore);
  return p;
}

/** One connection's write side; see the module comment. */
export class Outbox {
  readonly #src: OutputSource;
  readonly #close: () => void;
  readonly #sender: PieceSender;
  /** The file body being sent after the queued output, if any. */
  #file: FileSend | null = null;
  #wait: PromiseWithResolvers<void> | null = null;
  #failed = false;

  /** Sends `src`'s output to socket `fd`; `close` closes the connection after a failed send. */
  constructor(libc: Libc, fd: number, src: OutputSource, close: () => void) {
    this.#src = src;
    this.#close = close;
    this.#sender = new PieceSender(libc, fd);
  }

  /** True while a write waits for the socket (`EPOLLOUT`). */
  get waiting(): boolean {
    return this.#wait !== null;
  }

  /** True while a file body is queued or being sent. */
  get sendingFile(): boolean {
    return this.#file !== null;
  }

  /** Sends everything queued; see the module comment (after `fail`: rejects if any is left). */
  flush(): Promise<void> {
    if (this.#wait !== null) return this.#wait.promise;
    if (this.#src.out.size === 0 && this.#file === null) return RESOLVED;
    if (this.#failed) return rejected(new Deno.errors.BadResource("connection closed"));
    let done: boolean;
    try {
      done = this.#send();
    } catch (err) {
      this.#close();
      return rejected(err);
    }
    if (done) return RESOLVED;
    const w = Promise.withResolvers<void>();
    w.promise.catch(ignore); // Waiters handle the error; the connection is closed already.
    this.#wait = w;
    return w.promise;
  }

  /** The connection closes right after what is queued now (see `PieceSender.closing`). */
  closing(): void {
    this.#sender.closing();
  }

  /** The socket became writable: resumes a waiting write. */
  onWritable(): void {
    const w = this.#wait;
    if (w === null) return;
    let done: boolean;
    try {
      done = this.#send();
    } catch (err) {
      this.#wait = null;
      this.#close();
      w.reject(err);
      return;
    }
    if (!done) return;
    this.#wait = null;
    w.resolve();
  }

  /** Queues `file` behind the output and flushes; resolves with the bytes of it sent. */
  sendFile(file: FileSend): Promise<number> {
    this.#file = file;
    return this.flush().then(() => file.sent, (err) => {
      file.close();
      throw err;
    });
  }

  /** The connection closed: drops the queue, closes the file, rejects a waiter with `err()`. */
  fail(err: () => unknown): void {
    this.#failed = true;
    this.#sender.clear();
    this.#file?.close();
    this.#file = null;
    const w = this.#wait;
    if (w === null) return;
    this.#wait = null;
    w.reject(err());
  }

  /** Sends the queued output, then the file body (if any): true once all of it went out. */
  #send(): boolean {
    for (;;) {
      if (!this.#sender.send(this.#src)) return false;
      const f = this.#file;
      if (f === null || !f.step()) return f === null;
      this.#file = null;
      f.close();
      if (this.#src.out.size === 0) return true;
    }
  }
}

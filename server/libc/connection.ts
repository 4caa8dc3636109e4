/**
 * The `libc` socket driver's connection: serves an accepted nonblocking fd through the libc event
 * loop, with the same connection core, per-request dispatch and shared driver logic
 * (`server/conn_loop.ts`) as the `deno` driver. Binding and accepting live in `listen.ts`.
 *
 * Contract:
 * - `LibcConnection` is registered edge-triggered (`CONN_EVENTS`); it remembers readiness in a
 *   flag and reads with synchronous `recv` into the core's buffer, serving every complete request
 *   buffered before the next read (pipelining). Its first read waits for the first readiness event
 *   (registering reports data already there at the next poll): reading right after `accept`
 *   mostly found nothing yet, a wasted `recv` per connection (`READS.wouldBlock` counts reads
 *   that found nothing). A connection reads at most `READ_ROUNDS` times per
 *   event, then comes back on the loop's next turn (`EventLoop.defer`), so one pipelining client
 *   cannot hold the loop.
 * - Within a loop turn (`EventLoop.inTurn`), a connection waiting for a request makes its read
 *   when its event comes and serves what it read in the turn's work phase (`queueWork`); the
 *   responses synchronous handlers produced there are sent at the end of the turn (`queueFlush`),
 *   unless the queued output already reached the high-water mark, and a connection that closes
 *   after them closes then. No request is read while its predecessor's response waits for that
 *   send (as while a write waits for `EPOLLOUT`). Outside a turn (an async handler's
 *   continuation) it reads, serves and sends at once.
 * - Writes (`server/libc/outbox.ts`): `flush()` sends the core's output with synchronous
 *   `send(MSG_NOSIGNAL)`; on `EAGAIN` the rest waits for `EPOLLOUT` and `flush()` resolves once
 *   everything is written. While a write is pending no further request is read (back-pressure),
 *   and `afterWrite()` makes writers wait past the high-water mark (shared logic). A failed write
 *   closes the connection and rejects every waiter.
 * - File bodies (`sendFile`): the fd `file_body.ts` finds for the file is sent with nonblocking
 *   `sendfile` right after the queued output, as part of the same write: a full socket waits for
 *   `EPOLLOUT` like any write (no request is read meanwhile), a failed one (`EPIPE`,
 *   `ECONNRESET`) closes the connection and rejects. The fd is closed when the file is done and
 *   when the connection closes. No fd for the file: `sendFile` returns null (the caller reads it).
 * - Peer gone: while an async handler runs with the body read, `watchPeer()` keeps watching the
 *   socket; EOF or an error (`EPOLLRDHUP`, `recv` returning 0) aborts the request's signal. Bytes
 *   that arrive meanwhile are the next pipelined request and stay buffered.
 * - Closing after a final response (an error, `Connection: close`): when request bytes may still
 *   come or sit unread (a body not read to its end, bytes buffered, the socket readable), the
 *   driver lingers (`server/libc/linger.ts`: shut down the sending side, discard what the client
 *   still sends, then close; RFC 9112 §9.6); otherwise it closes at once, as nginx's lingering
 *   close does. The last response before such a close is sent with `MSG_MORE`, so its final
 *   segment carries the FIN (8 TCP segments per connection instead of 10). `close()` itself
 *   closes at once.
 * - Timeouts: the server's sweeper calls `checkTimeout` (shared logic); body reads have their own
 *   timer (`bodyTimeoutMs`).
 * - Metrics: bytes read are reported to `server/metrics.ts` (the same call any driver makes).
 * - `takeover` flushes the 101 head and hands the fd to a `LibcSocket` (re-registered with the
 *   loop); the driver never touches the fd again.
 */
import { DriverConnection, ignore, serveBuffered } from "../conn_loop.ts";
import * as connLoopModule from "../conn_loop.ts";
import type { ServeVerdict } from "../conn_loop.ts";
import type { EngineContext } from "../engine.ts";
import type { ConnAddr, FileBody, SocketDuplex } from "../exchange.ts";
import { ProtocolError } from "../http/errors.ts";
import { countReceived } from "../metrics.ts";
import { type Libc, LibcError, toIoError } from "./ffi.ts";
import * as ffiModule from "./ffi.ts";
import { fileFdOf, FileSend } from "./file_body.ts";
import { Linger } from "./linger.ts";
import type { EventLoop, FdHandler } from "./loop.ts";
import { Outbox } from "./outbox.ts";
import { LibcSocket, socketAddr, toConnAddr } from "./socket.ts";
import * as socketModule from "./socket.ts";
import type { TurnWork } from "./turn_queues.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { SERVE_CLOSE, SERVE_READ } = connLoopModule;
const { EPOLLHUP, EPOLLRDHUP, ERRNO, MAX_IO_BYTES } = ffiModule;
const { CONN_EVENTS, READ_BITS, WRITE_BITS } = socketModule;

/** Diagnostics: reads that found the socket empty (`EAGAIN`), over every libc connection. */
export const READS = { wouldBlock: 0 };

/** Reads per connection per event before it yields its turn. */
export const READ_ROUNDS = 16;
const readRounds = READ_ROUNDS; // module-private copy for #pump (see `server/http/bytes.ts`)

/** The error pending writes and body reads reject with once the connection closed. */
function closedError(): Error {
  return new Deno.errors.BadResource("connection closed");
}

const MODE_REQUEST = 0; // reading the next request
const MODE_BUSY = 1; // a handler or a write is in progress: do not read requests

interface FillWaiter {
  resolve(more: boolean): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Serves one accepted fd until it closes; see the module comment. */
export class LibcConnection extends DriverConnection implements FdHandler, TurnWork {
  readonly #loop: EventLoop;
  readonly #libc: Libc;
  readonly #fd: number;
  #local: ConnAddr | null;
  /** Edge-triggered readiness: true until a read finds the socket drained. */
  #readable = false;
  /** The peer closed its side (`EPOLLRDHUP`/`EPOLLHUP` seen): never assume drained. */
  #hup = false;
  #mode = MODE_BUSY;
  #watching = false;
  #deferred = false;
  /** Queued for the loop's work phase (`runWork` not yet run). */
  #workQueued = false;
  /** What the batch whose send waits for the end of the turn decided (`#afterServe`). */
  #flushVerdict: ServeVerdict = SERVE_READ;
  #pumpLater: (() => void) | undefined;
  #fill: FillWaiter | null = null;
  /** The write side (`server/libc/outbox.ts`). */
  readonly #out: Outbox;
  #fatalSeen = false;
  /** The lingering close under way (`server/libc/linger.ts`), if any. */
  #linger: Linger | null = null;
  readonly #done = Promise.withResolvers<void>();

  /** Wraps an accepted, nonblocking `fd`; `local` may be null (looked up on first use). */
  constructor(
    loop: EventLoop,
    fd: number,
    remote: Deno.Addr,
    local: Deno.Addr | null,
    ctx: EngineContext,
  ) {
    super(ctx);
    this.#loop = loop;
    this.#libc = loop.libc;
    this.#fd = fd;
    this.#out = new Outbox(loop.libc, fd, this.core, () => this.close());
    this.remote = toConnAddr(remote);
    this.#local = local === null ? null : toConnAddr(local);
  }

  /** Local address (`getsockname` on first use for wildcard listeners). */
  get local(): ConnAddr {
    if (this.#local === null) {
      try {
        this.#local = toConnAddr(socketAddr(this.#libc, this.#fd, false));
      } catch {
        this.#local = { transport: "tcp", hostname: "", port: 0 };
      }
    }
    return this.#local;
  }

  /** Starts serving; resolves once the connection closed (or was taken over). Never rejects. */
  run(): Promise<void> {
    try {
      this.#loop.add(this.#fd, this, CONN_EVENTS);
    } catch (err) {
      this.#fatal(err);
      return this.#done.promise;
    }
    this.setIdle();
    this.#mode = MODE_REQUEST;
    this.#pump();
    return this.#done.promise;
  }

  /** `FdHandler`: readiness changed. */
  onEvents(events: number): void {
    if (this.closed) return;
    if (this.#linger !== null) {
      this.#linger.read();
      return;
    }
    if ((events & WRITE_BITS) !== 0) this.#out.onWritable();
    if ((events & READ_BITS) !== 0 && !this.closed) {
      this.#readable = true;
      if ((events & (EPOLLRDHUP | EPOLLHUP)) !== 0) this.#hup = true;
      this.#onReadable();
    }
  }

  #onReadable(): void {
    if (this.#fill !== null) this.#fillRead();
    else if (this.#watching) this.#watchRead();
    else if (this.#mode === MODE_REQUEST) {
      if (this.#loop.inTurn) this.#readForWork();
      else this.#pump();
    }
  }

  /**
   * Reads now and serves in the loop's work phase (see the module comment). A pump already
   * queued (work, or a deferred pump) reads for itself.
   */
  #readForWork(): void {
    if (this.#workQueued || this.#deferred) return;
    let n: number;
    try {
      n = this.#recv();
    } catch (err) {
      this.#fatal(err);
      return;
    }
    if (n === -1) return;
    if (n > 0) this.noteRead();
    this.#workQueued = true;
    this.#loop.queueWork(this);
  }

  /** `TurnWork`: serves what `#readForWork` read (EOF included: `#pump` reads it again). */
  runWork(): void {
    this.#workQueued = false;
    if (this.#mode === MODE_REQUEST && !this.closed) this.#pump();
  }

  /** `TurnWork`: the end-of-turn send `#afterServe` queued; then reading resumes. */
  runFlush(): void {
    if (!this.closed && this.#finishBatch(this.#flushVerdict)) this.#pump();
  }

  /** Reads once: bytes read (> 0), 0 at EOF, -1 would block. Throws the mapped error. */
  #recv(): number {
    const core = this.core;
    if (core.eof) return 0;
    const view = core.writable();
    if (view.length === 0) throw new ProtocolError("HEADERS_TOO_LARGE");
    const libc = this.#libc;
    for (;;) {
      const n = libc.sym.recv(this.#fd, view, BigInt(Math.min(view.length, MAX_IO_BYTES)), 0);
      if (n > 0) {
        countReceived(n);
        core.receive(n);
        // A short read drained the socket; more data raises a new edge (unless the peer is gone,
        // which raises no further edge: keep reading until EOF).
        if (n < view.length && !this.#hup) this.#readable = false;
        return n;
      }
      if (n === 0) {
        core.receiveEof();
        return 0;
      }
      const errno = libc.errno();
      if (errno === ERRNO.EINTR) continue;
      core.receiveNothing();
      if (errno === ERRNO.EAGAIN) {
        READS.wouldBlock++;
        this.#readable = false;
        return -1;
      }
      throw toIoError(new LibcError("recv", errno));
    }
  }

  /**
   * Serves what is buffered (bytes a watch read took while a handler ran may hold whole
   * requests), then reads and serves while the socket is readable (at most `READ_ROUNDS` reads).
   */
  #pump(): void {
    try {
      let serve = this.core.hasBuffered;
      for (let rounds = 0; this.#mode === MODE_REQUEST && !this.closed; rounds++) {
        if (serve) {
          const served = serveBuffered(this);
          if (typeof served !== "number") {
            this.#mode = MODE_BUSY;
            served.then((v) => {
              this.#watching = false;
              if (this.#afterServe(v)) this.#pump();
            }, (err) => this.#fatal(err));
            return;
          }
          if (!this.#afterServe(served)) return;
        }
        if (!this.#readable) return;
        if (rounds === readRounds) {
          this.#deferPump();
          return;
        }
        const n = this.#recv();
        if (n === -1) return;
        if (n === 0) {
          this.close(); // EOF: a partial request gets no response.
          return;
        }
        this.noteRead();
        serve = true;
      }
    } catch (err) {
      this.#fatal(err);
    }
  }

  #deferPump(): void {
    if (this.#deferred) return;
    this.#deferred = true;
    // One callback per connection, made on first use: a closure per deferral would stay alive
    // until the next turn (young-generation survivors; see `EventLoop.#queue`).
    this.#loop.defer(
      this.#pumpLater ??= () => {
        this.#deferred = false;
        this.#pump();
      },
    );
  }

  /**
   * After a batch: close when asked, else flush and arm the deadline. True when the caller should
   * read on now; false when closing or when a pending write resumes reading later.
   */
  #afterServe(v: ServeVerdict): boolean {
    if (this.closed) return false;
    if (this.#loop.inTurn && !this.#out.waiting && this.core.out.size < this.highWater) {
      this.#mode = MODE_BUSY; // nothing is read until the send (see the module comment)
      this.#flushVerdict = v;
      this.#loop.queueFlush(this);
      return false;
    }
    return this.#finishBatch(v);
  }

  /**
   * Sends the batch's output, then closes or resumes reading as `v` says; true when the caller
   * should read on now.
   */
  #finishBatch(v: ServeVerdict): boolean {
    if (v === SERVE_READ) return this.#flushThenRead();
    this.#closeAfterFlush(v);
    return false;
  }

  /** Sends the queued output, then closes (lingering if need be); see `#afterServe`. */
  #closeAfterFlush(v: ServeVerdict): void {
    this.#mode = MODE_BUSY;
    this.#out.closing();
    const sent = this.flush();
    if (this.#out.waiting) {
      if (v === SERVE_CLOSE) sent.then(() => this.#lingerClose(), (err) => this.#fatal(err));
      else sent.catch(ignore).finally(() => this.#lingerClose());
    } else if (this.closed) sent.catch(v === SERVE_CLOSE ? (err) => this.#fatal(err) : ignore);
    else this.#lingerClose();
  }

  /** Sends the queued output; true when the caller should read on now (see `#afterServe`). */
  #flushThenRead(): boolean {
    const sent = this.flush();
    if (this.#out.waiting) {
      this.#mode = MODE_BUSY;
      sent.then(() => {
        if (this.#resumeReading()) this.#pump();
      }, (err) => this.#fatal(err));
      return false;
    }
    if (this.closed) {
      sent.catch((err) => this.#fatal(err));
      return false;
    }
    return this.#resumeReading();
  }

  #resumeReading(): boolean {
    if (this.closed) return false;
    if (!this.afterBatch()) {
      this.#lingerClose();
      return false;
    }
    this.#mode = MODE_REQUEST;
    if (this.core.eof) {
      this.close();
      return false;
    }
    return true;
  }

  /** Keeps watching the socket while an async handler runs; see the module comment. */
  watchPeer(): void {
    if (this.#watching || this.core.eof || this.closed) return;
    this.#watching = true;
    if (this.#readable) this.#watchRead();
  }

  #watchRead(): void {
    let n: number;
    try {
      n = this.#recv();
    } catch {
      this.#watching = false;
      this.abortRequest();
      return;
    }
    if (n === -1) return;
    this.#watching = false;
    if (n === 0) this.abortRequest();
  }

  /** `BodySource`: reads more body bytes, flushing queued output first, with the body timeout. */
  async fill(): Promise<boolean> {
    await this.flush();
    if (this.closed) throw new Deno.errors.ConnectionReset("connection closed");
    const n = this.#recv();
    if (n !== -1) return n > 0;
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fill = null;
        reject(new ProtocolError("REQUEST_TIMEOUT", "body read"));
      }, this.ctx.config.bodyTimeoutMs);
      this.#fill = { resolve, reject, timer };
    });
  }

  #fillRead(): void {
    const f = this.#fill!;
    let n: number;
    try {
      n = this.#recv();
    } catch (err) {
      this.#fill = null;
      clearTimeout(f.timer);
      f.reject(err);
      return;
    }
    if (n === -1) return;
    this.#fill = null;
    clearTimeout(f.timer);
    f.resolve(n > 0);
  }

  /** Writes everything queued; see `Outbox.flush`. */
  flush(): Promise<void> {
    return this.#out.flush();
  }

  /** `ConnPort.sendFile`: the file goes out with `sendfile` after the queued output. */
  sendFile(body: FileBody, count: number): Promise<number> | null {
    if (this.closed || this.#out.sendingFile) return null;
    const fd = fileFdOf(this.#libc, body);
    if (fd < 0) return null;
    return this.#out.sendFile(new FileSend(this.#libc, this.#fd, fd, body.offset, count));
  }

  /** Hands the socket to a protocol-switching handler; see `Exchange.takeover`. */
  async takeover(head: Uint8Array): Promise<{ conn: SocketDuplex; buffered: Uint8Array }> {
    if (this.hijacked || this.closed) throw new Deno.errors.BadResource("connection is gone");
    const core = this.core;
    core.out.pushBytes(head);
    await this.flush();
    if (this.closed) throw new Deno.errors.BadResource("connection is gone");
    this.hijacked = true;
    this.closed = true;
    core.closed();
    this.#out.fail(closedError); // nothing is left to send; later flushes reject
    const buffered = core.rb.view().slice();
    core.rb.consume(buffered.length);
    this.#loop.remove(this.#fd);
    const socket = new LibcSocket(this.#loop, this.#fd);
    this.#done.resolve();
    return { conn: socket, buffered };
  }

  /** Half-closes, discards late input, then closes; see the module comment. */
  #lingerClose(): void {
    if (this.closed || this.#linger !== null) return;
    const core = this.core;
    // Nothing unread and nothing more announced: close at once, as nginx does (lingering
    // costs a shutdown, a read and a timer per connection for nothing).
    const quiet = !core.hasBuffered && core.bodyDone && !this.#readable;
    if (quiet || core.eof) {
      this.close();
      return;
    }
    this.#mode = MODE_BUSY;
    this.#linger = new Linger(this.#libc, this.#fd, () => this.close());
    if (!this.#linger.start()) this.close();
  }

  /** Closes the socket (idempotent); pending writes and body reads reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.core.closed();
    this.#done.resolve();
    this.#linger?.cancel();
    if (this.hijacked) return;
    this.abortCtl?.abort();
    this.#loop.forget(this.#fd); // the fd is this socket's only descriptor (SOCK_CLOEXEC)
    this.#libc.sym.close(this.#fd);
    this.core.rb.release();
    this.#out.fail(closedError);
    const f = this.#fill;
    if (f !== null) {
      this.#fill = null;
      clearTimeout(f.timer);
      f.reject(closedError());
    }
  }

  /** Logs the error that ends the connection (once) and closes it. */
  #fatal(err: unknown): void {
    if (!this.#fatalSeen) {
      this.#fatalSeen = true;
      this.onFatal(toIoError(err));
    }
    this.close();
  }
}

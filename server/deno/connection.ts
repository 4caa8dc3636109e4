/**
 * The `deno` socket driver's connection: the only code that reads from or writes to an accepted
 * `Deno.Conn` (binding and accepting live in `listen.ts` beside it). Everything it knows about
 * HTTP comes from the connection core.
 *
 * Contract:
 * - `DenoConnection.run()` reads into the core's buffer, serves *every* complete request already
 *   buffered before the next read (pipelining), and writes queued bytes in order with one write
 *   loop per connection (partial writes resumed). While a batch is written the next read is
 *   already pending; it waits for the write only when bytes are queued behind it, so a client
 *   that does not read cannot make the server queue without bound (back-pressure: past
 *   `writeHighWaterBytes` queued, a writer must wait for the socket).
 * - Timers: `deadline` is checked by the server's sweeper (`checkTimeout`): an idle keep-alive
 *   connection closes silently, an incomplete request head gets `408`. Body reads have their own
 *   timer (`bodyTimeoutMs`).
 * - Peer gone: while an async handler runs with the body fully read, a read stays pending; EOF
 *   or a reset aborts the request's signal (as `Deno.serve` does). Read and write errors close
 *   the connection; peer I/O errors are logged at debug level only.
 * - Metrics: bytes read and rejected requests are reported to `server/metrics.ts` (one call
 *   each, the same calls any driver makes).
 * - `takeover` hands the socket to a protocol switch (WebSockets): after that the driver never
 *   touches the socket again.
 */
import { ProtocolError } from "../http/errors.ts";
import {
  DriverConnection,
  ignore,
  SERVE_CLOSE,
  SERVE_CLOSE_QUIET,
  serveBuffered,
} from "../conn_loop.ts";
import type { EngineContext } from "../engine.ts";
import type { ConnAddr } from "../exchange.ts";
import { countReceived } from "../metrics.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** Serves one accepted `Deno.Conn` until it closes; see the module comment. */
export class DenoConnection extends DriverConnection {
  readonly local: ConnAddr;
  readonly #conn: Deno.Conn;
  #pendingRead: Promise<number | null> | null = null;
  /** The running write loop, if any. */
  #writing: Promise<void> | null = null;

  /** Wraps an accepted `Deno.Conn`. */
  constructor(conn: Deno.Conn, ctx: EngineContext) {
    super(ctx);
    this.#conn = conn;
    this.remote = toAddr(conn.remoteAddr);
    this.local = toAddr(conn.localAddr);
  }

  /** Runs the read-parse-respond loop; never rejects. */
  async run(): Promise<void> {
    try {
      await this.#loop();
    } catch (err) {
      this.onFatal(err);
    } finally {
      this.close();
    }
  }

  /** Closes the socket (idempotent). Pending reads and writes fail and the loop ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.core.closed();
    if (this.hijacked) return;
    this.abortCtl?.abort();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or the runtime.
    }
    // The receive buffer's storage goes back to the pool now, or once a pending read settles.
    if (this.#pendingRead === null) this.core.rb.release();
  }

  async #loop(): Promise<void> {
    const core = this.core;
    if ("setNoDelay" in this.#conn) (this.#conn as Deno.TcpConn).setNoDelay(true);
    this.setIdle();
    while (!this.closed) {
      // Serve every complete request already in the buffer (pipelining).
      const served = serveBuffered(this);
      const verdict = typeof served === "number" ? served : await served;
      if (verdict === SERVE_CLOSE_QUIET) {
        await this.flush().catch(ignore);
        return;
      }
      if (verdict === SERVE_CLOSE) {
        await this.flush();
        return;
      }
      // Start reading the next request while this batch is being written (one event-loop turn
      // less per keep-alive request). Wait for the write only when bytes are queued behind a
      // write still in flight.
      const sent = this.flush();
      if (core.out.size > 0) await sent;
      if (this.closed) return;
      if (!this.afterBatch()) return;
      const n = await this.#read();
      if (n === null) return; // EOF: a partial request gets no response.
      this.noteRead();
    }
  }

  /** Reads once into the core's buffer; null at EOF. Shares one pending read. */
  #read(): Promise<number | null> {
    if (this.#pendingRead) return this.#pendingRead;
    const core = this.core;
    if (core.eof) return Promise.resolve(null);
    const view = core.writable();
    if (view.length === 0) return Promise.reject(new ProtocolError("HEADERS_TOO_LARGE"));
    const p = this.#conn.read(view).then(this.#onRead, this.#onReadError);
    this.#pendingRead = p;
    return p;
  }

  // Made once per connection: a read allocates no closures.
  readonly #onRead = (n: number | null): number | null => {
    const core = this.core;
    this.#pendingRead = null;
    countReceived(n ?? 0);
    if (n !== null) core.receive(n);
    else core.receiveEof();
    if (this.closed) core.rb.release();
    return n;
  };

  readonly #onReadError = (err: unknown): never => {
    const core = this.core;
    this.#pendingRead = null;
    core.receiveNothing();
    if (this.closed) core.rb.release();
    throw err;
  };

  /**
   * While an async handler runs with the body fully read, keep a read pending so a client that
   * disconnects is noticed: EOF or a reset aborts the request's signal. The response is still
   * attempted (a half-closed client gets it); bytes that arrive are the next pipelined request
   * and stay buffered.
   */
  watchPeer(): void {
    if (this.#pendingRead !== null || this.core.eof || this.closed) return;
    this.#read().then((n) => {
      if (n === null) this.abortRequest();
    }, () => this.abortRequest());
  }

  /** `BodySource`: reads more body bytes, flushing queued output first, with the body timeout. */
  async fill(): Promise<boolean> {
    await this.flush();
    if (this.closed) throw new Deno.errors.ConnectionReset("connection closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProtocolError("REQUEST_TIMEOUT", "body read")),
        this.ctx.config.bodyTimeoutMs,
      );
    });
    const read = this.#read();
    read.catch(ignore);
    try {
      return (await Promise.race([read, timeout])) !== null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Writes everything queued. One write loop at a time keeps writes in order: while it runs, a
   * flush just returns it (the loop also sends what was queued meanwhile before it settles). A
   * failed write closes the connection and rejects every waiter.
   */
  flush(): Promise<void> {
    if (this.#writing !== null) return this.#writing;
    if (this.core.out.size === 0) return RESOLVED;
    const p = this.#writeQueued();
    this.#writing = p;
    p.catch(ignore); // Waiters handle the error; the connection is closed already.
    return p;
  }

  async #writeQueued(): Promise<void> {
    const core = this.core;
    try {
      do {
        const pieces = core.takeOutput();
        for (let i = 0; i < pieces.length; i++) {
          const bytes = pieces[i];
          let off = await this.#conn.write(bytes);
          while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
        }
      } while (core.out.size > 0);
      core.out.release();
    } catch (err) {
      this.close();
      throw err;
    } finally {
      this.#writing = null;
    }
  }

  /** Hands the socket to a protocol-switching handler; see `Exchange.takeover`. */
  async takeover(head: Uint8Array): Promise<{ conn: Deno.Conn; buffered: Uint8Array }> {
    if (this.hijacked || this.closed) throw new Deno.errors.BadResource("connection is gone");
    const core = this.core;
    core.out.pushBytes(head);
    await this.flush();
    this.hijacked = true;
    this.closed = true;
    core.closed();
    const buffered = core.rb.view().slice();
    core.rb.consume(buffered.length);
    return { conn: this.#conn, buffered };
  }
}

function toAddr(a: Deno.Addr): ConnAddr {
  if (a.transport === "tcp" || a.transport === "udp") {
    return { transport: "tcp", hostname: a.hostname, port: a.port };
  }
  if (a.transport === "unix" || a.transport === "unixpacket") {
    return { transport: "unix", hostname: a.path, port: 0 };
  }
  return { transport: "tcp", hostname: "", port: 0 };
}

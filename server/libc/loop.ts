/**
 * The libc backend's event loop: one epoll instance, one handler per file descriptor, polled with
 * synchronous FFI calls while there is work and parked in a threaded `epoll_wait` only when idle.
 *
 * Contract:
 * - `add(fd, handler, events)` registers `fd` (the caller picks level- or edge-triggered bits);
 *   `remove(fd)` unregisters it (before the caller closes it; `forget(fd)` when the caller closes
 *   the fd's only descriptor at once, see there). Each registration carries a token
 *   in `epoll_event.data` next to the fd, so an event that was already collected for a closed fd
 *   is never delivered to a later socket that reuses the number. Handlers must still treat every
 *   event as a hint: the syscall they make (`recv`, `accept4`, `send`) decides.
 * - A turn: first the callbacks queued with `defer` in earlier turns (a handler that stopped at
 *   its budget comes back here, and so do events a used-up slice left over), oldest first; then
 *   a synchronous `epoll_wait` with timeout 0 and every ready fd's handler; then the work those
 *   handlers queued with `queueWork`; last the writes queued with `queueFlush`. So a connection
 *   can read when its event comes, serve in the work phase and send at the end of the turn: the
 *   turn's reads run back to back, then its requests, then its sends, as `Deno.serve`'s runtime
 *   batches them (under keep-alive load ~5 % less CPU per request than read, serve and send per
 *   connection in turn; `bench/RESULTS.md`). `inTurn` is true while callbacks, handlers and work
 *   run (only then may `queueWork`/`queueFlush` be called), false while the writes run. Between
 *   turns the loop awaits a resolved promise, so promise continuations run.
 * - Fairness: the loop never holds the thread much longer than `sliceMs` (or `sliceTurns` turns):
 *   then it yields to the event loop (`server/libc/yield.ts`), so timers, `fetch()`, signals,
 *   Deno's own sockets, file reads and other async work of the program keep running under load.
 *   The slice is checked between events and work items too: once it is used up, what was not
 *   yet run waits for the turn after the yield (never dropped: an edge-triggered fd reports an
 *   edge once; queued writes always go out at the end of their turn). Work is served first
 *   come, first served: what waited runs before what arrived later, so under load no connection
 *   waits more than about one pass over the others (before, fresh events went first every turn
 *   and a deferred connection could wait for dozens of turns: 60 ms p99 with pipelining). At
 *   least one callback or event runs per turn, so work progresses. Time is read with
 *   `Date.now()` (~37 ns here; `performance.now()` is a runtime op at ~75 ns): whole
 *   milliseconds, so a 2 ms slice lasts 1-3 ms, and a wall-clock step at worst ends one slice
 *   early or leaves it to `sliceTurns` and `maxEvents`.
 * - Idle: when a turn found nothing and nothing is deferred, the loop parks in the
 *   `nonblocking: true` `epoll_wait` (a helper thread) for at most `parkTimeoutMs`. `defer()` and
 *   `stop()` wake a parked loop through an eventfd.
 * - Buffer ownership (the threaded call runs concurrently with JS): only synchronous calls touch
 *   JS-owned buffers. The threaded wait (the park) writes into `#parkEvents`, a buffer used for
 *   nothing else and never read until its promise settled; the synchronous poll has its own
 *   `#syncEvents`, and no synchronous `epoll_wait` runs while a threaded one is in flight.
 *   Receive and send buffers are only ever passed to synchronous calls.
 * - `stop()` ends the loop (waking it if parked), then closes the epoll fd and the eventfd;
 *   registered fds belong to their owners and are left alone.
 * - A handler that throws is reported to `onError` and the loop goes on.
 * - `useClock(clock)`: the loop holds `clock` (`hold()` ... `release()`) around each turn's
 *   synchronous work, so the connections it dispatches share one clock reading for their
 *   deadlines instead of reading the system clock twice per request (see `server/clock.ts`).
 *   Work that continues after an `await` runs outside the turn and reads the clock afresh.
 */
import { type Libc, LibcError } from "./ffi.ts";
import * as ffiModule from "./ffi.ts";
import { TurnQueues, type TurnWork } from "./turn_queues.ts";
import { BusyYield } from "./yield.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLLIN,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_BYTES,
} = ffiModule;

/** Receives the epoll event bits for its fd. */
export interface FdHandler {
  /** Called with `epoll_event.events` for the handler's fd. */
  onEvents(events: number): void;
}

/** Tuning knobs (defaults suit a server). */
export interface LoopOptions {
  /** Longest continuous run before yielding to the event loop (ms). Default 2. */
  readonly sliceMs?: number;
  /** Most turns before yielding to the event loop. Default 64. */
  readonly sliceTurns?: number;
  /**
   * Longest park in the threaded `epoll_wait` (ms; `defer` and `stop` end it early). Default 30000:
   * each wake-up of an idle process costs CPU, and nothing needs a periodic one.
   */
  readonly parkTimeoutMs?: number;
  /** Events collected per `epoll_wait`. Default 256. */
  readonly maxEvents?: number;
  /** Where a throwing handler's error goes. */
  readonly onError?: (err: unknown) => void;
}

interface Entry {
  readonly handler: FdHandler;
  readonly token: number;
}

/** An element of the deferred queue (see `EventLoop.#queue`). */
type Deferred = number | (() => void);

/**
 * Tokens wrap below 2^30 so that they, like fds and the event bits epoll reports, are V8 small
 * integers: stored in the deferred queue without a heap number each.
 */
const TOKEN_MAX = 0x3fffffff;

const RESOLVED: Promise<void> = Promise.resolve();
/** What the loop holds around each turn (see `useClock`); `server/clock.ts`'s `Clock` is one. */
export interface TurnClock {
  /** Takes the turn's reading. */
  hold(): void;
  /** Ends the turn's reading. */
  release(): void;
}

const NO_CLOCK: TurnClock = { hold() {}, release() {} };

/** Counters for tests and diagnostics. */
export interface LoopStats {
  /** Synchronous polls made. */
  polls: number;
  /** Threaded waits made. */
  parks: number;
  /** Yields to the event loop after a full slice. */
  yields: number;
  /** Events handed to the next turn because the slice was used up while dispatching. */
  deferredEvents: number;
  /** Queued work items handed to the next turn because the slice was used up. */
  deferredWork: number;
}

/** One epoll instance and its dispatch loop; see the module comment. */
export class EventLoop {
  /** The bindings. */
  readonly libc: Libc;
  /** Counters (see `LoopStats`). */
  readonly stats: LoopStats = {
    polls: 0,
    parks: 0,
    yields: 0,
    deferredEvents: 0,
    deferredWork: 0,
  };
  readonly #ep: number;
  readonly #efd: number;
  /**
   * Registrations by fd number (fds are small, dense integers). Not a `Map`: a connection per
   * request adds and deletes an entry each, and V8's replaced hash tables keep their successors
   * alive (see `server/live_set.ts`).
   */
  readonly #entries: (Entry | undefined)[] = [];
  #count = 0;
  #nextToken = 1;
  readonly #max: number;
  readonly #syncEvents: Uint8Array;
  readonly #syncView: DataView;
  readonly #parkEvents: Uint8Array;
  readonly #parkView: DataView;
  readonly #ctl = new Uint8Array(EPOLL_EVENT_BYTES);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  readonly #wakeBytes = new Uint8Array(8);
  readonly #drainBytes = new Uint8Array(8);
  readonly #sliceMs: number;
  readonly #sliceTurns: number;
  readonly #parkTimeoutMs: number;
  readonly #onError: (err: unknown) => void;
  /**
   * The deferred work, oldest first, in `#queue[0..#qEnd)`: a callback (`defer`) is one
   * element, an event a used-up slice left over is three small integers (fd, token, events). The
   * array is reused, never emptied with `length = 0` (which drops V8's backing store, so every
   * turn would grow a new one) and never given a closure per event: under load most events wait
   * a turn, and whatever deferring allocated was still alive at the next young-generation GC, one
   * piece per busy connection, which V8 answers by growing the young generation (see
   * `bench/RESULTS.md`). Consumed callback slots are overwritten with 0, so the queue holds no
   * connection alive.
   */
  readonly #queue: Deferred[] = [];
  #qEnd = 0;
  /** The work and writes queued for the end of the turn (`queueWork`, `queueFlush`). */
  readonly #turn: TurnQueues;
  #inTurn = false;
  #parked = false;
  #woken = false;
  #stopping = false;
  /** Yields while busy (`server/libc/yield.ts`); told when the loop parks or stops. */
  readonly #yielder: BusyYield;
  #clock: TurnClock = NO_CLOCK;
  readonly #done: Promise<void>;

  /** Creates the epoll instance and starts the loop. Throws `LibcError`. */
  constructor(libc: Libc, opts: LoopOptions = {}) {
    this.libc = libc;
    this.#max = opts.maxEvents ?? 256;
    this.#sliceMs = opts.sliceMs ?? 2;
    this.#sliceTurns = opts.sliceTurns ?? 64;
    this.#parkTimeoutMs = opts.parkTimeoutMs ?? 30_000;
    this.#onError = opts.onError ?? (() => {});
    this.#yielder = new BusyYield(libc);
    this.#turn = new TurnQueues(this.#onError);
    this.#syncEvents = new Uint8Array(this.#max * EPOLL_EVENT_BYTES);
    this.#syncView = new DataView(this.#syncEvents.buffer);
    this.#parkEvents = new Uint8Array(this.#max * EPOLL_EVENT_BYTES);
    this.#parkView = new DataView(this.#parkEvents.buffer);
    new DataView(this.#wakeBytes.buffer).setBigUint64(0, 1n, true);
    const sym = libc.sym;
    const ep = sym.epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) throw new LibcError("epoll_create1", libc.errno());
    const efd = sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
      const errno = libc.errno();
      sym.close(ep);
      throw new LibcError("eventfd", errno);
    }
    this.#ep = ep;
    this.#efd = efd;
    this.#ctlOp(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
    this.#done = this.#run();
  }

  #ctlOp(op: number, fd: number, events: number, token: number): void {
    const v = this.#ctlView;
    v.setUint32(0, events >>> 0, true);
    v.setUint32(EPOLL_DATA_OFFSET, fd, true);
    v.setUint32(EPOLL_DATA_OFFSET + 4, token, true);
    if (this.libc.sym.epoll_ctl(this.#ep, op, fd, this.#ctl) < 0) {
      throw new LibcError("epoll_ctl", this.libc.errno(), `fd ${fd}`);
    }
  }

  /** Registers `fd` with `events` (epoll bits, `EPOLLET` for edge-triggered). Throws `LibcError`. */
  add(fd: number, handler: FdHandler, events: number): void {
    const token = this.#nextToken;
    this.#nextToken = token === TOKEN_MAX ? 1 : token + 1;
    this.#ctlOp(EPOLL_CTL_ADD, fd, events, token);
    const entries = this.#entries;
    while (entries.length <= fd) entries.push(undefined); // stays a fast array, never sparse
    if (entries[fd] === undefined) this.#count++;
    entries[fd] = { handler, token };
  }

  /** Changes the events `fd` is watched for (0: none for now). Throws `LibcError`. */
  modify(fd: number, events: number): void {
    const e = this.#entries[fd];
    if (e === undefined) return;
    this.#ctlOp(EPOLL_CTL_MOD, fd, events, e.token);
  }

  /** Unregisters `fd` (call before closing it); unknown fds are ignored. */
  remove(fd: number): void {
    if (!this.#drop(fd)) return;
    // Closing the fd would remove it too; an explicit DEL also covers duplicated descriptors.
    this.#ctl.fill(0);
    this.libc.sym.epoll_ctl(this.#ep, EPOLL_CTL_DEL, fd, this.#ctl);
  }

  /**
   * Forgets `fd` without `EPOLL_CTL_DEL`, for a caller about to close the only descriptor of its
   * socket (accepted with `SOCK_CLOEXEC`, never duplicated): closing it takes it out of the epoll
   * set, which saves a syscall per connection. Should the socket outlive the close for a moment
   * (a child process between fork and exec still holds it), an event it raises meanwhile carries
   * the old token and is dropped like any event of an unregistered fd.
   */
  forget(fd: number): void {
    this.#drop(fd);
  }

  /** Removes `fd`'s registration; false if there was none. */
  #drop(fd: number): boolean {
    if (this.#entries[fd] === undefined) return false;
    this.#entries[fd] = undefined;
    this.#count--;
    return true;
  }

  /** Number of registered fds. */
  get size(): number {
    return this.#count;
  }

  /** Holds `clock` around every turn's synchronous work from now on (see the module comment). */
  useClock(clock: TurnClock): void {
    this.#clock = clock;
  }

  /**
   * True while a turn's deferred callbacks, event handlers and queued work run: `queueWork` and
   * `queueFlush` may be called then (see the module comment).
   */
  get inTurn(): boolean {
    return this.#inTurn;
  }

  /**
   * Runs `h.runWork()` in this turn's work phase, after every event of the turn was handed out
   * (or in a later turn's, if the slice is used up first). Only while `inTurn`; a handler queues
   * itself at most once until its `runWork` ran.
   */
  queueWork(h: TurnWork): void {
    this.#turn.queueWork(h);
  }

  /**
   * Runs `h.runFlush()` at the end of this turn, after its work phase (with `inTurn` false, so
   * writes made then go out at once). Only while `inTurn`; at most once per handler and turn.
   */
  queueFlush(h: TurnWork): void {
    this.#turn.queueFlush(h);
  }

  /** Runs `fn` on the loop's next turn (waking a parked loop). */
  defer(fn: () => void): void {
    this.#queue[this.#qEnd++] = fn;
    this.#wake();
  }

  #wake(): void {
    if (!this.#parked || this.#woken) return;
    this.#woken = true;
    this.libc.sym.write(this.#efd, this.#wakeBytes, 8n);
  }

  /** Stops the loop and releases its descriptors; resolves once it ended. Idempotent. */
  stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#wake();
    }
    return this.#done;
  }

  async #run(): Promise<void> {
    const sym = this.libc.sym;
    const ep = this.#ep;
    let sliceStart = Date.now();
    let turns = 0;
    try {
      while (!this.#stopping) {
        this.stats.polls++;
        const deadline = sliceStart + this.#sliceMs;
        const clock = this.#clock;
        let deferred: boolean;
        let n: number;
        let worked: boolean;
        clock.hold();
        this.#inTurn = true;
        try {
          deferred = this.#runDeferred(deadline);
          n = sym.epoll_wait(ep, this.#syncEvents, this.#max, 0);
          if (n > 0) this.#dispatch(this.#syncView, n, deadline, deferred);
          worked = this.#finishTurn(deadline);
        } finally {
          this.#inTurn = false;
          clock.release();
        }
        if (n <= 0 && !deferred && !worked) {
          const parked = await this.#park();
          sliceStart = Date.now();
          turns = 0;
          if (parked > 0) {
            const held = this.#clock;
            const parkDeadline = sliceStart + this.#sliceMs;
            held.hold();
            this.#inTurn = true;
            try {
              this.#dispatch(this.#parkView, parked, parkDeadline, false);
              this.#finishTurn(parkDeadline);
            } finally {
              this.#inTurn = false;
              held.release();
            }
          }
          continue;
        }
        if (++turns >= this.#sliceTurns || Date.now() - sliceStart >= this.#sliceMs) {
          this.stats.yields++;
          await this.#yielder.yield();
          sliceStart = Date.now();
          turns = 0;
        } else {
          await RESOLVED;
        }
      }
    } finally {
      this.#yielder.idle();
      sym.close(this.#efd);
      sym.close(this.#ep);
    }
  }

  /**
   * Runs the deferred callbacks queued before this call, until `deadline` (the rest stay first in
   * line for the next turn); true if there were any.
   */
  #runDeferred(deadline: number): boolean {
    const q = this.#queue;
    const end = this.#qEnd; // what is deferred while these run waits for the next turn
    if (end === 0) return false;
    let i = 0;
    while (i < end) {
      if (i > 0 && Date.now() >= deadline) break;
      const item = q[i];
      if (typeof item === "number") {
        this.#deliver(item, q[i + 1] as number, q[i + 2] as number);
        i += 3;
        continue;
      }
      q[i++] = 0;
      try {
        item();
      } catch (err) {
        this.#onError(err);
      }
    }
    // Move what is left (and what was deferred meanwhile) to the front; zero the slots behind it.
    const now = this.#qEnd;
    q.copyWithin(0, i, now);
    q.fill(0, now - i, now);
    this.#qEnd = now - i;
    return true;
  }

  /**
   * The turn's work phase, then its writes: runs the queued work until `deadline` (at least one
   * item; the rest stay first in line for the next turn), then every queued write with `inTurn`
   * false. True if any work ran or is left.
   */
  #finishTurn(deadline: number): boolean {
    const t = this.#turn;
    const ran = t.runWork(deadline);
    const left = t.pendingWork;
    this.stats.deferredWork += left;
    this.#inTurn = false;
    t.runFlushes();
    return ran || left > 0;
  }

  /** Waits in the threaded `epoll_wait`; the number of events it left in `#parkEvents`. */
  async #park(): Promise<number> {
    this.stats.parks++;
    this.#yielder.idle();
    this.#parked = true;
    let n: number;
    try {
      n = await this.libc.sym.epoll_wait_nb(
        this.#ep,
        this.#parkEvents,
        this.#max,
        this.#parkTimeoutMs,
      );
    } finally {
      this.#parked = false;
    }
    if (this.#woken) {
      this.#woken = false;
      this.libc.sym.read(this.#efd, this.#drainBytes, 8n);
    }
    return n;
  }

  /**
   * Hands `n` collected events to their handlers. Past `deadline` the rest are deferred to the
   * next turn (after a yield) rather than dropped: edge-triggered fds report an edge only once.
   * The first event runs even past the deadline unless deferred callbacks already ran this turn
   * (`progressed`): then it queues behind them, first come, first served.
   */
  #dispatch(view: DataView, n: number, deadline: number, progressed: boolean): void {
    const efd = this.#efd;
    for (let i = 0, off = 0; i < n; i++, off += EPOLL_EVENT_BYTES) {
      const fd = view.getUint32(off + EPOLL_DATA_OFFSET, true);
      if (fd === efd) continue;
      const token = view.getUint32(off + EPOLL_DATA_OFFSET + 4, true);
      const events = view.getUint32(off, true);
      if ((i > 0 || progressed) && Date.now() >= deadline) {
        this.stats.deferredEvents++;
        const q = this.#queue;
        const end = this.#qEnd;
        q[end] = fd;
        q[end + 1] = token;
        q[end + 2] = events;
        this.#qEnd = end + 3;
      } else {
        this.#deliver(fd, token, events);
      }
    }
  }

  /** Calls `fd`'s handler, unless `fd` was unregistered (or reused) since the event was seen. */
  #deliver(fd: number, token: number, events: number): void {
    const e = this.#entries[fd];
    if (e === undefined || e.token !== token) return;
    try {
      e.handler.onEvents(events);
    } catch (err) {
      this.#onError(err);
    }
  }
}

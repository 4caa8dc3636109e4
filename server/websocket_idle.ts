/**
 * WebSocket idle timeouts: after `idleMs / 2` without a frame from the peer, ping; after another
 * `idleMs / 2` still without one, give up. All sockets of the process share one timer.
 *
 * Contract:
 * - `IdleWatch.arm()` starts watching (at open); `touch()` notes a frame; `clear()` stops
 *   (idempotent). `idleMs <= 0` disables it: `arm()` does nothing.
 * - `touch()` only records the time (`Date.now()`) and forgets an outstanding ping.
 * - One sweep timer serves every watched socket: it runs at the earliest deadline (last frame or
 *   ping + `idleMs / 2`), but no sooner than `SWEEP_SHARE` of the shortest half-time among the
 *   watched sockets after the previous sweep (at least `MIN_SWEEP_MS`), so a ping or a timeout
 *   comes at most that much late (60 s half-times: under 4 s; 150 ms: under 10 ms). The timer
 *   exists only while some socket is watched.
 * - The watch calls back into its owner (`IdleOwner`, the socket itself) through three
 *   symbol-keyed methods: when a socket's quiet time is reached, `[IDLE_PING]()` is called once
 *   (the owner sends a ping); when it is reached again with no frame since, the watch ends and
 *   `[IDLE_TIMEOUT]()` is called (the owner fails the connection). A socket that is no longer
 *   `[IDLE_ACTIVE]()` (closing) is dropped. Methods, not closures: a closure made per socket in
 *   its constructor (capturing the socket) kept every closed socket, and what it referenced, alive
 *   through the next young-generation GC under connect/close churn (measured; see
 *   `bench/RESULTS.md`).
 * - Why one timer: a timer per socket re-armed per frame cost the server ~3 µs of its ~9 µs per
 *   echoed message; and the runtime keeps its timers in a `Map` by id, whose insert and delete per
 *   socket made V8 keep closed sockets alive through young-generation collections under
 *   connect/close churn (the mechanism is described in `server/live_set.ts`).
 */
import { LiveSet, type LiveSlot } from "./live_set.ts";

/** `IdleOwner`: still open and watched? */
export const IDLE_ACTIVE: unique symbol = Symbol("lsbaws.websocket.idleActive");
/** `IdleOwner`: the quiet time was reached; send a ping. */
export const IDLE_PING: unique symbol = Symbol("lsbaws.websocket.idlePing");
/** `IdleOwner`: the ping went unanswered; fail the connection. */
export const IDLE_TIMEOUT: unique symbol = Symbol("lsbaws.websocket.idleTimeout");

/** What an `IdleWatch` calls back (see the module comment). */
export interface IdleOwner {
  /** False once the socket is closing: the watch drops it. */
  [IDLE_ACTIVE](): boolean;
  /** Sends a ping. */
  [IDLE_PING](): void;
  /** Fails the connection (no frame within the ping's half-time). */
  [IDLE_TIMEOUT](): void;
}

/** The sweep's delay floor as a share of the shortest watched half-time. */
const SWEEP_SHARE = 1 / 16;
/** The sweep's delay floor in ms, whatever the half-times. */
const MIN_SWEEP_MS = 5;

const WATCHED = new LiveSet<IdleWatch>();
let timer: ReturnType<typeof setTimeout> | undefined;
let dueAt = Infinity;

function schedule(at: number, now: number): void {
  if (at >= dueAt) return;
  if (timer !== undefined) clearTimeout(timer);
  dueAt = at;
  timer = setTimeout(sweep, Math.max(0, at - now));
}

function sweep(): void {
  timer = undefined;
  dueAt = Infinity;
  const now = Date.now();
  let earliest = Infinity;
  let shortest = Infinity;
  for (const w of WATCHED) {
    const next = w.check(now);
    if (next < earliest) earliest = next;
    if (next !== Infinity && w.halfMs < shortest) shortest = w.halfMs;
  }
  if (earliest === Infinity) return;
  schedule(Math.max(earliest, now + Math.max(MIN_SWEEP_MS, shortest * SWEEP_SHARE)), now);
}

/** The idle timeout of one socket; see the module comment. */
export class IdleWatch implements LiveSlot {
  /** Half the idle timeout (ms): the quiet time before a ping, and the time a ping has. */
  readonly halfMs: number;
  /** Position among the watched sockets (`LiveSet`). */
  liveSlot = -1;
  readonly #owner: IdleOwner;
  #lastFrameAt = 0;
  #pinged = false;

  /** Watches `owner` with `idleMs` (≤ 0: never); see the module comment. */
  constructor(idleMs: number, owner: IdleOwner) {
    this.halfMs = idleMs / 2;
    this.#owner = owner;
  }

  /** Starts watching from now. */
  arm(): void {
    if (this.halfMs <= 0) return;
    const now = Date.now();
    this.#pinged = false;
    this.#lastFrameAt = now;
    if (this.liveSlot < 0) WATCHED.add(this);
    schedule(now + this.halfMs, now);
  }

  /** A frame came from the peer. */
  touch(): void {
    if (this.liveSlot < 0) return;
    this.#lastFrameAt = Date.now();
    this.#pinged = false;
  }

  /** Stops watching. */
  clear(): void {
    if (!WATCHED.delete(this) || WATCHED.size > 0 || timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    dueAt = Infinity;
  }

  /** The sweep: acts if the quiet time is reached; returns the next deadline (Infinity: done). */
  check(now: number): number {
    if (!this.#owner[IDLE_ACTIVE]()) {
      this.clear();
      return Infinity;
    }
    const due = this.#lastFrameAt + this.halfMs;
    if (now < due) return due;
    if (this.#pinged) {
      this.clear();
      this.#owner[IDLE_TIMEOUT]();
      return Infinity;
    }
    this.#pinged = true;
    this.#lastFrameAt = now; // the reply is due within the next half
    this.#owner[IDLE_PING]();
    return now + this.halfMs;
  }
}

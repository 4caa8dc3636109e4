/**
 * The set of a server's live connections (for the timeout sweeper, shutdown and the connection
 * gauge), kept in an array rather than a JavaScript `Set`.
 *
 * Why not a `Set`: V8 stores a `Set` or `Map` in a hash table that it rebuilds as entries are
 * added and deleted, and each replaced table keeps a pointer to its successor (and its old
 * entries) for iterators that may still walk it. Under a new connection per request the table is
 * replaced every few dozen connections; once one of those tables has been promoted to the old
 * generation and dies there, it keeps every later table, and every connection they held, alive
 * through the young-generation collections until the next full collection. Measured with `wrk
 * -c16 -H "Connection: close"`: a few seconds in, ~5 MB survived each scavenge, the young
 * generation grew to 32 MiB, scavenges took 9-14 ms (p99 ~9 ms against ~1 ms) and
 * the process's RSS reached ~140 MiB. An array whose members know their own position has no
 * such chain.
 *
 * Contract:
 * - `add(c)` appends `c` and records its position in `c.liveSlot`; `delete(c)` moves the last
 *   member into its place (order is not kept) and sets `c.liveSlot` to -1; deleting a non-member
 *   does nothing and returns false. A member belongs to at most one `LiveSet`.
 * - Iteration walks a copy, so members may be added or deleted meanwhile.
 */

/** A member: the set keeps its position here (-1 when not in a set). */
export interface LiveSlot {
  /** Position in the `LiveSet` that holds it; -1 when none does. */
  liveSlot: number;
}

/** An unordered set of `LiveSlot` members; see the module comment. */
export class LiveSet<T extends LiveSlot> implements Iterable<T> {
  readonly #items: T[] = [];

  /** Number of members. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds `c` (not already a member of any set). */
  add(c: T): void {
    c.liveSlot = this.#items.length;
    this.#items.push(c);
  }

  /** Removes `c`; false if it was not a member. */
  delete(c: T): boolean {
    const items = this.#items;
    const i = c.liveSlot;
    if (i < 0 || i >= items.length || items[i] !== c) return false;
    const last = items.pop()!;
    if (last !== c) {
      items[i] = last;
      last.liveSlot = i;
    }
    c.liveSlot = -1;
    return true;
  }

  /** Iterates over a copy of the members. */
  [Symbol.iterator](): Iterator<T> {
    return this.#items.slice()[Symbol.iterator]();
  }
}

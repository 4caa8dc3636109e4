/**
 * Recognising a repeated header list: apps hand over the same header names and values response
 * after response, usually in a fresh array each time.
 *
 * Contract (sans-IO, synchronous): a `HeaderListMemo` remembers one list by position (its names
 * and values, at most `MAX_MEMO_FIELDS` fields) and `matches(list)` says whether `list` holds
 * exactly those names and values, comparing the strings by value on every call (so a list
 * changed in place never matches its old contents). A list with more fields is not remembered
 * and then nothing matches until the next `record`.
 */

/** Lists with more fields than this are never remembered. */
export const MAX_MEMO_FIELDS = 16;

/** One remembered header list; see the module comment. */
export class HeaderListMemo {
  /** Fields remembered; -1 when nothing is (no list matches). */
  #count = -1;
  /** Slots holding strings of an earlier list (cleared when a shorter one is recorded). */
  #used = 0;
  readonly #names: string[] = new Array<string>(MAX_MEMO_FIELDS).fill("");
  readonly #values: string[] = new Array<string>(MAX_MEMO_FIELDS).fill("");

  /** Whether `list` holds exactly the remembered names and values, in order. */
  matches(list: ReadonlyArray<readonly [string, string]>): boolean {
    if (list.length !== this.#count) return false;
    for (let i = 0; i < list.length; i++) {
      if (list[i][0] !== this.#names[i] || list[i][1] !== this.#values[i]) return false;
    }
    return true;
  }

  /** Remembers `list` (or nothing, when it has more than `MAX_MEMO_FIELDS` fields). */
  record(list: ReadonlyArray<readonly [string, string]>): void {
    const fits = list.length <= MAX_MEMO_FIELDS;
    const n = fits ? list.length : 0;
    this.#count = fits ? n : -1;
    for (let i = 0; i < n; i++) {
      this.#names[i] = list[i][0];
      this.#values[i] = list[i][1];
    }
    for (let i = n; i < this.#used; i++) this.#names[i] = this.#values[i] = "";
    this.#used = n;
  }
}

/**
 * A small Prometheus metrics registry and the text exposition format 0.0.4.
 *
 * Contract:
 * - A `Registry` holds metric families (`counter`, `gauge`, `histogram`), each with fixed label
 *   names. Every series (a family and one tuple of label values) owns slots of one flat
 *   `Float64Array` (`values`): one slot for a counter or gauge; for a histogram one per finite
 *   bucket (non-cumulative counts), one for observations above the last bound, and one for the
 *   sum. `family.series(...labelValues)` resolves a series once and returns its first slot, so a
 *   hot path does `values[slot] += n`: no lookup, no string, no allocation. All families and
 *   series are defined before `seal()`, which allocates `values`.
 * - Slots are assigned in definition order; `layoutId` is a checksum of every series' name and
 *   labels, so two processes can check that their arrays mean the same thing before adding them.
 *   `gaugeSlots` lists the gauge slots (aggregation sums them over live processes only).
 * - Gauges may have a collector (`collect`): `refresh()` writes every collector's value into
 *   `values` (done before a snapshot or a render).
 * - `render(values, include?)` writes the exposition text for any array with this registry's
 *   layout: `# HELP` and `# TYPE` per family, label values escaped (`\`, `"`, newline), HELP text
 *   escaped (`\`, newline), histograms as cumulative `_bucket{le="…"}` ending with `le="+Inf"`,
 *   then `_sum` and `_count`. Unlabelled series are always written; a labelled series only once
 *   it is nonzero, and a labelled family with no such series is left out. Numbers: integers as
 *   such, others in shortest round-trip form, `+Inf`, `-Inf`, `NaN`.
 */

/** A metric type of the exposition format. */
export type MetricType = "counter" | "gauge" | "histogram";

/** One metric family: a name, its help text, its type and label names, and its series. */
export class Family {
  /** Metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
  readonly name: string;
  /** One line of help. */
  readonly help: string;
  /** Metric type. */
  readonly type: MetricType;
  /** Label names, fixed for the family. */
  readonly labelNames: readonly string[];
  /** Finite histogram bucket upper bounds, increasing (empty for counters and gauges). */
  readonly buckets: readonly number[];
  /** Free-form tag the caller uses to select families in `render` (e.g. who produces them). */
  readonly tag: string;
  /** Series as [rendered label pairs, first slot], in definition order. */
  readonly members: Array<readonly [string, number]> = [];
  readonly #registry: Registry;
  readonly #byKey = new Map<string, number>();

  /** Use `Registry.counter`, `gauge` or `histogram`. */
  constructor(
    registry: Registry,
    def: {
      name: string;
      help: string;
      type: MetricType;
      labelNames: readonly string[];
      buckets: readonly number[];
      tag: string;
    },
  ) {
    this.#registry = registry;
    this.name = def.name;
    this.help = def.help;
    this.type = def.type;
    this.labelNames = def.labelNames;
    this.buckets = def.buckets;
    this.tag = def.tag;
  }

  /** Slots one series takes. */
  get width(): number {
    return this.type === "histogram" ? this.buckets.length + 2 : 1;
  }

  /**
   * The first slot of the series with these label values (one per label name), created on first
   * use. Resolve series once, at definition time, never on a hot path.
   */
  series(...labelValues: string[]): number {
    if (labelValues.length !== this.labelNames.length) {
      throw new Error(`${this.name}: expected ${this.labelNames.length} label values`);
    }
    const key = labelValues.map((v, i) => `${this.labelNames[i]}="${escapeLabel(v)}"`).join(",");
    let slot = this.#byKey.get(key);
    if (slot === undefined) {
      slot = this.#registry.allocate(this, key);
      this.#byKey.set(key, slot);
      this.members.push([key, slot]);
    }
    return slot;
  }
}

/** A set of metric families sharing one `values` array; see the module comment. */
export class Registry {
  /** Families in definition (and rendering) order. */
  readonly families: Family[] = [];
  /** Gauge slots. */
  readonly gaugeSlots: number[] = [];
  /** Current values (allocated by `seal`). */
  values: Float64Array = new Float64Array(0);
  /** Number of slots. */
  size = 0;
  /** Checksum of the layout (names, labels, types, buckets). */
  layoutId = 0;
  readonly #collectors: Array<readonly [number, () => number]> = [];
  #sealed = false;

  /** Defines a counter family. */
  counter(name: string, help: string, labelNames: readonly string[] = [], tag = ""): Family {
    return this.#define({ name, help, type: "counter", labelNames, buckets: [], tag });
  }

  /** Defines a gauge family. */
  gauge(name: string, help: string, labelNames: readonly string[] = [], tag = ""): Family {
    return this.#define({ name, help, type: "gauge", labelNames, buckets: [], tag });
  }

  /** Defines a histogram family with the given finite bucket upper bounds (increasing). */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
    tag = "",
  ): Family {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i] > buckets[i - 1])) throw new Error(`${name}: buckets must increase`);
    }
    return this.#define({ name, help, type: "histogram", labelNames, buckets, tag });
  }

  #define(def: ConstructorParameters<typeof Family>[1]): Family {
    if (this.#sealed) throw new Error("registry is sealed");
    const f = new Family(this, def);
    this.families.push(f);
    return f;
  }

  /** Reserves the slots of a new series (called by `Family.series`). */
  allocate(f: Family, key: string): number {
    if (this.#sealed) throw new Error("registry is sealed");
    const slot = this.size;
    this.size += f.width;
    if (f.type === "gauge") this.gaugeSlots.push(slot);
    const text = `${f.type} ${f.name}{${key}} ${f.buckets.join(",")};`;
    for (let i = 0; i < text.length; i++) {
      this.layoutId = (Math.imul(this.layoutId, 31) + text.charCodeAt(i)) >>> 0;
    }
    return slot;
  }

  /** Allocates `values`; no family or series can be added afterwards. */
  seal(): this {
    this.#sealed = true;
    this.values = new Float64Array(this.size);
    return this;
  }

  /** Makes `refresh()` store `fn()` into gauge slot `slot`. */
  collect(slot: number, fn: () => number): void {
    this.#collectors.push([slot, fn]);
  }

  /** Stores every collector's current value. */
  refresh(): void {
    for (const [slot, fn] of this.#collectors) this.values[slot] = fn();
  }

  /** Renders `values` (default: this registry's) as exposition text; see the module comment. */
  render(values: Float64Array = this.values, include?: (f: Family) => boolean): string {
    let out = "";
    for (const f of this.families) {
      if (include && !include(f)) continue;
      let body = "";
      const labelled = f.labelNames.length > 0;
      for (const [key, slot] of f.members) {
        if (f.type !== "histogram") {
          if (labelled && values[slot] === 0) continue;
          body += `${f.name}${labelled ? `{${key}}` : ""} ${formatValue(values[slot])}\n`;
          continue;
        }
        const n = f.buckets.length;
        let count = 0;
        for (let i = 0; i <= n; i++) count += values[slot + i];
        if (labelled && count === 0) continue;
        const sep = labelled ? `${key},` : "";
        let cumulative = 0;
        for (let i = 0; i < n; i++) {
          cumulative += values[slot + i];
          body += `${f.name}_bucket{${sep}le="${formatValue(f.buckets[i])}"} ${cumulative}\n`;
        }
        body += `${f.name}_bucket{${sep}le="+Inf"} ${count}\n`;
        const labels = labelled ? `{${key}}` : "";
        body += `${f.name}_sum${labels} ${formatValue(values[slot + n + 1])}\n`;
        body += `${f.name}_count${labels} ${count}\n`;
      }
      if (body === "" && labelled) continue;
      out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n${body}`;
    }
    return out;
  }
}

/** Adds `v` to the histogram series starting at `slot` of `values` (bucket and sum). */
export function observe(
  values: Float64Array,
  slot: number,
  buckets: readonly number[],
  v: number,
): void {
  let i = 0;
  const n = buckets.length;
  while (i < n && v > buckets[i]) i++;
  values[slot + i]++;
  values[slot + n + 1] += v;
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Escapes HELP text: backslash and newline. */
export function escapeHelp(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** Formats a sample value (or a bucket bound) as the exposition format spells it. */
export function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

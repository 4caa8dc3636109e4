/**
 * CPU profiles of an lsbaws server under load (`deno task bench --profile`): the command line
 * that makes Deno write a V8 CPU profile, and the summary of a `.cpuprofile` file that says where
 * the server's time goes.
 *
 * Contract:
 * - `profiledCommand` is pure: it adds `--cpu-prof --cpu-prof-dir=DIR` to a `deno run` command
 *   line (Deno writes `DIR/*.cpuprofile` when the process exits, also after SIGTERM, which lsbaws
 *   handles by shutting down); it throws for anything that is not `deno run`.
 * - `summarizeProfile` is pure: from the profile's `nodes`, `samples` and `timeDeltas` it
 *   computes each sampled frame's self time (a sample lasts until the next one, as in Chrome's
 *   DevTools), merges frames of the same function (name, script, line, column) from different
 *   call stacks, and groups self time into categories by script (lsbaws's `server/` and
 *   `gateway/`, the bench app, Deno's runtime JS, V8 builtins and ops, GC, native code outside
 *   JS). Percentages are of the busy (non-idle) time; the idle share is reported on its own.
 * - `profileMarkdown` renders one summary as a heading line and two Markdown tables; the
 *   harness prints it and puts it into bench/RESULTS.md. Profile files themselves are written
 *   to a temp dir by the harness and never kept.
 */

/** One call frame of a V8 CPU profile. */
export interface CpuProfileFrame {
  /** Function name ("" for anonymous functions and top-level code). */
  functionName: string;
  /** Script URL (`file:///...`, `ext:...`, `node:...`), or "" for builtins and pseudo frames. */
  url: string;
  /** Zero-based line, -1 when unknown. */
  lineNumber: number;
  /** Zero-based column, -1 when unknown. */
  columnNumber: number;
}

/** A V8 CPU profile as Deno's `--cpu-prof` writes it (the fields used here). */
export interface CpuProfile {
  /** The call tree. */
  nodes: Array<{ id: number; callFrame: CpuProfileFrame; children?: number[] }>;
  /** The node (leaf frame) of each sample. */
  samples: number[];
  /** µs since the previous sample (the first: since `startTime`). */
  timeDeltas: number[];
  /** µs, monotonic clock. */
  startTime: number;
  /** µs, monotonic clock. */
  endTime: number;
}

/** One function's self time. */
export interface ProfileEntry {
  /** Function name, or a description for anonymous code. */
  name: string;
  /** `path:line` (relative to the repository for project files), or "" when unknown. */
  location: string;
  /** Category (see `categoryOf`). */
  category: string;
  /** Self time, ms. */
  selfMs: number;
  /** Share of the busy (non-idle) time, percent. */
  pct: number;
}

/** Where one profiled server's time went. */
export interface ProfileSummary {
  /** Server id. */
  server: string;
  /** Scenario the load came from. */
  scenario: string;
  /** req/s wrk measured while profiling (the profiler slows the server down). */
  rps: number;
  /** Profiled time, ms (busy + idle). */
  totalMs: number;
  /** Idle time (waiting in the event loop), ms. */
  idleMs: number;
  /** Number of samples. */
  samples: number;
  /** Self time per category, largest first. */
  categories: Array<{ category: string; selfMs: number; pct: number }>;
  /** The functions with the most self time, largest first. */
  top: ProfileEntry[];
}

/** Adds `--cpu-prof --cpu-prof-dir=DIR` to a `deno run ...` command line. */
export function profiledCommand(cmd: readonly string[], dir: string): string[] {
  if (cmd[1] !== "run") throw new Error(`not a deno run command: ${cmd.join(" ")}`);
  return [cmd[0], "run", "--cpu-prof", `--cpu-prof-dir=${dir}`, ...cmd.slice(2)];
}

/** The category of a frame's self time; `root` is the repository path (no trailing slash). */
export function categoryOf(frame: CpuProfileFrame, root: string): string {
  switch (frame.functionName) {
    case "(garbage collector)":
      return "GC";
    case "(program)":
      return "native (outside JS: ops, runtime, kernel)";
    case "(idle)":
      return "idle";
    case "(root)":
      return "root";
  }
  const url = frame.url;
  const project = `file://${root}/`;
  if (url.startsWith(project)) {
    const rel = url.slice(project.length);
    if (rel.startsWith("server/")) return "lsbaws server/";
    if (rel.startsWith("gateway/")) return "lsbaws gateway/";
    if (rel.startsWith("bench/apps/")) return "bench app";
    return "other project code";
  }
  if (url.startsWith("ext:") || url.startsWith("node:")) return "Deno runtime JS";
  if (url === "") return "V8 builtins and ops";
  return "other JS";
}

function locationOf(frame: CpuProfileFrame, root: string): string {
  if (frame.url === "") return "";
  const project = `file://${root}/`;
  const path = frame.url.startsWith(project) ? frame.url.slice(project.length) : frame.url;
  return frame.lineNumber >= 0 ? `${path}:${frame.lineNumber + 1}` : path;
}

/** What `summarizeProfile` needs besides the profile. */
export interface SummaryOptions {
  /** Repository path (no trailing slash): project scripts are shown relative to it. */
  root: string;
  /** Server id. */
  server: string;
  /** Scenario of the load. */
  scenario: string;
  /** req/s measured while profiling. */
  rps: number;
  /** How many functions to list (default 12). */
  top?: number;
}

/** Self time per function and per category of a V8 CPU profile. */
export function summarizeProfile(p: CpuProfile, o: SummaryOptions): ProfileSummary {
  const frames = new Map<number, CpuProfileFrame>();
  for (const n of p.nodes) frames.set(n.id, n.callFrame);
  const selfUs = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample lasts until the next one; the last one until the profile's end.
    const us = Math.max(0, i + 1 < p.samples.length ? p.timeDeltas[i + 1] ?? 0 : p.endTime - t);
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + us);
  }
  const byFunction = new Map<string, { frame: CpuProfileFrame; us: number }>();
  const byCategory = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = frames.get(id);
    if (!frame) continue;
    totalUs += us;
    const category = categoryOf(frame, o.root);
    if (category === "idle") {
      idleUs += us;
      continue;
    }
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    const key = `${frame.functionName}\0${frame.url}\0${frame.lineNumber}\0${frame.columnNumber}`;
    const entry = byFunction.get(key) ?? { frame, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? (us / busyUs) * 100 : NaN);
  const top = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, o.top ?? 12)
    .map(({ frame, us }) => ({
      name: frame.functionName || (frame.url ? "(anonymous)" : "(unknown)"),
      location: locationOf(frame, o.root),
      category: categoryOf(frame, o.root),
      selfMs: us / 1000,
      pct: pct(us),
    }));
  const categories = [...byCategory.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([category, us]) => ({ category, selfMs: us / 1000, pct: pct(us) }));
  return {
    server: o.server,
    scenario: o.scenario,
    rps: o.rps,
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    samples: p.samples.length,
    categories,
    top,
  };
}

function num(x: number, digits: number): string {
  return Number.isFinite(x)
    ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "–";
}

function mdTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * One profile as Markdown: a line naming the server, load and busy share, the self time per
 * category, and the functions with the most self time. `label` is the server's display name.
 */
export function profileMarkdown(s: ProfileSummary, label: string): string {
  const busyMs = s.totalMs - s.idleMs;
  const busyPct = s.totalMs > 0 ? (busyMs / s.totalMs) * 100 : NaN;
  return [
    `**${label}**, ${s.scenario} (${num(s.rps, 0)} req/s while profiled; ${
      num(s.samples, 0)
    } samples over ${num(s.totalMs / 1000, 1)} s, ${num(busyPct, 0)} % busy):`,
    "",
    mdTable(
      ["Where (self time)", "ms", "% of busy"],
      s.categories.map((c) => [c.category, num(c.selfMs, 0), num(c.pct, 1)]),
    ),
    "",
    mdTable(
      ["Function", "Location", "Category", "self ms", "% of busy"],
      s.top.map((e) => [
        `\`${e.name.replaceAll("|", "\\|")}\``,
        e.location ? `\`${e.location}\`` : "–",
        e.category,
        num(e.selfMs, 0),
        num(e.pct, 1),
      ]),
    ),
  ].join("\n");
}

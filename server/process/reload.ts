/**
 * `--reload` for development: watches the app's files and tells the supervisor when they change
 * (the supervisor then replaces its workers like on HUP, see `server/process/supervisor.ts`).
 *
 * Contract:
 * - What is watched: the app module and every local (`file:`) module it imports, computed with
 *   `deno info --json <app>` run by this same `deno` (`moduleGraph`), plus every `--reload-dir`
 *   recursively. Modules that failed to parse or are missing are watched too (their fix or their
 *   creation is a change). Remote, `npm:` and `node_modules/` modules are not.
 * - Where there is no `deno` to ask (a compiled binary: its executable is lsbaws itself) or
 *   `deno info` fails, the app module's directory is watched recursively instead (logged once).
 * - Module files are watched through their directories (non-recursively), so editors that save
 *   by writing a new file and renaming it over the old one are seen. Watchers are only added
 *   (for directories that hold new module files), never closed before `close()`.
 * - Ignored everywhere (`isIgnoredPath`): anything under `.git/` or `node_modules/`, and editors'
 *   temporary files (`*.swp`, `*.swo`, `*.swx`, `*~`, `.#*`, `#*#`, `4913`, `*.tmp`, JetBrains'
 *   `*___jb_tmp___` and `*___jb_old___`). Access events are ignored.
 * - In a `--reload-dir` tree a file counts only if it passes `include`/`exclude`
 *   (`--reload-include`/`--reload-exclude`, `server/glob.ts`'s `pathFilter`, on its path relative
 *   to the tree's root). Module files always count: they are the app; so in the fallback
 *   directory, which stands for the module graph, only `exclude` applies.
 * - A burst of changes is reported once, `debounceMs` (default `RELOAD_DEBOUNCE_MS`) after the
 *   last of them, as one `onChange(why)` call naming the changed file(s).
 * - `settled(ok)` recomputes the module graph: after a successful reload it replaces the watched
 *   module set (new imports are watched, dropped ones no longer), after a failed one the new set
 *   is added to the old one.
 */
import { basename, dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pathFilter } from "../glob.ts";
import type { Logger } from "../log.ts";
import { isDenoCli } from "./spawn.ts";
import type { Reloader } from "./supervisor_options.ts";

/** Quiet time after the last change of a burst before the reload starts. */
export const RELOAD_DEBOUNCE_MS = 150;

const IGNORED_DIRS = new Set([".git", "node_modules"]);
const IGNORED_NAME = /(\.sw[popx]|~|\.tmp|___jb_tmp___|___jb_old___)$|^\.#|^#.*#$|^4913$/;

/** Whether a change of `path` (relative to a watched root, or absolute) is ignored. */
export function isIgnoredPath(path: string): boolean {
  const parts = path.split(/[\\/]/);
  if (parts.some((p) => IGNORED_DIRS.has(p))) return true;
  return IGNORED_NAME.test(parts.at(-1) ?? "");
}

/**
 * The local module files in `deno info --json` output: every `file:` module (also those with an
 * error) outside `node_modules/`, as absolute paths, in the order listed.
 */
export function localModules(info: unknown): string[] {
  const modules = (info as { modules?: unknown })?.modules;
  if (!Array.isArray(modules)) return [];
  const out: string[] = [];
  for (const m of modules) {
    const spec = (m as { specifier?: unknown })?.specifier;
    if (typeof spec !== "string" || !spec.startsWith("file:")) continue;
    const path = fileURLToPath(spec);
    if (!path.split(/[\\/]/).includes("node_modules")) out.push(path);
  }
  return out;
}

/**
 * The local module graph of `entry` (`localModules` of `deno info --json entry`, run in `cwd`), or
 * null when `execPath` is not the `deno` CLI or `deno info` fails.
 */
export async function moduleGraph(
  entry: string,
  cwd: string,
  execPath: string = Deno.execPath(),
): Promise<string[] | null> {
  if (!isDenoCli(execPath)) return null;
  try {
    const out = await new Deno.Command(execPath, {
      args: ["info", "--json", entry],
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return null;
    const files = localModules(JSON.parse(new TextDecoder().decode(out.stdout)));
    return files.length > 0 ? files : null;
  } catch {
    return null;
  }
}

/** Options for `createReloader`. */
export interface ReloaderOptions {
  /** The app module (a path relative to `cwd`, absolute, or a `file:` URL). */
  readonly app: string;
  /** Directories watched recursively (`--reload-dir`, relative to `cwd`). */
  readonly dirs: readonly string[];
  /** Globs a tree file's name must match to count (`--reload-include`; none: every file). */
  readonly include?: readonly string[];
  /** Globs that make a tree file not count (`--reload-exclude`). */
  readonly exclude?: readonly string[];
  /** Working directory. */
  readonly cwd: string;
  /** Where watching is reported. */
  readonly logger: Logger;
  /** Quiet time that ends a burst (default `RELOAD_DEBOUNCE_MS`). */
  readonly debounceMs?: number;
  /** Computes the module graph (default `moduleGraph`). */
  readonly graph?: (entry: string, cwd: string) => Promise<string[] | null>;
}

/** The `--reload` file watcher; see the module comment. */
export function createReloader(opts: ReloaderOptions): Reloader {
  return new FileReloader(opts);
}

class FileReloader implements Reloader {
  readonly #opts: ReloaderOptions;
  readonly #app: string;
  readonly #debounceMs: number;
  #files = new Set<string>();
  /** Directories watched for module files, and roots watched recursively. */
  readonly #flat = new Set<string>();
  readonly #trees: string[] = [];
  readonly #watchers: Deno.FsWatcher[] = [];
  #fallback = false;
  #pending = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onChange: (why: string) => void = () => {};
  #closed = false;
  #refreshing: Promise<void> = Promise.resolve();
  readonly #treeFilter: (relative: string) => boolean;
  readonly #excludeOnly: (relative: string) => boolean;

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
    this.#treeFilter = pathFilter(opts.include ?? [], opts.exclude ?? []);
    this.#excludeOnly = pathFilter([], opts.exclude ?? []);
    this.#app = opts.app.startsWith("file:")
      ? fileURLToPath(opts.app)
      : resolve(opts.cwd, opts.app);
    this.#debounceMs = opts.debounceMs ?? RELOAD_DEBOUNCE_MS;
  }

  start(onChange: (why: string) => void): void {
    this.#onChange = onChange;
    for (const dir of this.#opts.dirs) this.#watchTree(resolve(this.#opts.cwd, dir), true);
    this.#refresh(true);
  }

  settled(ok: boolean): void {
    this.#refresh(ok);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const w of this.#watchers.splice(0)) {
      try {
        w.close();
      } catch {
        // Already closed.
      }
    }
  }

  /**
   * Recomputes the module graph (one computation at a time) and watches directories that hold
   * new module files. Watchers are only added, never closed before `close()`: Deno shares one
   * OS watcher per process, and closing a watcher can drop another's watch on the same
   * directory. Events are filtered by the current module set instead.
   */
  #refresh(replace: boolean): void {
    this.#refreshing = this.#refreshing.then(async () => {
      if (this.#closed || this.#fallback) return;
      const graph = await (this.#opts.graph ?? moduleGraph)(this.#app, this.#opts.cwd);
      if (this.#closed) return;
      if (graph === null) {
        if (this.#files.size > 0) return; // Keep what was found before.
        this.#fallback = true;
        const dir = dirname(this.#app);
        this.#opts.logger.log(
          "info",
          `reload: cannot compute the module graph (no deno CLI here, or deno info failed); ` +
            `watching ${dir} recursively`,
        );
        this.#watchTree(dir, false);
        return;
      }
      const before = [...this.#files].sort().join("\n");
      this.#files = new Set(replace ? graph : [...this.#files, ...graph]);
      const dirs = [...new Set([...this.#files].map((f) => dirname(f)))].sort();
      const fresh = dirs.filter((d) => !this.#flat.has(d) && !this.#inTree(d));
      if (fresh.length > 0 && this.#watch(fresh, false, (p) => this.#files.has(p))) {
        for (const d of fresh) this.#flat.add(d);
      }
      const dirNoun = dirs.length === 1 ? "directory" : "directories";
      const trees = this.#trees.length > 0 ? ` and ${this.#trees.length} tree(s)` : "";
      this.#opts.logger.log(
        [...this.#files].sort().join("\n") !== before ? "info" : "debug",
        `reload: watching ${this.#files.size} module file(s) in ${dirs.length} ${dirNoun}${trees}`,
      );
    });
  }

  #inTree(dir: string): boolean {
    return this.#trees.some((root) => !relative(root, dir).startsWith(".."));
  }

  /**
   * Watches `root` recursively. `filtered`: a `--reload-dir`, whose files pass include and
   * exclude; otherwise the directory standing in for the module graph, where any file may be a
   * module, so only exclude applies.
   */
  #watchTree(root: string, filtered: boolean): void {
    const counts = filtered ? this.#treeFilter : this.#excludeOnly;
    const accept = (p: string) => {
      const rel = relative(root, p);
      return !rel.startsWith("..") && !isIgnoredPath(rel) && counts(rel);
    };
    if (this.#watch([root], true, accept)) this.#trees.push(root);
  }

  #watch(paths: string[], recursive: boolean, accept: (path: string) => boolean): boolean {
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(paths, { recursive });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      this.#opts.logger.log("warning", `reload: cannot watch ${paths.join(", ")}: ${why}`);
      return false;
    }
    this.#watchers.push(watcher);
    (async () => {
      try {
        for await (const ev of watcher) {
          if (ev.kind === "access") continue;
          for (const p of ev.paths) if (!isIgnoredPath(basename(p)) && accept(p)) this.#note(p);
        }
      } catch {
        // Closed, or the directory went away.
      }
    })();
    return true;
  }

  /** Records a change and (re)starts the quiet-period timer. */
  #note(path: string): void {
    if (this.#closed) return;
    this.#pending.add(path);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const paths = [...this.#pending].map((p) => this.#shown(p));
      this.#pending.clear();
      const more = paths.length > 3 ? ` and ${paths.length - 3} more` : "";
      this.#onChange(`${paths.slice(0, 3).join(", ")}${more} changed`);
    }, this.#debounceMs);
  }

  /** A path for the log: relative to the working directory when inside it. */
  #shown(path: string): string {
    const rel = relative(this.#opts.cwd, path);
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
  }
}

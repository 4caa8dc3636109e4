/**
 * Loads an app from a `module:export` spec (`apps/hello.ts:app`), as gunicorn's `import_app`.
 *
 * Contract:
 * - `parseAppSpec(spec)` is pure: it splits the spec into a module reference and an export path.
 *   The export part is what follows the LAST ":" when that colon is not the one of a `file:`
 *   scheme and what follows contains no "/" or "\\"; it must then be a dotted path of
 *   identifiers (`api.v1`). Without it the default export is used. An export part followed by
 *   parentheses (`app.ts:createApp()`, `app.ts:createApp("prod", 2)`; gunicorn's syntax) names an
 *   app factory: `call` holds its arguments, which must be JSON values.
 * - An app factory (a spec with a call, or any export with `factory: true`, uvicorn's
 *   `--factory`) is called with its arguments (as a method of the object holding it) and awaited;
 *   what it returns or resolves to is the app. A factory that throws or rejects is an
 *   `AppLoadError` (`factory`) with the error as its cause.
 * - `loadApp(spec, {cwd})` resolves the module against `cwd` (never against `import.meta.url`,
 *   which lies inside a compiled binary), checks the file exists, imports it from its absolute
 *   `file:` URL, and walks the export path. This is the only gateway function that does I/O.
 * - The value must be a function or an object with a callable `fetch` (own or inherited); which
 *   calling convention it speaks is decided later (`gateway/handler.ts`).
 * - Every failure is an `AppLoadError` whose message names the file and the export, lists the
 *   exports that do exist, and hints at the fix when exactly one export is callable.
 */
import { fileUrlPath, moduleFileUrl } from "./_file_url.ts";
import { AppLoadError } from "./errors.ts";
import { installUpgradeWebSocket } from "./websocket.ts";

/** A parsed `module:export` spec. */
export interface AppSpec {
  /** The module part: a path (relative or absolute) or a `file:` URL. */
  readonly module: string;
  /** The export path, e.g. `["api", "v1"]`; `["default"]` when the spec has no export part. */
  readonly exportPath: readonly string[];
  /** An app factory's arguments (`createApp("prod")` → `["prod"]`); absent without a call. */
  readonly call?: readonly unknown[];
}

/** A successfully loaded app export. */
export interface LoadedApp {
  /** The exported value: a function, or an object with a callable `fetch`. */
  readonly value: unknown;
  /** The export path as a dotted string (`"default"` when omitted). */
  readonly exportName: string;
  /** The module's absolute `file:` URL (href). */
  readonly url: string;
}

/** Options for `loadApp`. */
export interface LoadAppOptions {
  /** Directory that relative module paths are resolved against. */
  readonly cwd: string;
  /** The export is an app factory even without `()` in the spec (`--factory`). */
  readonly factory?: boolean;
}

const EXPORT_PATH_RE = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
/** `module:export.path(args)`: the greedy module part backtracks to the colon before the call. */
const CALL_SPEC_RE = /^(.+):([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\((.*)\)$/s;
const FILE_SCHEME = "file:";

/** Splits `spec` into module and export path; throws `AppLoadError` (`spec`) when malformed. */
export function parseAppSpec(spec: string): AppSpec {
  const fail = (why: string) =>
    new AppLoadError("spec", `invalid app spec ${JSON.stringify(spec)}: ${why}`, { spec });
  if (typeof spec !== "string" || spec.trim() === "") throw fail("it is empty");
  const called = spec.endsWith(")") ? CALL_SPEC_RE.exec(spec) : null;
  if (called !== null && called[1] !== FILE_SCHEME.slice(0, -1)) {
    let call: unknown[];
    try {
      call = JSON.parse(`[${called[3]}]`);
    } catch {
      throw fail(
        `the factory's arguments ${JSON.stringify(called[3])} are not JSON values ` +
          `(strings in double quotes, numbers, true, false, null, arrays, objects)`,
      );
    }
    return { module: called[1], exportPath: called[2].split("."), call };
  }
  const schemeColon = spec.startsWith(FILE_SCHEME) ? FILE_SCHEME.length - 1 : -1;
  const colon = spec.lastIndexOf(":");
  let module = spec;
  let exportName = "default";
  if (colon > schemeColon) {
    const tail = spec.slice(colon + 1);
    if (!tail.includes("/") && !tail.includes("\\")) {
      module = spec.slice(0, colon);
      exportName = tail;
      if (tail === "") throw fail("the export name after ':' is empty");
      if (!EXPORT_PATH_RE.test(tail)) {
        throw fail(`${JSON.stringify(tail)} is not an export name or a dotted path (api.v1)`);
      }
    }
  }
  if (module === "" || module === FILE_SCHEME) throw fail("the module path is empty");
  return { module, exportPath: exportName.split(".") };
}

/** Loads the app named by `spec` (see the module comment). */
export async function loadApp(spec: string, options: LoadAppOptions): Promise<LoadedApp> {
  installUpgradeWebSocket(); // before the app is imported: frameworks bind it when they load
  const parsed = parseAppSpec(spec);
  const exportName = parsed.exportPath.join(".");
  const url = await resolveModuleUrl(parsed.module, options.cwd, spec);
  const file = url.href;
  const shown = await checkFile(url, spec, exportName);
  let mod: Record<string, unknown>;
  try {
    mod = await import(url.href);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new AppLoadError("import", `cannot import ${shown}: ${why}`, {
      spec,
      file,
      exportName,
      cause: err,
    });
  }
  const where = { spec, file, exportName, shown };
  const value = walkExportPath(mod, parsed.exportPath, where);
  const args = parsed.call ?? (options.factory ? [] : null);
  if (args !== null) {
    const holder = walkExportPath(mod, parsed.exportPath.slice(0, -1), where);
    return await callFactory(value, holder, args, where);
  }
  if (typeof value !== "function" && !hasCallableFetch(value)) {
    const available = Object.keys(mod).sort();
    throw new AppLoadError(
      "not_callable",
      `export '${exportName}' of ${shown} is ${kindOf(value)}, not a function or an object ` +
        `with a fetch() method${hint(mod, parsed.module, exportName)}`,
      { spec, file, exportName, available },
    );
  }
  return { value, exportName, url: file };
}

/** Calls the app factory `fn` (a method of `holder`) with `args`; its awaited result is the app. */
async function callFactory(
  fn: unknown,
  holder: unknown,
  args: readonly unknown[],
  where: { spec: string; file: string; exportName: string; shown: string },
): Promise<LoadedApp> {
  const { spec, file, shown } = where;
  const shownCall = `${where.exportName}(${args.map((a) => JSON.stringify(a)).join(", ")})`;
  if (typeof fn !== "function") {
    throw new AppLoadError(
      "not_callable",
      `export '${where.exportName}' of ${shown} is ${kindOf(fn)}, not an app factory (a function)`,
      { spec, file, exportName: where.exportName },
    );
  }
  let value: unknown;
  try {
    value = await fn.apply(holder, args);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new AppLoadError("factory", `app factory ${shownCall} in ${shown} failed: ${why}`, {
      spec,
      file,
      exportName: where.exportName,
      cause: err,
    });
  }
  if (typeof value !== "function" && !hasCallableFetch(value)) {
    throw new AppLoadError(
      "not_callable",
      `app factory ${shownCall} in ${shown} returned ${kindOf(value)}, not a function or an ` +
        `object with a fetch() method`,
      { spec, file, exportName: where.exportName },
    );
  }
  return { value, exportName: shownCall, url: file };
}

/** Resolves a module reference to an absolute `file:` URL. */
async function resolveModuleUrl(module: string, cwd: string, spec: string): Promise<URL> {
  if (module.startsWith(FILE_SCHEME)) {
    try {
      return new URL(module);
    } catch {
      throw new AppLoadError("spec", `invalid file: URL ${JSON.stringify(module)}`, { spec });
    }
  }
  return await moduleFileUrl(cwd, module);
}

/** Throws `not_found` unless `url` names an existing file; returns its path for messages. */
async function checkFile(url: URL, spec: string, exportName: string): Promise<string> {
  const file = url.href;
  let path: string;
  try {
    path = await fileUrlPath(url);
  } catch {
    throw new AppLoadError("spec", `${file} is not a local file URL`, { spec, file });
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new AppLoadError("not_found", `app module not found: ${path}`, {
        spec,
        file,
        exportName,
        cause: err,
      });
    }
    const why = err instanceof Error ? err.message : String(err);
    throw new AppLoadError("import", `cannot read ${path}: ${why}`, { spec, file, cause: err });
  }
  if (!info.isFile) {
    throw new AppLoadError("not_found", `app module ${path} is not a file`, {
      spec,
      file,
      exportName,
    });
  }
  return path;
}

/** Follows `api.v1` through the module namespace; throws `export` at the first missing step. */
function walkExportPath(
  mod: Record<string, unknown>,
  path: readonly string[],
  where: { spec: string; file: string; exportName: string; shown: string },
): unknown {
  let value: unknown = mod;
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    const holder = value;
    const has = holder !== null && (typeof holder === "object" || typeof holder === "function") &&
      step in holder;
    if (!has) {
      const available = i === 0 ? Object.keys(mod).sort() : keysOf(holder);
      const owner = i === 0 ? where.shown : `'${path.slice(0, i).join(".")}' in ${where.shown}`;
      const what = i > 0
        ? `no property '${step}'`
        : step === "default"
        ? "no default export"
        : `no export '${step}'`;
      const listing = available.length ? available.join(", ") : "(none)";
      throw new AppLoadError(
        "export",
        `${owner} has ${what}; it has: ${listing}` +
          (i === 0 ? hint(mod, specModule(where.spec), where.exportName) : ""),
        { spec: where.spec, file: where.file, exportName: where.exportName, available },
      );
    }
    value = (holder as Record<string, unknown>)[step];
  }
  return value;
}

/** "; did you mean 'apps/hello.ts:app'?" when exactly one export is callable. */
function hint(mod: Record<string, unknown>, module: string, asked: string): string {
  const callable = Object.keys(mod).filter((k) =>
    k !== asked && (typeof mod[k] === "function" || hasCallableFetch(mod[k]))
  );
  if (callable.length !== 1) return "";
  const name = callable[0];
  return `; did you mean '${name === "default" ? module : `${module}:${name}`}'?`;
}

function specModule(spec: string): string {
  return parseAppSpec(spec).module;
}

function hasCallableFetch(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  try {
    return typeof (value as { fetch?: unknown }).fetch === "function";
  } catch {
    return false;
  }
}

function keysOf(value: unknown): string[] {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return [];
  return Object.keys(value).sort();
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

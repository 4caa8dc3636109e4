/**
 * Checked setting values from text (command line, environment) and from the config file.
 *
 * Contract:
 * - `parseValue(row, raw, source)` turns a command-line or environment string into a value of the
 *   row's type and checks it against the row (bounds, choices); every error is a `ConfigError`
 *   naming `source`.
 * - `readConfigFile(path, readFile)` reads a JSONC file (`server/jsonc.ts`) whose top level is an
 *   object of settings. Keys are a row's camelCase `key` (`maxBodyBytes`) or its long flag or
 *   alias (`max-body-bytes`). Values must have the row's JSON type (integers, true/false, strings,
 *   arrays of strings for repeatable rows) and then pass the same row checks as `parseValue`.
 *   Errors name `path:line` and the key: unknown keys (with the closest known name), a row set
 *   twice, rows of the `config` group (`isCliOnly`), wrong types, out-of-range values, invalid JSON (`path:line:column`)
 *   and unreadable files.
 * - No I/O of its own: the caller's `readFile` reads the file. Imports the settings rows, their
 *   types and the JSONC reader only.
 */
import { SETTING_ROWS } from "./settings.ts";
import { JsoncError, parseJsonc } from "./jsonc.ts";
import type { IntSetting, Setting } from "./setting_types.ts";

const SETTINGS: readonly Setting[] = SETTING_ROWS;
/**
 * A bad command-line flag or value, environment value or config file; `main.ts` prints it and
 * exits `EXIT_USAGE`.
 */
export class ConfigError extends Error {
  /** Creates a configuration error with a user-facing message. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Reads a config file by the path given to `--config`; throws when it cannot. */
export type ReadFile = (path: string) => string;

/** Names a config file may use for each setting: its key, long flag and aliases. */
const BY_FILE_NAME = new Map<string, Setting>();
for (const s of SETTINGS) {
  for (const name of [s.key, s.flag, ...(s.aliases ?? [])]) {
    const other = BY_FILE_NAME.get(name);
    if (other && other !== s) throw new Error(`settings table: '${name}' names two settings`);
    BY_FILE_NAME.set(name, s);
  }
}

/** Whether a row may not appear in a config file (the `config` group: `--config` itself, …). */
export function isCliOnly(setting: Setting): boolean {
  return setting.group === "config";
}

/** Checks an integer against the row's inclusive bounds. */
function checkInt(setting: IntSetting, n: number, source: string): number {
  if (n < setting.min) throw new ConfigError(`${source} must be at least ${setting.min}, got ${n}`);
  if (n > setting.max) throw new ConfigError(`${source} must be at most ${setting.max}, got ${n}`);
  return n;
}

/** Parses a command-line or environment string for `setting`; `source` names it in errors. */
export function parseValue(setting: Setting, raw: string, source: string): unknown {
  switch (setting.type) {
    case "int": {
      if (!/^[0-9]+$/.test(raw)) {
        throw new ConfigError(`${source} expects a non-negative integer, got '${raw}'`);
      }
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${source}: '${raw}' is too large`);
      return checkInt(setting, n, source);
    }
    case "enum":
      if (!setting.choices.includes(raw)) {
        throw new ConfigError(
          `${source} must be one of ${setting.choices.join(", ")}, got '${raw}'`,
        );
      }
      return raw;
    case "bool":
      if (["1", "true", "yes", "on", ""].includes(raw)) return true;
      if (["0", "false", "no", "off"].includes(raw)) return false;
      throw new ConfigError(`${source} expects true or false, got '${raw}'`);
    default:
      return raw;
  }
}

/** The JSON type of a value, for error messages (`string`, `array`, `null`, or the number). */
function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return String(v);
  return typeof v;
}

/** Checks a config file value against its row: JSON type first, then the row's own checks. */
function fileValue(setting: Setting, v: unknown, source: string): unknown {
  const expected = (what: string) =>
    new ConfigError(`${source}: expected ${what}, got ${jsonType(v)}`);
  if (setting.repeat) {
    if (!Array.isArray(v)) throw expected("an array of strings");
    return v.map((item, i) => {
      if (typeof item !== "string") {
        throw new ConfigError(`${source}[${i}]: expected a string, got ${jsonType(item)}`);
      }
      return parseValue(setting, item, `${source}[${i}]`);
    });
  }
  switch (setting.type) {
    case "int":
      if (typeof v !== "number" || !Number.isInteger(v)) throw expected("an integer");
      return checkInt(setting, v, source);
    case "bool":
      if (typeof v !== "boolean") throw expected("true or false");
      return v;
    case "enum":
      if (typeof v !== "string") throw expected(`one of ${setting.choices.join(", ")}`);
      return parseValue(setting, v, source);
    default:
      if (typeof v !== "string") throw expected("a string");
      return parseValue(setting, v, source);
  }
}

/** Levenshtein distance between two strings. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * The known config file name closest to `name` (ignoring case, `-` and `_`), written in the same
 * style (flag names when `name` has a `-`, keys otherwise), or null when nothing is close.
 */
export function closestSettingName(name: string): string | null {
  const norm = (x: string) => x.toLowerCase().replace(/[-_]/g, "");
  const dashed = name.includes("-");
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const s of SETTINGS) {
    if (isCliOnly(s)) continue;
    for (const cand of dashed ? [s.flag, ...(s.aliases ?? [])] : [s.key]) {
      const d = editDistance(norm(name), norm(cand));
      if (d < bestDistance) [best, bestDistance] = [cand, d];
    }
  }
  // Never a name that shares nothing with the typo (e.g. `io` for `p`).
  const n = norm(name).length;
  return bestDistance <= Math.max(2, Math.floor(n / 3)) && bestDistance < n ? best : null;
}

/** Reads and checks a config file: the value and line of each setting it sets, by key. */
export function readConfigFile(
  path: string,
  readFile: ReadFile,
): Map<string, { value: unknown; line: number }> {
  let text;
  try {
    text = readFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`cannot read config file ${path}: ${why}`);
  }
  let doc;
  try {
    doc = parseJsonc(text);
  } catch (err) {
    if (!(err instanceof JsoncError)) throw err;
    throw new ConfigError(`${path}:${err.line}:${err.column}: invalid JSON: ${err.reason}`);
  }
  const v = doc.value;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError(`${path}: expected a JSON object of settings, got ${jsonType(v)}`);
  }
  const out = new Map<string, { value: unknown; line: number }>();
  const nameOf = new Map<string, string>();
  for (const [name, raw] of Object.entries(v)) {
    const line = doc.keyLines.get(name) ?? 1;
    const at = `${path}:${line}`;
    const setting = BY_FILE_NAME.get(name);
    if (!setting) {
      const near = closestSettingName(name);
      const hint = near ? ` (did you mean ${near}?)` : " (see --help)";
      throw new ConfigError(`${at}: unknown setting '${name}'${hint}`);
    }
    if (isCliOnly(setting)) {
      const env = setting.env ? ` or $${setting.env}` : "";
      throw new ConfigError(
        `${at}: '${name}' cannot be set in a config file, only by --${setting.flag}${env}`,
      );
    }
    const other = nameOf.get(setting.key);
    if (other !== undefined) {
      throw new ConfigError(
        `${at}: '${name}' sets ${setting.key} again (already set as '${other}')`,
      );
    }
    nameOf.set(setting.key, name);
    out.set(setting.key, { value: fileValue(setting, raw, `${at}: ${name}`), line });
  }
  return out;
}

/** The default `ReadFile`: refuses, for callers of `parseCli` that pass no reader. */
export function noFileReader(path: string): string {
  throw new ConfigError(`cannot read config file ${path}: no file reader given`);
}

/**
 * The configuration: its type, defaults, command-line parsing, `--help` and the README settings
 * table, all derived from the settings table in `server/settings.ts`.
 *
 * Contract:
 * - The rows of `server/settings.ts` (`SETTINGS` here) are the single source of truth: the
 *   `Config` type (a mapped type over the rows' `key` and `type` tag), `Limits` (rows marked
 *   `parserLimit`), `DEFAULTS`, `parseCli`, `helpText()` and the README's settings table
 *   (checked by `tests/cli/readme_test.ts`) are all derived from them.
 * - Units are part of every name (`maxHeadBytes`, `keepAliveTimeoutMs`).
 * - `parseCli(args, env)` never touches `Deno.*`; the caller passes arguments and the environment.
 *   Bad input throws `ConfigError`, which `main.ts` maps to exit code `EXIT_USAGE`.
 * - This module imports only `server/settings.ts` and does no I/O.
 */
import { SETTING_ROWS } from "./settings.ts";

export type {
  BoolSetting,
  EnumSetting,
  IntSetting,
  ListSetting,
  Setting,
  SettingGroup,
  SettingType,
  StringSetting,
} from "./setting_types.ts";
import type { Setting } from "./setting_types.ts";

/** The settings table: one row per `Config` field, in `--help` order (see the module comment). */
export const SETTINGS: readonly Setting[] = SETTING_ROWS;

/** One row of `SETTINGS`, with its literal types. */
type Row = typeof SETTING_ROWS[number];

/** The value type a row declares through its `type` tag (and `choices`, `repeat`). */
type ValueOf<R extends Setting> = R extends { readonly type: "int" } ? number
  : R extends { readonly type: "bool" } ? boolean
  : R extends { readonly type: "enum"; readonly choices: readonly (infer C)[] } ? C
  : R extends { readonly repeat: true } ? string[]
  : string;

/** The full, validated server configuration: one field per row of `SETTINGS`. */
export type Config = { [R in Row as R["key"]]: ValueOf<R> };

/** Names of the settings handed to the sans-IO parser (rows with `parserLimit`). */
export type LimitKey = Extract<Row, { readonly parserLimit: true }>["key"];

/** Size limits handed to the sans-IO parser (a subset of `Config`). */
export type Limits = { readonly [K in LimitKey]: Config[K] };

/** Keys of `Limits`, in table order. */
export const LIMIT_KEYS: readonly LimitKey[] = SETTING_ROWS.flatMap((s) =>
  "parserLimit" in s && s.parserLimit ? [s.key] : []
);

/** Default values for every setting (frozen), read from the rows. */
export const DEFAULTS: Readonly<Config> = Object.freeze(
  Object.fromEntries(
    SETTING_ROWS.map((s) => [s.key, Array.isArray(s.default) ? [...s.default] : s.default]),
  ) as Config,
);

/** The inclusive bounds of an integer setting (throws for a setting of another type). */
export function boundsOf(key: keyof Config): { readonly min: number; readonly max: number } {
  const row = SETTINGS.find((s) => s.key === key);
  if (row?.type !== "int") throw new TypeError(`${key} is not an integer setting`);
  return { min: row.min, max: row.max };
}

/** Exit code for a command-line usage error (bad flag or value). */
export const EXIT_USAGE = 2;
/** Exit code when the server cannot start (address in use, bad certificate, workers failing at boot). */
export const EXIT_BOOT_ERROR = 3;
/** Exit code when the app cannot be loaded (bad spec, missing file or export). */
export const EXIT_APP_LOAD_ERROR = 4;

/** A bad command-line flag or value; `main.ts` prints it with a usage hint and exits `EXIT_USAGE`. */
export class ConfigError extends Error {
  /** Creates a configuration error with a user-facing message. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The result of parsing the command line. */
export type CliResult =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; config: Config; appSpec: string };

const BY_FLAG = new Map<string, Setting>();
for (const s of SETTINGS) {
  BY_FLAG.set(s.flag, s);
  if (s.short) BY_FLAG.set(s.short, s);
  for (const a of s.aliases ?? []) BY_FLAG.set(a, s);
}

function parseValue(setting: Setting, raw: string, source: string): unknown {
  switch (setting.type) {
    case "int": {
      if (!/^[0-9]+$/.test(raw)) {
        throw new ConfigError(`${source} expects a non-negative integer, got '${raw}'`);
      }
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${source}: '${raw}' is too large`);
      if (n < setting.min) {
        throw new ConfigError(`${source} must be at least ${setting.min}, got ${n}`);
      }
      if (n > setting.max) {
        throw new ConfigError(`${source} must be at most ${setting.max}, got ${n}`);
      }
      return n;
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

/**
 * Parses command-line arguments (and the environment variables named in `SETTINGS`) into a
 * `Config`. Accepts `--flag value`, `--flag=value`, `-x value`, `--no-<bool>`, `--help`/`-h`,
 * `--version`/`-V` and one positional `module:export` app spec.
 */
export function parseCli(args: readonly string[], env: Record<string, string> = {}): CliResult {
  const config: Record<string, unknown> = { ...DEFAULTS, bind: [] };
  const seen = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    if (arg === "--version" || arg === "-V") return { kind: "version" };
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    let name = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    let inline: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let setting = BY_FLAG.get(name);
    let negated = false;
    if (!setting && name.startsWith("no-")) {
      const s = BY_FLAG.get(name.slice(3));
      if (s?.type === "bool") {
        setting = s;
        negated = true;
      }
    }
    if (!setting || (!arg.startsWith("--") && setting.short !== name)) {
      throw new ConfigError(`unknown option '${arg}' (see --help)`);
    }
    let raw: string;
    if (setting.type === "bool") {
      raw = negated ? "false" : inline ?? "true";
    } else if (inline !== undefined) {
      raw = inline;
    } else {
      if (i + 1 >= args.length) throw new ConfigError(`option '${arg}' needs a value`);
      raw = args[++i];
    }
    const value = parseValue(setting, raw, `--${setting.flag}`);
    // A fresh list each time: the default list is shared (DEFAULTS).
    if (setting.repeat) config[setting.key] = [...config[setting.key] as unknown[], value];
    else config[setting.key] = value;
    seen.add(setting.key);
  }
  for (const s of SETTINGS) {
    if (s.env && !seen.has(s.key) && env[s.env] !== undefined && env[s.env] !== "") {
      config[s.key] = parseValue(s, env[s.env], `$${s.env}`);
    }
  }
  if (positional.length === 0) {
    throw new ConfigError("missing app spec: lsbaws [options] path/to/app.ts[:export]");
  }
  if (positional.length > 1) {
    throw new ConfigError(
      `expected one app spec, got ${positional.length}: ${positional.join(" ")}`,
    );
  }
  const c = config as unknown as Config;
  // The PORT convention (Heroku, Cloud Run, gunicorn): a port given only through $PORT means
  // "listen on every interface", unless --host or --bind says otherwise.
  if (!seen.has("port") && !seen.has("host") && env.PORT && c.bind.length === 0) {
    c.host = "0.0.0.0";
  }
  if (c.workers > 1 && c.bind.some((b) => b.startsWith("unix:"))) {
    throw new ConfigError(
      "--bind unix:... cannot be shared by --workers > 1: SO_REUSEPORT does not apply to unix " +
        "sockets and Deno cannot hand a listening socket to child processes; bind TCP instead",
    );
  }
  if ((c.certfile === "") !== (c.keyfile === "")) {
    throw new ConfigError("--certfile and --keyfile must be given together");
  }
  if (c.maxRequestLineBytes > c.maxHeadBytes) {
    throw new ConfigError("--max-request-line-bytes cannot exceed --max-head-bytes");
  }
  if (c.healthPath !== "" && !c.healthPath.startsWith("/")) {
    throw new ConfigError("--health-path must start with '/'");
  }
  if (c.metricsPath !== "" && (!c.metricsPath.startsWith("/") || c.metricsPath === c.healthPath)) {
    throw new ConfigError("--metrics-path must start with '/' and differ from --health-path");
  }
  if (c.rootPath !== "" && (!c.rootPath.startsWith("/") || c.rootPath.endsWith("/"))) {
    throw new ConfigError("--root-path must start with '/' and not end with '/'");
  }
  return { kind: "run", config: Object.freeze(c) as Config, appSpec: positional[0] };
}

function describeDefault(s: Setting): string {
  const v = s.default;
  if (Array.isArray(v)) return v.length ? v.join(",") : "none";
  if (v === "") return "empty";
  return String(v);
}

/** Renders `--help` from the settings table. */
export function helpText(version: string): string {
  const lines = [
    `lsbaws ${version}: a strict HTTP/1.1 server for gateway and fetch apps`,
    "",
    "usage: lsbaws [options] path/to/app.ts[:export[.sub]]",
    "",
    "The app spec is a module path (relative to the current directory, absolute, or a file: URL)",
    "and an optional export name (default: the default export; dots reach nested properties).",
    "",
  ];
  let group = "";
  for (const s of SETTINGS) {
    if (s.group !== group) {
      group = s.group;
      lines.push(`${group}:`);
    }
    const short = s.short ? `-${s.short}, ` : "    ";
    const val = s.type === "bool" ? "" : s.type === "enum" ? ` ${s.choices.join("|")}` : " VALUE";
    const env = s.env ? ` [$${s.env}]` : "";
    const aliases = (s.aliases ?? []).map((a) => `, --${a}`).join("");
    lines.push(`  ${short}--${s.flag}${val}${aliases}`);
    lines.push(`        ${s.doc} (default: ${describeDefault(s)})${env}`);
  }
  lines.push("", "  -h, --help      show this help", "  -V, --version   show the version");
  lines.push(
    "",
    `exit codes: 0 ok, 1 runtime error, ${EXIT_USAGE} usage error, ${EXIT_BOOT_ERROR} boot error, ${EXIT_APP_LOAD_ERROR} app load error`,
  );
  return lines.join("\n");
}

/** Extracts the parser `Limits` (the rows marked `parserLimit`) from a `Config`. */
export function limitsOf(config: Config): Limits {
  const limits: Partial<Record<keyof Limits, number>> = {};
  for (const key of LIMIT_KEYS) limits[key] = config[key];
  return limits as Limits;
}

/** Renders the README's settings table (Markdown) from the settings table. */
export function settingsTable(): string {
  const rows = ["| flag | env | default | meaning |", "|---|---|---|---|"];
  for (const s of SETTINGS) {
    const names = [`\`--${s.flag}\``];
    if (s.short) names.push(`\`-${s.short}\``);
    for (const a of s.aliases ?? []) names.push(`\`--${a}\``);
    const env = s.env ? `\`$${s.env}\`` : "";
    rows.push(
      `| ${names.join(" / ")} | ${env} | \`${describeDefault(s)}\` | ${
        s.doc.replaceAll("|", "\\|")
      } |`,
    );
  }
  return rows.join("\n");
}

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
 * - `parseCli(args, env, readFile)` never touches `Deno.*`; the caller passes arguments, the
 *   environment and a function reading the config file. Bad input throws `ConfigError`, which
 *   `main.ts` maps to exit code `EXIT_USAGE`.
 * - Layers, per setting: command line > environment > config file (`--config`, JSONC, see
 *   `server/jsonc.ts`) > default. A list setting (`bind`) takes its whole list from the highest
 *   layer that sets it: flags replace the file's list, they do not extend it. Every value is
 *   checked by the same row validation (type, bounds, choices) whichever layer it comes from,
 *   and `sources` records the layer (`--print-config` shows it).
 * - Config file keys are a row's camelCase `key` (`maxBodyBytes`) or its long flag or alias
 *   (`max-body-bytes`); see `server/config_file.ts` for what the file may hold.
 * - `DENO_SERVE_ADDRESS` (`deno serve`'s, see `parseServeAddress` in `server/address.ts`)
 *   replaces the listen addresses whatever layer set them, as it does for `Deno.serve`; with
 *   `duplicate,` it is added to them (to `--host`/`--port` when no `--bind` is set). A value lsbaws
 *   cannot serve is a `ConfigError`. `--bind fd://N` (descriptors handed in) wins over it.
 * - This module imports the settings table, the file layer (`server/config_file.ts`) and the
 *   parsers of the values it checks (`server/access_format.ts`, `server/http/header_lines.ts`,
 *   `server/address.ts`), and does no I/O.
 */
import { AccessFormatError, compileAccessFormat } from "./access_format.ts";
import { bindSpecOf, parseServeAddress } from "./address.ts";
import { parseDefaultHeaders } from "./http/header_lines.ts";
import { SETTING_ROWS } from "./settings.ts";
import {
  ConfigError,
  isCliOnly,
  noFileReader,
  parseValue,
  readConfigFile,
  type ReadFile,
} from "./config_file.ts";

export { closestSettingName, ConfigError, isCliOnly, type ReadFile } from "./config_file.ts";

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

/** Where a setting's effective value came from. */
export type SettingSource =
  | { readonly kind: "default" }
  | { readonly kind: "env"; readonly name: string }
  | { readonly kind: "file"; readonly path: string; readonly line: number }
  | { readonly kind: "cli"; readonly flag: string };

/** The layer each setting's value came from, by `Config` key. */
export type Sources = { readonly [K in keyof Config]: SettingSource };

/** The result of parsing the command line. */
export type CliResult =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; config: Config; appSpec: string; sources: Sources }
  | { kind: "print-config"; config: Config; appSpec: string | null; sources: Sources };

const BY_FLAG = new Map<string, Setting>();
for (const s of SETTINGS) {
  BY_FLAG.set(s.flag, s);
  if (s.short) BY_FLAG.set(s.short, s);
  for (const a of s.aliases ?? []) BY_FLAG.set(a, s);
}

/**
 * Parses command-line arguments, the environment variables named in `SETTINGS` and the config
 * file (`--config` / its env, read with `readFile`) into a `Config`, layered as the module
 * comment says. Accepts `--flag value`, `--flag=value`, `-x value`, `--no-<bool>`, `--help`/`-h`,
 * `--version`/`-V` and one positional `module:export` app spec (optional with `--print-config`).
 */
export function parseCli(
  args: readonly string[],
  env: Record<string, string> = {},
  readFile: ReadFile = noFileReader,
): CliResult {
  const cli = new Map<string, { value: unknown; flag: string }>();
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
    const flag = `--${setting.flag}`;
    const value = parseValue(setting, raw, flag);
    const list = setting.repeat ? (cli.get(setting.key)?.value ?? []) as unknown[] : null;
    cli.set(setting.key, { value: list ? [...list, value] : value, flag });
  }
  const fromEnv = new Map<string, { value: unknown; name: string }>();
  for (const s of SETTINGS) {
    if (s.env && !cli.has(s.key) && env[s.env] !== undefined && env[s.env] !== "") {
      const value = parseValue(s, env[s.env], `$${s.env}`);
      fromEnv.set(s.key, { value: s.repeat ? [value] : value, name: s.env });
    }
  }
  const path = ((cli.get("config") ?? fromEnv.get("config"))?.value ?? "") as string;
  const fromFile = path ? readConfigFile(path, readFile) : new Map<string, never>();
  const config: Record<string, unknown> = {};
  const sources: Record<string, SettingSource> = {};
  for (const s of SETTINGS) {
    const c = cli.get(s.key);
    const e = fromEnv.get(s.key);
    const f = fromFile.get(s.key);
    if (c) [config[s.key], sources[s.key]] = [c.value, { kind: "cli", flag: c.flag }];
    else if (e) [config[s.key], sources[s.key]] = [e.value, { kind: "env", name: e.name }];
    else if (f) [config[s.key], sources[s.key]] = [f.value, { kind: "file", path, line: f.line }];
    else {
      config[s.key] = Array.isArray(s.default) ? [...s.default] : s.default;
      sources[s.key] = { kind: "default" };
    }
  }
  const c = config as unknown as Config;
  const printing = c.printConfig;
  if (positional.length === 0 && !printing) {
    throw new ConfigError("missing app spec: lsbaws [options] path/to/app.ts[:export]");
  }
  if (positional.length > 1) {
    throw new ConfigError(
      `expected one app spec, got ${positional.length}: ${positional.join(" ")}`,
    );
  }
  // The PORT convention (Heroku, Cloud Run, gunicorn): a port given only through $PORT means
  // "listen on every interface", unless --host or --bind (or the config file) says otherwise.
  if (
    sources.port.kind === "env" && sources.host.kind === "default" && c.bind.length === 0
  ) {
    c.host = "0.0.0.0";
    sources.host = sources.port;
  }
  // `deno serve`'s DENO_SERVE_ADDRESS, set by tools that launch a Deno server to say where it must
  // listen: as in Deno, it replaces the configured addresses (flags included), or with
  // `duplicate,` is served besides them. Descriptors handed in (`--bind fd://N`) win over it.
  const serveAddress = env.DENO_SERVE_ADDRESS;
  const handedIn = c.bind.some((b) => b.startsWith("fd://"));
  if (serveAddress !== undefined && serveAddress !== "" && !handedIn) {
    let extra;
    try {
      extra = parseServeAddress(serveAddress);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    if (!extra.duplicate) c.bind = [extra.bind];
    else if (c.bind.length > 0) c.bind = [...c.bind, extra.bind];
    else c.bind = [bindSpecOf({ transport: "tcp", hostname: c.host, port: c.port }), extra.bind];
    sources.bind = { kind: "env", name: "DENO_SERVE_ADDRESS" };
  }
  if ((c.certfile === "") !== (c.keyfile === "")) {
    throw new ConfigError("--certfile and --keyfile must be given together");
  }
  if (c.proxyProtocol !== "off" && c.certfile !== "") {
    throw new ConfigError(
      "--proxy-protocol cannot be used with --certfile: the PROXY header precedes the TLS " +
        "handshake, which Deno performs before lsbaws sees a byte (terminate TLS in the proxy)",
    );
  }
  if (c.initgroups && c.user === "") {
    throw new ConfigError("--initgroups needs --user: it gives the workers that user's groups");
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
  if (!["common", "json", "logfmt"].includes(c.accessLogFormat)) {
    try {
      compileAccessFormat(c.accessLogFormat);
    } catch (err) {
      if (err instanceof AccessFormatError) throw new ConfigError(err.message);
      throw err;
    }
  }
  if (!/^0?[0-7]{3}$/.test(c.unixSocketMode)) {
    throw new ConfigError(
      `--unix-socket-mode must be three octal digits (600, 660, 666), got '${c.unixSocketMode}'`,
    );
  }
  try {
    parseDefaultHeaders(c.header);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (c.umask !== "" && !/^0?[0-7]{1,3}$/.test(c.umask)) {
    throw new ConfigError(
      `--umask must be one to three octal digits (022, 027, 077), got '${c.umask}'`,
    );
  }
  if (c.rootPath !== "" && (!c.rootPath.startsWith("/") || c.rootPath.endsWith("/"))) {
    throw new ConfigError("--root-path must start with '/' and not end with '/'");
  }
  const frozen = Object.freeze(c) as Config;
  const src = Object.freeze(sources) as Sources;
  if (printing) {
    return { kind: "print-config", config: frozen, appSpec: positional[0] ?? null, sources: src };
  }
  return { kind: "run", config: frozen, appSpec: positional[0], sources: src };
}

/** How `--print-config` names a source: `default`, `env PORT`, `file a.jsonc:3`, `cli --port`. */
export function describeSource(s: SettingSource): string {
  switch (s.kind) {
    case "default":
      return "default";
    case "env":
      return `env ${s.name}`;
    case "file":
      return `file ${s.path}:${s.line}`;
    case "cli":
      return `cli ${s.flag}`;
  }
}

/**
 * Renders `--print-config`: the effective settings as a JSONC object (usable as a config file),
 * one setting per line with its source as a trailing comment; rows that cannot be in a file
 * (`isCliOnly`) become header
 * comments.
 */
export function printConfigText(
  r: { config: Config; sources: Sources; appSpec: string | null },
  version: string,
): string {
  const cfg = r.config as unknown as Record<string, unknown>;
  const src = r.sources as Record<string, SettingSource>;
  const head = [`// lsbaws ${version}: effective settings (app: ${r.appSpec ?? "none"})`];
  const body: [string, string][] = [];
  for (const s of SETTINGS) {
    const value = JSON.stringify(shownValue(s, cfg[s.key]));
    if (isCliOnly(s)) {
      head.push(`// ${s.key}: ${value} (${describeSource(src[s.key])})`);
    } else {
      const line = `  ${JSON.stringify(s.key)}: ${value},`;
      body.push([line, describeSource(src[s.key])]);
    }
  }
  const width = Math.max(...body.map(([l]) => l.length)) + 1;
  const lines = body.map(([l, why]) => `${l.padEnd(width)}// ${why}`);
  return [...head, "{", ...lines, "}"].join("\n");
}

/**
 * A setting's value as lsbaws prints it (`--print-config`, the HUP change line, the control
 * socket's `show config`): of a secret, only whether it is set ("<hidden>"), never the value.
 */
export function shownValue(s: Setting, value: unknown): unknown {
  return s.secret && value !== "" ? "<hidden>" : value;
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
    "       lsbaws ctl [-s PATH] [--json] COMMAND...   (a --control-socket client; ctl --help)",
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

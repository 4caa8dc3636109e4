/**
 * Every lsbaws setting, limit and default lives in one declarative table, `SETTINGS`.
 *
 * Contract:
 * - `SETTINGS` is the single source of truth. `DEFAULTS`, `parseCli`, `helpText()` and the README's
 *   settings table (checked by `tests/cli/readme_test.ts`) are all derived from it.
 * - Units are part of every name (`maxHeadBytes`, `keepAliveTimeoutMs`).
 * - `parseCli(args, env)` never touches `Deno.*`; the caller passes arguments and the environment.
 *   Bad input throws `ConfigError`, which `main.ts` maps to exit code `EXIT_USAGE`.
 * - This module imports nothing.
 */

/** How a setting's value is parsed from the command line. */
export type SettingType = "int" | "string" | "bool" | "enum";

/** One row of the settings table. */
export interface Setting {
  /** Field name in `Config` (camelCase, units in the name). */
  readonly key: keyof Config;
  /** Long CLI flag without the leading dashes. */
  readonly flag: string;
  /** Optional one-letter alias. */
  readonly short?: string;
  /** Other long flags accepted for this setting (e.g. names familiar from gunicorn). */
  readonly aliases?: readonly string[];
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  /** Value type. */
  readonly type: SettingType;
  /** Allowed values for `enum` settings. */
  readonly choices?: readonly string[];
  /** Inclusive bounds for `int` settings. */
  readonly min?: number;
  /** Inclusive upper bound for `int` settings. */
  readonly max?: number;
  /** Whether the flag may be repeated (values collected into a list). */
  readonly repeat?: boolean;
  /** One line of documentation, used by `--help` and the README. */
  readonly doc: string;
  /** Section heading used to group `--help` output. */
  readonly group: "listen" | "limits" | "timeouts" | "app" | "logging" | "workers" | "proxy";
}

/** Size limits handed to the sans-IO parser (a subset of `Config`). */
export interface Limits {
  /** Longest request line accepted, CRLF excluded (414 beyond). */
  readonly maxRequestLineBytes: number;
  /** Largest request head (request line plus header block) accepted (431 beyond). */
  readonly maxHeadBytes: number;
  /** Most header fields accepted in one request (431 beyond). */
  readonly maxHeaderCount: number;
  /** Largest request body accepted (413 beyond). */
  readonly maxBodyBytes: number;
  /** Longest chunk-size line including extensions (400 beyond). */
  readonly maxChunkLineBytes: number;
  /** Largest trailer section of a chunked body (431 beyond). */
  readonly maxTrailerBytes: number;
}

/** The full, validated server configuration. */
export interface Config extends Limits {
  /** Interface to bind. */
  host: string;
  /** TCP port; 0 picks a free port. */
  port: number;
  /** Additional `host:port`, `[v6]:port` or `unix:/path` addresses (repeatable `--bind`). */
  bind: string[];
  /** Unread request body bytes drained before reusing a connection; beyond this the connection closes. */
  maxDrainBytes: number;
  /** Size of each connection's socket read buffer. */
  readBufferBytes: number;
  /** Time allowed to receive a complete request head once its first byte arrived (slowloris guard). */
  headersTimeoutMs: number;
  /** Idle time allowed between requests on a persistent connection. */
  keepAliveTimeoutMs: number;
  /** Longest wait for the next piece of a request body. */
  bodyTimeoutMs: number;
  /** Time in-flight requests get to finish after SIGTERM/SIGINT before connections are cut. */
  shutdownGraceMs: number;
  /** Time a stopping server keeps accepting (health 503, `Connection: close`) before it stops. */
  shutdownDelayMs: number;
  /** Calling convention of the app. */
  interface: "auto" | "gateway" | "fetch";
  /** Wrap a gateway app in the contract validator. */
  validate: boolean;
  /** Access log destination: "" (off), "-" (stdout) or a file path. */
  accessLog: string;
  /** Access log line format. */
  accessLogFormat: "common" | "json";
  /** Minimum level written to the error log (stderr). */
  logLevel: "debug" | "info" | "warning" | "error" | "critical";
  /** Value of the `Server` response header; empty string omits it. */
  serverHeader: string;
  /** Number of worker processes (1 = serve in this process). */
  workers: number;
  /** Worker heartbeat timeout in seconds (0 disables). */
  timeout: number;
  /** Time a new worker gets to load the app and listen before it is killed (0 = no limit). */
  bootTimeoutMs: number;
  /** Recycle a worker after this many requests (0 disables). */
  maxRequests: number;
  /** Random extra requests added to `maxRequests` per worker. */
  maxRequestsJitter: number;
  /** Most in-flight requests per worker before answering 503 (0 = unlimited). */
  limitConcurrency: number;
  /** Listen backlog passed to the kernel. */
  backlog: number;
  /** Socket backend: libc (epoll through FFI), deno (`Deno.listen`), or auto (libc when it can). */
  io: "auto" | "libc" | "deno";
  /** PEM certificate file; enables TLS with `keyfile`. */
  certfile: string;
  /** PEM private key file. */
  keyfile: string;
  /** Peers trusted to set X-Forwarded-* and Forwarded (comma list, CIDR, `*`). */
  forwardedAllowIps: string;
  /** Mount prefix exposed as SCRIPT_NAME. */
  rootPath: string;
  /** Path answered by the server itself with 200 while serving, 503 once shutdown starts. */
  healthPath: string;
}

/** The settings table: one entry per `Config` field. */
export const SETTINGS: readonly Setting[] = Object.freeze(
  [
    // listen
    { key: "host", flag: "host", type: "string", doc: "Interface to bind.", group: "listen" },
    {
      key: "port",
      flag: "port",
      short: "p",
      env: "PORT",
      type: "int",
      min: 0,
      max: 65535,
      doc: "TCP port to listen on; 0 picks a free port and prints it.",
      group: "listen",
    },
    {
      key: "bind",
      flag: "bind",
      short: "b",
      type: "string",
      repeat: true,
      doc: "Extra address to listen on: host:port, [::1]:port or unix:/path (repeatable).",
      group: "listen",
    },
    {
      key: "backlog",
      flag: "backlog",
      type: "int",
      min: 1,
      max: 65535,
      doc: "Listen backlog (pending connections queued by the kernel).",
      group: "listen",
    },
    {
      key: "io",
      flag: "io",
      env: "LSBAWS_IO",
      type: "enum",
      choices: ["auto", "libc", "deno"],
      doc: "Socket backend: libc (epoll via FFI; Linux), deno (Deno.listen), or auto.",
      group: "listen",
    },
    {
      key: "certfile",
      flag: "certfile",
      type: "string",
      doc: "PEM certificate chain; together with --keyfile serves HTTPS.",
      group: "listen",
    },
    {
      key: "keyfile",
      flag: "keyfile",
      type: "string",
      doc: "PEM private key for --certfile.",
      group: "listen",
    },
    // limits
    {
      key: "maxRequestLineBytes",
      flag: "max-request-line-bytes",
      type: "int",
      min: 64,
      max: 1 << 20,
      doc: "Longest request line accepted (414 beyond).",
      group: "limits",
    },
    {
      key: "maxHeadBytes",
      flag: "max-head-bytes",
      type: "int",
      min: 256,
      max: 1 << 24,
      doc: "Largest request line plus header block accepted (431 beyond).",
      group: "limits",
    },
    {
      key: "maxHeaderCount",
      flag: "max-header-count",
      type: "int",
      min: 1,
      max: 32768,
      doc: "Most header fields in one request (431 beyond).",
      group: "limits",
    },
    {
      key: "maxBodyBytes",
      flag: "max-body-bytes",
      type: "int",
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      doc: "Largest request body (413; checked before reading when Content-Length is known).",
      group: "limits",
    },
    {
      key: "maxChunkLineBytes",
      flag: "max-chunk-line-bytes",
      type: "int",
      min: 16,
      max: 1 << 20,
      doc: "Longest chunk-size line including extensions (400 beyond).",
      group: "limits",
    },
    {
      key: "maxTrailerBytes",
      flag: "max-trailer-bytes",
      type: "int",
      min: 0,
      max: 1 << 24,
      doc: "Largest trailer section of a chunked request body (431 beyond).",
      group: "limits",
    },
    {
      key: "maxDrainBytes",
      flag: "max-drain-bytes",
      type: "int",
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      doc: "Unread body bytes discarded to keep a connection alive; beyond this it is closed.",
      group: "limits",
    },
    {
      key: "readBufferBytes",
      flag: "read-buffer-bytes",
      type: "int",
      min: 1024,
      max: 1 << 24,
      doc: "Size of each socket read.",
      group: "limits",
    },
    {
      key: "limitConcurrency",
      flag: "limit-concurrency",
      type: "int",
      min: 0,
      max: 1 << 30,
      doc: "In-flight requests per worker before answering 503 with Retry-After (0 = no limit).",
      group: "limits",
    },
    // timeouts
    {
      key: "headersTimeoutMs",
      flag: "headers-timeout-ms",
      type: "int",
      min: 1,
      max: 3_600_000,
      doc: "Time to receive a whole request head once it started (slowloris guard; 408).",
      group: "timeouts",
    },
    {
      key: "keepAliveTimeoutMs",
      flag: "keep-alive-timeout-ms",
      type: "int",
      min: 1,
      max: 3_600_000,
      doc: "Idle time allowed between requests on a persistent connection.",
      group: "timeouts",
    },
    {
      key: "bodyTimeoutMs",
      flag: "body-timeout-ms",
      type: "int",
      min: 1,
      max: 3_600_000,
      doc: "Longest wait for the next bytes of a request body.",
      group: "timeouts",
    },
    {
      key: "shutdownGraceMs",
      flag: "shutdown-grace-ms",
      aliases: ["graceful-timeout-ms"],
      type: "int",
      min: 0,
      max: 3_600_000,
      doc: "Grace period for in-flight requests after SIGTERM/SIGINT (graceful timeout).",
      group: "timeouts",
    },
    {
      key: "shutdownDelayMs",
      flag: "shutdown-delay-ms",
      type: "int",
      min: 0,
      max: 3_600_000,
      doc:
        "After SIGTERM/SIGINT keep accepting this long (health path 503) so balancers drain first.",
      group: "timeouts",
    },
    // app
    {
      key: "interface",
      flag: "interface",
      type: "enum",
      choices: ["auto", "gateway", "fetch"],
      doc: "Calling convention: gateway (environ, startResponse), fetch (request, info) or auto.",
      group: "app",
    },
    {
      key: "validate",
      flag: "validate",
      type: "bool",
      doc: "Check every gateway contract rule on both sides (like wsgiref.validate).",
      group: "app",
    },
    {
      key: "rootPath",
      flag: "root-path",
      type: "string",
      doc: "Mount prefix reported as SCRIPT_NAME and stripped from PATH_INFO.",
      group: "app",
    },
    {
      key: "healthPath",
      flag: "health-path",
      type: "string",
      doc:
        "Path answered by lsbaws itself: 200 while serving, 503 once shutdown starts (off if empty).",
      group: "app",
    },
    {
      key: "serverHeader",
      flag: "server-header",
      type: "string",
      doc: "Value of the Server response header (empty omits it).",
      group: "app",
    },
    // logging
    {
      key: "accessLog",
      flag: "access-log",
      type: "string",
      doc: "Access log: '-' for stdout, a file path, or empty for none.",
      group: "logging",
    },
    {
      key: "accessLogFormat",
      flag: "access-log-format",
      type: "enum",
      choices: ["common", "json"],
      doc: "Access log line format.",
      group: "logging",
    },
    {
      key: "logLevel",
      flag: "log-level",
      type: "enum",
      choices: ["debug", "info", "warning", "error", "critical"],
      doc: "Lowest level written to the error log (stderr).",
      group: "logging",
    },
    // workers
    {
      key: "workers",
      flag: "workers",
      short: "w",
      env: "WEB_CONCURRENCY",
      type: "int",
      min: 1,
      max: 1024,
      doc:
        "Worker processes sharing the port (1 serves in this process unless --max-requests is set).",
      group: "workers",
    },
    {
      key: "timeout",
      flag: "timeout",
      type: "int",
      min: 0,
      max: 86_400,
      doc: "Seconds a worker's event loop may stay blocked before it is killed (0 disables).",
      group: "workers",
    },
    {
      key: "bootTimeoutMs",
      flag: "boot-timeout-ms",
      type: "int",
      min: 0,
      max: 3_600_000,
      doc: "Time a new worker gets to load the app and listen before it is killed (0 = no limit).",
      group: "workers",
    },
    {
      key: "maxRequests",
      flag: "max-requests",
      type: "int",
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      doc: "Recycle a worker gracefully after this many requests (0 disables).",
      group: "workers",
    },
    {
      key: "maxRequestsJitter",
      flag: "max-requests-jitter",
      type: "int",
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      doc: "Random extra requests added to --max-requests per worker.",
      group: "workers",
    },
    // proxy
    {
      key: "forwardedAllowIps",
      flag: "forwarded-allow-ips",
      env: "FORWARDED_ALLOW_IPS",
      type: "string",
      doc: "Peers trusted for X-Forwarded-* and Forwarded: comma list of IPs, CIDRs or '*'.",
      group: "proxy",
    },
  ] satisfies Setting[],
);

/** Default values for every setting (frozen). */
export const DEFAULTS: Readonly<Config> = Object.freeze(
  {
    host: "127.0.0.1",
    port: 8000,
    bind: [],
    backlog: 2048,
    io: "auto",
    certfile: "",
    keyfile: "",
    maxRequestLineBytes: 8 * 1024,
    maxHeadBytes: 16 * 1024,
    maxHeaderCount: 100,
    maxBodyBytes: 1024 * 1024 * 1024,
    maxChunkLineBytes: 4 * 1024,
    maxTrailerBytes: 64 * 1024,
    maxDrainBytes: 64 * 1024,
    readBufferBytes: 64 * 1024,
    limitConcurrency: 0,
    headersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 5_000,
    bodyTimeoutMs: 30_000,
    shutdownGraceMs: 30_000,
    shutdownDelayMs: 0,
    interface: "auto",
    validate: false,
    rootPath: "",
    healthPath: "",
    serverHeader: "lsbaws",
    accessLog: "",
    accessLogFormat: "common",
    logLevel: "info",
    workers: 1,
    timeout: 30,
    bootTimeoutMs: 30_000,
    maxRequests: 0,
    maxRequestsJitter: 0,
    forwardedAllowIps: "127.0.0.1,::1",
  } satisfies Config,
);

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
      if (setting.min !== undefined && n < setting.min) {
        throw new ConfigError(`${source} must be at least ${setting.min}, got ${n}`);
      }
      if (setting.max !== undefined && n > setting.max) {
        throw new ConfigError(`${source} must be at most ${setting.max}, got ${n}`);
      }
      return n;
    }
    case "enum":
      if (!setting.choices!.includes(raw)) {
        throw new ConfigError(
          `${source} must be one of ${setting.choices!.join(", ")}, got '${raw}'`,
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
    if (setting.repeat) (config[setting.key] as unknown[]).push(value);
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
  if (c.rootPath !== "" && (!c.rootPath.startsWith("/") || c.rootPath.endsWith("/"))) {
    throw new ConfigError("--root-path must start with '/' and not end with '/'");
  }
  return { kind: "run", config: Object.freeze(c) as Config, appSpec: positional[0] };
}

function describeDefault(s: Setting): string {
  const v = DEFAULTS[s.key];
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
    const val = s.type === "bool" ? "" : s.type === "enum" ? ` ${s.choices!.join("|")}` : " VALUE";
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

/** Extracts the parser `Limits` from a `Config`. */
export function limitsOf(config: Config): Limits {
  return {
    maxRequestLineBytes: config.maxRequestLineBytes,
    maxHeadBytes: config.maxHeadBytes,
    maxHeaderCount: config.maxHeaderCount,
    maxBodyBytes: config.maxBodyBytes,
    maxChunkLineBytes: config.maxChunkLineBytes,
    maxTrailerBytes: config.maxTrailerBytes,
  };
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

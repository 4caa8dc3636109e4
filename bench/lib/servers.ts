/**
 * The servers the benchmark compares, as data: one entry per server, in the order rounds visit
 * them, and the command line that starts each one with a given app.
 *
 * Contract:
 * - `SERVER_DEFS` is the single list of servers; `ServerId`, `ALL_SERVERS` and `SERVER_LABELS`
 *   are derived from it, so adding a server is adding one entry.
 * - An lsbaws entry names its app flavour (`gateway` or `fetch`), its socket backend
 *   (`backend`: `libc`, epoll through FFI, or `deno`, `Deno.listen`) and the extra CLI arguments
 *   that select it (`args`, placed before the app spec: `--io libc` / `--io deno`, never
 *   `--io auto`, so an entry measures the same backend on every machine).
 * - An entry may leave scenarios out (`skips`); `runsScenario` is the one place that says
 *   whether a server runs a scenario. The deno-backend entries skip the two 1 GiB upload
 *   scenarios (uploads do not depend on the socket backend's accept/poll path, and leaving them
 *   out keeps a full run within its time budget).
 * - `SERVER_ALIASES` maps the ids of older harness versions (`lsbaws-gateway`, `lsbaws-fetch`,
 *   which ran whatever `--io auto` picked) to the libc entries; `resolveServerId` applies it.
 * - Entries of kind `lsbaws` are the ones judged against the targets, one column each;
 *   `Deno.serve` (`BASELINE`) is the server every ratio is computed against.
 * - `serverCommand` is pure: it builds the argv, it starts nothing.
 * - The static-file scenarios compare their own servers, `STATIC_SERVER_DEFS` (lsbaws with
 *   `--static` on the libc backend, nginx, Hono's `serveStatic` on `Deno.serve`), all serving one directory under
 *   `STATIC_PREFIX`; their ratios are against `STATIC_BASELINE` (Hono) and `STATIC_REFERENCE`
 *   (nginx). `staticServerCommand` and `nginxConfig` are pure as well.
 */

/** One server of the comparison. */
export interface ServerDef {
  /** Stable id (command line, JSON results). */
  id: string;
  /** Display name in tables. */
  label: string;
  /** lsbaws (judged against the targets), the `Deno.serve` baseline, or `node:http`. */
  kind: "lsbaws" | "deno-serve" | "node-http";
  /** For lsbaws: which flavour of the bench app it serves (`bench/apps/<app>_<flavour>.ts`). */
  app?: "gateway" | "fetch";
  /** For lsbaws: the socket backend the entry selects with `args`. */
  backend?: "libc" | "deno";
  /** For lsbaws: extra CLI arguments, placed before the app spec. */
  args?: readonly string[];
  /** Scenario ids this entry does not run (shown as "not run", never judged). */
  skips?: readonly string[];
}

/** The 1 GiB upload scenarios, which the deno-backend entries leave out. */
const UPLOADS = ["upload-length", "upload-chunked"] as const;

/** Every server, in round order. */
export const SERVER_DEFS = [
  {
    id: "lsbaws-libc-gateway",
    label: "lsbaws libc gateway",
    kind: "lsbaws",
    app: "gateway",
    backend: "libc",
    args: ["--io", "libc"],
  },
  {
    id: "lsbaws-libc-fetch",
    label: "lsbaws libc fetch",
    kind: "lsbaws",
    app: "fetch",
    backend: "libc",
    args: ["--io", "libc"],
  },
  {
    id: "lsbaws-deno-gateway",
    label: "lsbaws deno gateway",
    kind: "lsbaws",
    app: "gateway",
    backend: "deno",
    args: ["--io", "deno"],
    skips: UPLOADS,
  },
  {
    id: "lsbaws-deno-fetch",
    label: "lsbaws deno fetch",
    kind: "lsbaws",
    app: "fetch",
    backend: "deno",
    args: ["--io", "deno"],
    skips: UPLOADS,
  },
  { id: "deno-serve", label: "Deno.serve", kind: "deno-serve" },
  { id: "node-http", label: "node:http", kind: "node-http" },
] as const satisfies readonly ServerDef[];

/** Server identifiers, in the order rounds visit them. */
export type ServerId = (typeof SERVER_DEFS)[number]["id"];

/** The server every ratio is computed against. */
export const BASELINE: ServerId = "deno-serve";

/** Every server id, in round order. */
export const ALL_SERVERS: ServerId[] = SERVER_DEFS.map((d) => d.id);

/** Display names of the servers. */
export const SERVER_LABELS: Record<ServerId, string> = Object.fromEntries(
  SERVER_DEFS.map((d) => [d.id, d.label]),
) as Record<ServerId, string>;

/**
 * Ids of older harness versions, still accepted by `--servers`: they ran whatever `--io auto`
 * picked, which is the libc backend on Linux.
 */
export const SERVER_ALIASES: Readonly<Record<string, ServerId>> = {
  "lsbaws-gateway": "lsbaws-libc-gateway",
  "lsbaws-fetch": "lsbaws-libc-fetch",
};

/** The server id `id` names (itself, or the entry an alias stands for); throws if unknown. */
export function resolveServerId(id: string): ServerId {
  const real = SERVER_ALIASES[id] ?? id;
  if (!(ALL_SERVERS as string[]).includes(real)) throw new Error(`unknown server ${id}`);
  return real as ServerId;
}

/** The entry of `id`; throws for an unknown id. */
export function serverDef(id: string): ServerDef {
  const def = (SERVER_DEFS as readonly ServerDef[]).find((d) => d.id === id);
  if (!def) throw new Error(`unknown server ${id}`);
  return def;
}

/** Whether server `id` runs `scenario` (false for the scenarios its entry `skips`). */
export function runsScenario(id: string, scenario: string): boolean {
  const def = (SERVER_DEFS as readonly ServerDef[]).find((d) => d.id === id);
  return !(def?.skips ?? []).includes(scenario);
}

/** Whether `id` is an lsbaws server (judged against the targets). */
export function isLsbaws(id: string): boolean {
  return (SERVER_DEFS as readonly ServerDef[]).some((d) => d.id === id && d.kind === "lsbaws");
}

/** Which app a server process runs. */
export type AppKind = "hello" | "sink";

/** lsbaws (`main.ts`) on 127.0.0.1, port 0 (the harness reads the port from its banner). */
function lsbawsOnLoopback(deno: string): string[] {
  return [deno, "run", "--unstable-net", "-A", "main.ts", "--host", "127.0.0.1", "--port", "0"];
}

/**
 * The command line that starts `def` with `app`, using the Deno binary `deno`;
 * `idleKeepAliveMs` raises the keep-alive idle timeout where the server has one.
 */
export function serverCommand(
  def: ServerDef,
  app: AppKind,
  idleKeepAliveMs: number | null,
  deno: string,
): string[] {
  switch (def.kind) {
    case "lsbaws": {
      const flavour = def.app ?? "fetch";
      return [
        ...lsbawsOnLoopback(deno),
        ...(idleKeepAliveMs ? ["--keep-alive-timeout-ms", String(idleKeepAliveMs)] : []),
        ...(def.args ?? []),
        flavour === "gateway" ? `bench/apps/${app}_gateway.ts:app` : `bench/apps/${app}_fetch.ts`,
      ];
    }
    case "deno-serve":
      // Deno.serve has no keep-alive idle timeout to raise.
      return [deno, "run", "-A", "bench/apps/deno_serve.ts", "--app", app];
    case "node-http":
      return [
        "node",
        "bench/apps/node_http.mjs",
        "--app",
        app,
        ...(idleKeepAliveMs ? ["--keep-alive-timeout-ms", String(idleKeepAliveMs)] : []),
      ];
  }
}

/** One server of the static-file scenarios. */
export interface StaticServerDef {
  /** Stable id (JSON results). */
  id: string;
  /** Display name in tables. */
  label: string;
  /** lsbaws `--static`, nginx, or Hono's `serveStatic` on `Deno.serve`. */
  kind: "lsbaws" | "nginx" | "hono-static";
}

/** Every server of the static-file scenarios, in round order. */
export const STATIC_SERVER_DEFS = [
  { id: "lsbaws-static", label: "lsbaws --static", kind: "lsbaws" },
  { id: "nginx", label: "nginx", kind: "nginx" },
  { id: "hono-static", label: "Hono serveStatic", kind: "hono-static" },
] as const satisfies readonly StaticServerDef[];

/** Static-file server identifiers, in round order. */
export type StaticServerId = (typeof STATIC_SERVER_DEFS)[number]["id"];

/** Every static-file server id, in round order. */
export const ALL_STATIC_SERVERS: StaticServerId[] = STATIC_SERVER_DEFS.map((d) => d.id);

/** Display names of the static-file servers. */
export const STATIC_SERVER_LABELS: Record<StaticServerId, string> = Object.fromEntries(
  STATIC_SERVER_DEFS.map((d) => [d.id, d.label]),
) as Record<StaticServerId, string>;

/** The static-file server the target is judged against (lsbaws ≥ 2× its req/s). */
export const STATIC_BASELINE: StaticServerId = "hono-static";

/** The static-file server every lsbaws number is also compared with (no target). */
export const STATIC_REFERENCE: StaticServerId = "nginx";

/** The static-file server judged against the targets. */
export const STATIC_LSBAWS: StaticServerId = "lsbaws-static";

/** The URL prefix every static-file server serves the directory under. */
export const STATIC_PREFIX = "/static";

/** Where one static-file server process finds its files and, for nginx, its config. */
export interface StaticServerPaths {
  /** The directory served under `STATIC_PREFIX` (absolute). */
  dir: string;
  /** nginx only: its prefix directory (`-p`, absolute). */
  nginxPrefix?: string;
  /** nginx only: its config file (`-c`, absolute; written from `nginxConfig`). */
  nginxConf?: string;
}

/**
 * The command line that starts static-file server `def` on `paths`, using the Deno binary
 * `deno`. lsbaws and Hono pick a free port and print their listening line; nginx listens on the
 * port written into its config file.
 */
export function staticServerCommand(
  def: StaticServerDef,
  paths: StaticServerPaths,
  deno: string,
): string[] {
  switch (def.kind) {
    case "lsbaws":
      // The gateway hello app answers everything outside the prefix; the static path does not
      // depend on the app's style. The libc backend, named explicitly (not `--io auto`).
      return [
        ...lsbawsOnLoopback(deno),
        "--io",
        "libc",
        "--static",
        `${STATIC_PREFIX}=${paths.dir}`,
        "bench/apps/hello_gateway.ts:app",
      ];
    case "nginx":
      if (!paths.nginxPrefix || !paths.nginxConf) {
        throw new Error("nginx needs a prefix and config");
      }
      return ["nginx", "-e", "stderr", "-p", paths.nginxPrefix, "-c", paths.nginxConf];
    case "hono-static":
      // Hono is an npm package: it runs under the framework examples' config and lock, so the
      // project's own lock stays package-free.
      return [
        deno,
        "run",
        "-A",
        "--config",
        "apps/frameworks/deno.json",
        "bench/frameworks/hono_static.ts",
        "--dir",
        paths.dir,
      ];
  }
}

/** What `nginxConfig` needs. */
export interface NginxConfigOptions {
  /** The directory served under `STATIC_PREFIX` (absolute). */
  dir: string;
  /** nginx's prefix directory: pid file and temp paths go there (absolute). */
  prefix: string;
  /** Port on 127.0.0.1. */
  port: number;
}

/**
 * An nginx config serving `dir` under `STATIC_PREFIX` the way a production static server is set
 * up: one worker (pinned with the master, which `taskset` starts), `sendfile on`,
 * `tcp_nopush on`, no access log, in the foreground (`daemon off`), keep-alive without a
 * request limit; everything it writes stays under `prefix`.
 */
export function nginxConfig(o: NginxConfigOptions): string {
  const dir = o.dir.endsWith("/") ? o.dir : `${o.dir}/`;
  return [
    "worker_processes 1;",
    "daemon off;",
    `pid ${o.prefix}/nginx.pid;`,
    "error_log stderr warn;",
    "events {",
    "  worker_connections 4096;",
    "}",
    "http {",
    "  access_log off;",
    "  sendfile on;",
    "  tcp_nopush on;",
    "  keepalive_requests 1000000;",
    "  default_type application/octet-stream;",
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) =>
      `  ${t}_temp_path ${o.prefix}/tmp_${t};`
    ),
    "  server {",
    `    listen 127.0.0.1:${o.port};`,
    `    location ${STATIC_PREFIX}/ {`,
    `      alias ${dir};`,
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

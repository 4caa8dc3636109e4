/**
 * Listen addresses: parsing `--bind` values, printing bound addresses, and turning a bound
 * address back into a `--bind` value.
 *
 * Contract (pure: no I/O):
 * - `parseBind(spec)` reads `host:port`, `[v6]:port`, `:port` (every IPv4 interface) or
 *   `unix:/path`, and throws `Error` with a clear message for anything else.
 * - `bindSpecOf(addr)` is its inverse for a bound `Deno.Addr` (port 0 resolved to the real port),
 *   so `parseBind(bindSpecOf(a))` listens on `a` again.
 * - `formatAddr(addr, scheme)` is the human form printed in the listening banner.
 * - `fdBindsOf(binds)` reads `fd://N` binds: descriptors lsbaws was given instead of addresses.
 */

/** A parsed listen address. */
export type ListenAddr =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string; mode?: number; owner?: FileOwner };

/** The user and group a unix socket file is given (`--user`/`--group`). */
export interface FileOwner {
  /** User id. */
  readonly uid: number;
  /** Group id. */
  readonly gid: number;
}

/** Parses `host:port`, `[v6]:port`, `:port` or `unix:/path`. Throws `Error` with a clear message. */
export function parseBind(spec: string): ListenAddr {
  if (spec.startsWith("unix:")) {
    const path = spec.slice(5);
    if (path === "") throw new Error(`invalid bind '${spec}': empty unix socket path`);
    return { transport: "unix", path };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*)):([0-9]{1,5})$/.exec(spec);
  if (!m || Number(m[3]) > 65535) {
    throw new Error(`invalid bind '${spec}': expected host:port, [v6]:port or unix:/path`);
  }
  return { transport: "tcp", hostname: m[1] ?? (m[2] || "0.0.0.0"), port: Number(m[3]) };
}

/**
 * The descriptors `fd://N` binds name (gunicorn's `--bind fd://N`, uvicorn's `--fd`), or null when
 * no bind is one. Throws `Error` with a clear message for a malformed one, N below 3 (stdin,
 * stdout and stderr), a repeated N, or `fd://` mixed with addresses to bind.
 */
export function fdBindsOf(binds: readonly string[]): number[] | null {
  const fds = binds.filter((b) => b.startsWith("fd://"));
  if (fds.length === 0) return null;
  if (fds.length !== binds.length) {
    throw new Error(
      "--bind fd://N cannot be mixed with addresses to bind: pass every socket as a descriptor",
    );
  }
  const out: number[] = [];
  for (const spec of fds) {
    const text = spec.slice(5);
    if (!/^[0-9]{1,7}$/.test(text)) {
      throw new Error(`invalid bind '${spec}': expected fd://N, N a descriptor number`);
    }
    const fd = Number(text);
    if (fd < 3) {
      throw new Error(
        `invalid bind '${spec}': descriptors 0, 1 and 2 are stdin, stdout and stderr`,
      );
    }
    if (out.includes(fd)) throw new Error(`invalid bind '${spec}': fd ${fd} is named twice`);
    out.push(fd);
  }
  return out;
}

/** The `Deno.Addr` a parsed listen address names (as a listener bound to it reports it). */
export function addrOf(a: ListenAddr): Deno.Addr {
  return a.transport === "unix"
    ? { transport: "unix", path: a.path }
    : { transport: "tcp", hostname: a.hostname, port: a.port };
}

/** The bind spec (`host:port`, `[v6]:port`, `unix:/path`) that listens on `addr` again. */
export function bindSpecOf(addr: Deno.Addr): string {
  if (addr.transport === "unix" || addr.transport === "unixpacket") return `unix:${addr.path}`;
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
  return String(addr.transport);
}

/** Formats a bound address for humans (`http://127.0.0.1:8000`, `unix:/tmp/s`). */
export function formatAddr(addr: Deno.Addr, scheme = "http"): string {
  if (addr.transport === "tcp") {
    const h = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return `${scheme}://${h}:${addr.port}`;
  }
  if (addr.transport === "unix") return `unix:${addr.path}`;
  return String(addr.transport);
}

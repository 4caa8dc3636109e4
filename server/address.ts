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
 * - `parseServeAddress(value)` reads `deno serve`'s `DENO_SERVE_ADDRESS` (`tcp:IP:PORT`,
 *   `tcp:[V6]:PORT`, `unix:PATH`, each optionally after `duplicate,`) into a bind spec and the
 *   duplicate flag, with Deno's grammar: the TCP host must be an IP address. `vsock:` and
 *   `tunnel:` are Deno's too but cannot be served here; they and anything else throw `Error`
 *   with a message naming the variable (Deno itself logs such a value and ignores it).
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

/** What `DENO_SERVE_ADDRESS` asks for: one address, instead of or besides (`duplicate`) the rest. */
export interface ServeAddress {
  /** The address as a `--bind` value. */
  readonly bind: string;
  /** `duplicate,`: serve on it as well as on the configured addresses. */
  readonly duplicate: boolean;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses `DENO_SERVE_ADDRESS`; see the module comment. */
export function parseServeAddress(value: string): ServeAddress {
  const duplicate = value.startsWith("duplicate,");
  const spec = duplicate ? value.slice("duplicate,".length) : value;
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  const bad = (why: string) => new Error(`DENO_SERVE_ADDRESS='${value}': ${why}`);
  if (kind === "tcp") {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(rest);
    const v6 = m?.[1];
    const ok = m !== null && Number(m[3]) <= 65535 &&
      (v6 !== undefined ? isIPv6(v6) : IPV4.test(m[2]));
    if (!ok) throw bad("expected tcp:IP:PORT or tcp:[IPv6]:PORT (an IP address, as Deno reads it)");
    return { bind: v6 !== undefined ? `[${v6}]:${m[3]}` : `${m[2]}:${m[3]}`, duplicate };
  }
  if (kind === "unix") {
    if (rest === "") throw bad("empty unix socket path");
    return { bind: `unix:${rest}`, duplicate };
  }
  if (kind === "vsock" || kind === "tunnel") {
    throw bad(`${kind} addresses are Deno's own; lsbaws serves tcp: and unix: addresses`);
  }
  throw bad("expected tcp:IP:PORT, tcp:[IPv6]:PORT or unix:PATH, optionally after 'duplicate,'");
}

/** Whether `s` is an IPv6 address in text form (without brackets or a zone). */
function isIPv6(s: string): boolean {
  try {
    return new URL(`http://[${s}]/`).hostname !== "";
  } catch {
    return false;
  }
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

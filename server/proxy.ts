/**
 * Trusted proxy headers: who the client really is when lsbaws runs behind a reverse proxy.
 *
 * Contract (pure: no I/O, no `Deno.*`):
 * - `parseTrustList(spec)` parses `--forwarded-allow-ips`: a comma list of IPv4/IPv6 addresses,
 *   CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and `*` (trust every peer). IPv4-mapped IPv6 peers
 *   (`::ffff:10.1.2.3`) match IPv4 entries. A bad entry throws `ConfigError`.
 * - `resolveClient(head, peer, scheme, trust)` returns null (keep the socket's view) unless the
 *   socket peer is trusted. Unix-socket peers are always trusted (as in gunicorn): only local
 *   processes can reach them.
 * - From a trusted peer, the `X-Forwarded-*` family wins when any of its headers is present
 *   (what nginx, Caddy, Traefik and cloud balancers set); otherwise RFC 7239 `Forwarded` is used.
 *   Preferring one family means a client cannot smuggle the other one through a proxy that only
 *   rewrites the family it knows.
 * - Client address: the list of hops (X-Forwarded-For, or the `for=` of each Forwarded element)
 *   is walked from the right, skipping trusted proxies; the first untrusted hop is the client
 *   (everything to its left is client-supplied and ignored). If every hop is trusted, the
 *   left-most one is the client. A hop that is not an IP address (`unknown`, `_hidden`) leaves
 *   the socket peer in place.
 * - Scheme and host: the right-most `X-Forwarded-Proto`/`-Host`/`-Port` value (set by the nearest,
 *   trusted proxy), or the `proto=`/`host=` of the chosen Forwarded element. Only `http`/`https`
 *   schemes and syntactically valid hosts are accepted; anything else is ignored. Without a
 *   valid `X-Forwarded-Proto`, gunicorn's other secure-scheme headers decide, in this order:
 *   `X-Forwarded-Protocol` (`ssl` is https, another value http) and `X-Forwarded-Ssl` (`on` is
 *   https, another value http); both belong to the X-Forwarded family.
 * - Prefix: the right-most `X-Forwarded-Prefix` value, the path prefix the proxy removed before
 *   forwarding (Traefik's StripPrefix, ingress-nginx, werkzeug's ProxyFix read it), when it is an
 *   absolute path of RFC 3986 path characters; its trailing "/" is dropped and "/" alone is no
 *   prefix. Anything else is ignored. The gateway reports it in `SCRIPT_NAME`.
 * - A malformed `Forwarded` header is ignored as a whole.
 * - `createProxyProtocolPolicy(mode, spec, maxBytes)` says which peers must begin a connection
 *   with a PROXY protocol header (`--proxy-protocol`, `--proxy-allow-ips`); the header itself is
 *   parsed by `server/http/proxy_protocol.ts` and applied in `server/conn_loop.ts`.
 */
import { ConfigError } from "./config.ts";
import type { ConnAddr } from "./exchange.ts";
import { parseIp } from "./http/ip.ts";
import { PROXY_ANY, PROXY_V1, PROXY_V2 } from "./http/proxy_protocol.ts";
import type { RequestHead } from "./http/request_head.ts";

/** What trusted proxy headers say about the original client. */
export interface ClientView {
  /** Original client address. */
  readonly remote: ConnAddr;
  /** Original scheme. */
  readonly scheme: "http" | "https";
  /** Original Host name (without port), if a trusted header gave one. */
  readonly hostName?: string;
  /** Original port, if a trusted header gave one. */
  readonly hostPort?: string;
  /**
   * Path prefix the proxy removed before forwarding (`X-Forwarded-Prefix`), percent-encoded as
   * sent, starting with "/" and without a trailing one; absent when none.
   */
  readonly prefix?: string;
}

/** A parsed `--forwarded-allow-ips` list. */
export interface TrustList {
  /** `*` was given: every peer is trusted. */
  readonly all: boolean;
  /** Address blocks: 4- or 16-byte network addresses with their prefix length. */
  readonly blocks: ReadonlyArray<{ readonly bytes: Uint8Array; readonly prefix: number }>;
}

/**
 * Parses a comma list of IPs, CIDRs and `*`; throws `ConfigError` naming `flag` and a bad entry.
 */
export function parseTrustList(spec: string, flag = "--forwarded-allow-ips"): TrustList {
  const blocks: { bytes: Uint8Array; prefix: number }[] = [];
  let all = false;
  for (const raw of spec.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    if (entry === "*") {
      all = true;
      continue;
    }
    const slash = entry.indexOf("/");
    const addr = slash < 0 ? entry : entry.slice(0, slash);
    const bytes = parseIp(addr.startsWith("[") && addr.endsWith("]") ? addr.slice(1, -1) : addr);
    if (bytes === null) {
      throw new ConfigError(`${flag}: '${entry}' is not an IP address or CIDR block`);
    }
    const bits = bytes.length * 8;
    let prefix = bits;
    if (slash >= 0) {
      const p = entry.slice(slash + 1);
      if (!/^[0-9]{1,3}$/.test(p) || Number(p) > bits) {
        throw new ConfigError(`${flag}: '${entry}' has a bad prefix length`);
      }
      prefix = Number(p);
    }
    blocks.push({ bytes, prefix });
  }
  return { all, blocks };
}

/** Whether `address` (an IP literal without brackets) is in the trust list. */
export function isTrusted(trust: TrustList, address: string): boolean {
  if (trust.all) return true;
  const bytes = parseIp(address);
  return bytes !== null && matches(trust, bytes);
}

function matches(trust: TrustList, bytes: Uint8Array): boolean {
  for (const b of trust.blocks) {
    if (b.bytes.length === bytes.length && prefixEqual(b.bytes, bytes, b.prefix)) return true;
  }
  return false;
}

function prefixEqual(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  let i = 0;
  for (; prefix >= 8; prefix -= 8, i++) if (a[i] !== b[i]) return false;
  if (prefix === 0) return true;
  const mask = (0xff << (8 - prefix)) & 0xff;
  return (a[i] & mask) === (b[i] & mask);
}

/** A hop of X-Forwarded-For or a Forwarded `for=` value, when it is an IP address. */
export interface ForwardedNode {
  /** The IP address without brackets. */
  readonly ip: string;
  /** The port, when the hop carried one. */
  readonly port?: number;
}

/**
 * Parses a node: `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:8080` or a bare
 * `2001:db8::1`. Returns null for `unknown`, obfuscated identifiers (`_hidden`) and garbage.
 */
export function parseNode(value: string): ForwardedNode | null {
  const s = value.trim();
  let host = s;
  let port: string | undefined;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return null;
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== "") {
      if (rest[0] !== ":") return null;
      port = rest.slice(1);
    }
    if (!host.includes(":")) return null;
  } else if (s.indexOf(":") !== s.lastIndexOf(":")) {
    host = s; // bare IPv6, no port possible
  } else if (s.includes(":")) {
    host = s.slice(0, s.indexOf(":"));
    port = s.slice(s.indexOf(":") + 1);
  }
  if (parseIp(host) === null) return null;
  if (port === undefined) return { ip: host.toLowerCase() };
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return null;
  return { ip: host.toLowerCase(), port: Number(port) };
}

/** One RFC 7239 forwarded-element: lower-cased parameter names to (unquoted) values. */
export type ForwardedElement = ReadonlyMap<string, string>;

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses an RFC 7239 §4 `Forwarded` field value (`for=a;proto=https, for="[::1]:80"`) into its
 * elements. Quoted strings may contain commas, semicolons and backslash escapes. Returns null when
 * the value is malformed or repeats a parameter within one element (RFC 7239 §4).
 */
export function parseForwarded(value: string): ForwardedElement[] | null {
  const elements: Map<string, string>[] = [];
  let cur = new Map<string, string>();
  let i = 0;
  const n = value.length;
  const ows = () => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  while (true) {
    ows();
    if (i >= n) break;
    const c = value[i];
    if (c === ",") {
      elements.push(cur);
      cur = new Map();
      i++;
      continue;
    }
    if (c === ";") {
      i++;
      continue;
    }
    const start = i;
    while (i < n && TCHAR.test(value[i])) i++;
    if (i === start || value[i] !== "=") return null;
    const name = value.slice(start, i).toLowerCase();
    i++;
    let v = "";
    if (value[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const ch = value[i++];
        if (ch === "\\") {
          if (i >= n) return null;
          v += value[i++];
        } else if (ch === '"') {
          closed = true;
          break;
        } else {
          v += ch;
        }
      }
      if (!closed) return null;
    } else {
      const vs = i;
      while (i < n && TCHAR.test(value[i])) i++;
      if (i === vs) return null;
      v = value.slice(vs, i);
    }
    if (cur.has(name)) return null;
    cur.set(name, v);
    ows();
    if (i < n && value[i] !== ";" && value[i] !== ",") return null;
  }
  elements.push(cur);
  return elements.filter((e) => e.size > 0);
}

const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::([0-9]{1,5}))?$/;

/** Splits `host[:port]` (IPv6 in brackets); null when it is not a valid authority. */
export function parseHostPort(value: string): { name: string; port?: string } | null {
  const s = value.trim();
  const m = HOST_RE.exec(s);
  if (!m || s === "") return null;
  if (m[1] !== undefined) {
    if (Number(m[1]) > 65535) return null;
    return { name: s.slice(0, s.length - m[1].length - 1), port: m[1] };
  }
  return { name: s };
}

function schemeOf(value: string | undefined): "http" | "https" | null {
  const v = value?.trim().toLowerCase();
  return v === "https" || v === "http" ? v : null;
}

/**
 * gunicorn's `secure_scheme_headers`: `X-Forwarded-Protocol: ssl` and `X-Forwarded-Ssl: on` say
 * https (any other value http); null when absent or empty.
 */
function secureFlag(value: string | undefined, secure: string): "http" | "https" | null {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === "") return null;
  return v === secure ? "https" : "http";
}

/** An absolute path: segments of RFC 3986 `pchar`s (unreserved, sub-delims, ":", "@", `%XX`). */
const PREFIX_RE = /^(?:\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+$/;

/**
 * An `X-Forwarded-Prefix` value as a mount prefix: an absolute path without its trailing "/"
 * ("/" alone is no prefix); undefined for anything else (a query, a fragment, a space, a bare
 * name, a final `%2F`), which is ignored.
 */
function prefixOf(value: string | undefined): string | undefined {
  if (value === undefined || !PREFIX_RE.test(value)) return undefined;
  const trimmed = value.replace(/\/+$/, "");
  // An encoded final "/" would end SCRIPT_NAME with one once decoded.
  return trimmed === "" || /%2f$/i.test(trimmed) ? undefined : trimmed;
}

function lastItem(values: string[]): string | undefined {
  if (values.length === 0) return undefined;
  const parts = values.join(",").split(",");
  for (let i = parts.length - 1; i >= 0; i--) if (parts[i].trim() !== "") return parts[i].trim();
  return undefined;
}

/** Index of the client hop: the right-most untrusted one, else the left-most. */
function clientIndex(hops: readonly (ForwardedNode | null)[], trust: TrustList): number {
  for (let i = hops.length - 1; i >= 0; i--) {
    const h = hops[i];
    if (h === null || !isTrusted(trust, h.ip)) return i;
  }
  return 0;
}

/** The proxy headers of one request, gathered in one pass. */
interface ProxyHeaders {
  xff: string[];
  proto: string[];
  host: string[];
  port: string[];
  /** `X-Forwarded-Protocol` (gunicorn: `ssl` means https). */
  protocol: string[];
  /** `X-Forwarded-Ssl` (gunicorn: `on` means https). */
  ssl: string[];
  /** `X-Forwarded-Prefix` (the path prefix the proxy removed). */
  prefix: string[];
  forwarded: string[];
  /** Any header of the X-Forwarded family was present (it then wins over `Forwarded`). */
  xFamily: boolean;
}

function gather(head: RequestHead): ProxyHeaders | null {
  let found: ProxyHeaders | null = null;
  const h = head.headers;
  for (let i = 0; i < h.length; i++) {
    const name = h[i][0];
    const c = name.charCodeAt(0);
    if (c !== 120 && c !== 102) continue; // 'x' or 'f'
    let key: Exclude<keyof ProxyHeaders, "xFamily"> | null = null;
    if (name === "x-forwarded-for") key = "xff";
    else if (name === "x-forwarded-proto") key = "proto";
    else if (name === "x-forwarded-host") key = "host";
    else if (name === "x-forwarded-port") key = "port";
    else if (name === "forwarded") key = "forwarded";
    else if (name === "x-forwarded-ssl") key = "ssl";
    else if (name === "x-forwarded-protocol") key = "protocol";
    else if (name === "x-forwarded-prefix") key = "prefix";
    if (key === null) continue;
    found ??= {
      xff: [],
      proto: [],
      host: [],
      port: [],
      protocol: [],
      ssl: [],
      prefix: [],
      forwarded: [],
      xFamily: false,
    };
    found[key].push(h[i][1]);
    if (key !== "forwarded") found.xFamily = true;
  }
  return found;
}

/**
 * Applies trusted proxy headers; see the module comment. `peerTrusted` is whether the socket peer
 * is in the trust list (computed by the caller, which can cache it per peer).
 */
export function resolveClient(
  head: RequestHead,
  peer: ConnAddr,
  scheme: "http" | "https",
  trust: TrustList,
  peerTrusted = peer.transport === "unix" || isTrusted(trust, peer.hostname),
): ClientView | null {
  if (!peerTrusted) return null;
  const p = gather(head);
  if (p === null) return null;
  let remote: ConnAddr = peer;
  let outScheme = scheme;
  let hostName: string | undefined;
  let hostPort: string | undefined;
  let prefix: string | undefined;
  if (p.xFamily) {
    const hops = p.xff.join(",").split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (hops.length > 0) {
      const nodes = hops.map(parseNode);
      const chosen = nodes[clientIndex(nodes, trust)];
      if (chosen) remote = { transport: "tcp", hostname: chosen.ip, port: chosen.port ?? 0 };
    }
    outScheme = schemeOf(lastItem(p.proto)) ?? secureFlag(lastItem(p.protocol), "ssl") ??
      secureFlag(lastItem(p.ssl), "on") ?? scheme;
    const host = lastItem(p.host);
    const hp = host === undefined ? null : parseHostPort(host);
    if (hp) {
      hostName = hp.name;
      hostPort = hp.port;
    }
    prefix = prefixOf(lastItem(p.prefix));
    const port = lastItem(p.port);
    if (port !== undefined && /^[0-9]{1,5}$/.test(port) && Number(port) <= 65535) {
      hostPort = port;
      if (hostName === undefined) {
        // X-Forwarded-Port alone: keep the Host header's name, replace its port.
        const own = head.headers.find(([n]) => n === "host");
        hostName = own ? parseHostPort(own[1])?.name : undefined;
      }
    }
  } else {
    const elements = parseForwarded(p.forwarded.join(","));
    if (elements === null || elements.length === 0) return null;
    const nodes = elements.map((e) => (e.has("for") ? parseNode(e.get("for")!) : null));
    const idx = clientIndex(nodes, trust);
    const chosen = nodes[idx];
    if (chosen) remote = { transport: "tcp", hostname: chosen.ip, port: chosen.port ?? 0 };
    const el = elements[idx];
    outScheme = schemeOf(el.get("proto")) ?? scheme;
    const host = el.get("host");
    const hp = host === undefined ? null : parseHostPort(host);
    if (hp) {
      hostName = hp.name;
      hostPort = hp.port;
    }
  }
  if (hostName === undefined && hostPort !== undefined) {
    // A port alone cannot say which host was addressed; report the scheme and client only.
    hostPort = undefined;
  }
  return prefix === undefined
    ? { remote, scheme: outScheme, hostName, hostPort }
    : { remote, scheme: outScheme, hostName, hostPort, prefix };
}

/** A per-server resolver with the trust decision cached per peer address. */
export type ClientResolver = (
  head: RequestHead,
  peer: ConnAddr,
  scheme: "http" | "https",
) => ClientView | null;

/** Builds the engine's `resolveClient` hook from a `--forwarded-allow-ips` value. */
export function createClientResolver(spec: string): ClientResolver | undefined {
  const trust = parseTrustList(spec);
  if (!trust.all && trust.blocks.length === 0) return undefined;
  const cache = new Map<string, boolean>();
  return (head, peer, scheme) => {
    let trusted: boolean | undefined;
    if (peer.transport === "unix") trusted = true;
    else {
      trusted = cache.get(peer.hostname);
      if (trusted === undefined) {
        if (cache.size >= 1024) cache.clear();
        trusted = isTrusted(trust, peer.hostname);
        cache.set(peer.hostname, trusted);
      }
    }
    return trusted ? resolveClient(head, peer, scheme, trust, true) : null;
  };
}

/** How connections must begin when `--proxy-protocol` is on (`server/conn_loop.ts` applies it). */
export interface ProxyProtocolPolicy {
  /** Accepted header versions (`PROXY_V1`/`PROXY_V2` bits of `server/http/proxy_protocol.ts`). */
  readonly versions: number;
  /** Largest header accepted (a v2 header may carry TLVs). */
  readonly maxBytes: number;
  /**
   * Whether `peer` must begin each connection with a PROXY header. Any other peer may not send
   * one (its header is refused with 403), so a client cannot choose the address it is logged as.
   */
  mustSend(peer: ConnAddr): boolean;
}

/**
 * The PROXY protocol policy of `--proxy-protocol MODE` and `--proxy-allow-ips SPEC`, or undefined
 * when MODE is `off`. Unix-socket peers are always trusted (as for proxy headers). Throws
 * `ConfigError` for a bad allow list.
 */
export function createProxyProtocolPolicy(
  mode: "off" | "v1" | "v2" | "auto",
  spec: string,
  maxBytes: number,
): ProxyProtocolPolicy | undefined {
  if (mode === "off") return undefined;
  const trust = parseTrustList(spec, "--proxy-allow-ips");
  const versions = mode === "v1" ? PROXY_V1 : mode === "v2" ? PROXY_V2 : PROXY_ANY;
  return {
    versions,
    maxBytes,
    mustSend: (peer) => peer.transport === "unix" || isTrusted(trust, peer.hostname),
  };
}

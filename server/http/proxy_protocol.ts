/**
 * The HAProxy PROXY protocol header, v1 (text) and v2 (binary): bytes in, the client's addresses
 * out (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt).
 *
 * Contract (sans-IO, synchronous, no `Deno.*`):
 * - `parseProxyHeader(buf, start, end, versions, maxBytes)` reads only `buf[start..end)`, where a
 *   header must begin (the caller asks only peers that must send one). It returns null while more
 *   bytes are needed, a `ProxyHeader` once the whole header is there (`consumed` bytes; the bytes
 *   after it are never looked at), or throws `ProtocolError`: `MISSING_PROXY_HEADER` as soon as
 *   the bytes cannot begin the signature of an accepted version (`versions`, a bit set of
 *   `PROXY_V1`/`PROXY_V2`; with no bit set nothing is accepted), `INVALID_PROXY_HEADER` for a
 *   malformed header, as early as the bytes seen so far show it.
 * - v1: one line `PROXY SP (TCP4|TCP6|UNKNOWN) ... CRLF` of at most 107 bytes, printable ASCII
 *   only (a bare CR or LF is refused). TCP4/TCP6 carry exactly `SP src SP dst SP sport SP dport`
 *   with single spaces, addresses of the stated family (`parseIPv4`/`parseIPv6`, no IPv6 scope)
 *   and ports 0..65535 without leading zeros; UNKNOWN ignores the rest of the line.
 * - v2: 16 bytes (signature, version 2, command LOCAL|PROXY, family, transport, length) and
 *   `length` more. A total above `maxBytes` is refused once the 16 bytes are in (`maxBytes`
 *   bounds v2 only; v1 has its own 107). PROXY over DGRAM is refused (this is a TCP server);
 *   INET/INET6 over STREAM need their 12/36 address bytes. Of the TLVs after the address block
 *   only `PP2_TYPE_SSL` (0x20) is read: `ssl` is true when one lies wholly inside the header and
 *   its `client` byte has `PP2_CLIENT_SSL` (the client reached the proxy over TLS, HAProxy's
 *   `send-proxy-v2-ssl`). The walk stops at the first TLV that runs past the header; the rest are
 *   skipped unchecked (a malformed TLV is not a reason to refuse a trusted proxy's header). LOCAL
 *   accepts any family and transport byte (unknown values included) and ignores the address
 *   block and the TLVs.
 * - `source`/`destination` are null when the header carries no usable address (v1 UNKNOWN, v2
 *   LOCAL, v2 PROXY with AF_UNSPEC, AF_UNIX or an UNSPEC transport). IPv4 text is `a.b.c.d`, IPv6
 *   text is RFC 5952 (`formatIPv6`, so an IPv4-mapped address reads `::ffff:a.b.c.d`).
 * - `looksLikeProxyHeader` tells a header of either version from anything else by its signature
 *   alone (null while the bytes are a proper prefix of one), to refuse headers from untrusted
 *   peers.
 */
import { ProtocolError } from "./errors.ts";
import { formatIPv6, parseIPv4, parseIPv6 } from "./ip.ts";

/** Accepted header versions (a bit set): the v1 text header. */
export const PROXY_V1 = 1;
/** Accepted header versions (a bit set): the v2 binary header. */
export const PROXY_V2 = 2;
/** Accepted header versions (a bit set): either version. */
export const PROXY_ANY = 3;

/** An address carried by the header. */
export interface ProxyAddr {
  /** Address family. */
  readonly family: "ipv4" | "ipv6";
  /** `a.b.c.d` for IPv4, RFC 5952 text for IPv6. */
  readonly address: string;
  /** TCP port, 0..65535. */
  readonly port: number;
}

/**
 * A complete header. `source`/`destination` are null when the header carries no usable address
 * (v1 UNKNOWN; v2 LOCAL; v2 PROXY with AF_UNSPEC, AF_UNIX or transport UNSPEC): the caller keeps
 * the socket's own addresses.
 */
export interface ProxyHeader {
  /** The header's version. */
  readonly version: 1 | 2;
  /** Length of the whole header (v1: through the LF; v2: 16 + its length field). */
  readonly consumed: number;
  /** The original client, or null (see above). */
  readonly source: ProxyAddr | null;
  /** The address the client connected to, or null (see above). */
  readonly destination: ProxyAddr | null;
  /** v2 only, present when true: the proxy says the client reached it over TLS (see above). */
  readonly ssl?: true;
}

const CR = 0x0d;
const LF = 0x0a;
/** `PROXY ` */
const V1_SIGNATURE = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20];
/** `\r\n\r\n\0\r\nQUIT\n` */
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
/** The longest v1 line, CRLF included. */
const V1_MAX_BYTES = 107;
/** The fixed part of a v2 header. */
const V2_FIXED_BYTES = 16;
const PORT = /^(?:0|[1-9][0-9]{0,4})$/;

// v2 fields: command (low nibble of byte 12), family (high nibble of byte 13), transport (low).
const LOCAL = 0, PROXY = 1;
const AF_UNSPEC = 0, AF_INET = 1, AF_INET6 = 2, AF_UNIX = 3;
const UNSPEC = 0, DGRAM = 2;

function invalid(detail: string): ProtocolError {
  return new ProtocolError("INVALID_PROXY_HEADER", detail);
}

/** Whether buf[start..end) and `sig` agree on their common length. */
function agrees(buf: Uint8Array, start: number, end: number, sig: readonly number[]): boolean {
  const n = Math.min(end - start, sig.length);
  for (let i = 0; i < n; i++) if (buf[start + i] !== sig[i]) return false;
  return true;
}

/**
 * The version (1 or 2) whose whole signature begins buf[start..end), 0 while the bytes are a
 * proper prefix of an accepted signature, -1 when they cannot begin one.
 */
function signature(buf: Uint8Array, start: number, end: number, versions: number): number {
  const n = end - start;
  if ((versions & PROXY_V1) !== 0 && agrees(buf, start, end, V1_SIGNATURE)) {
    return n >= V1_SIGNATURE.length ? 1 : 0;
  }
  if ((versions & PROXY_V2) !== 0 && agrees(buf, start, end, V2_SIGNATURE)) {
    return n >= V2_SIGNATURE.length ? 2 : 0;
  }
  return -1;
}

/**
 * Parses the header at buf[start..end). Returns null while more bytes are needed; throws
 * ProtocolError (see the module comment).
 */
export function parseProxyHeader(
  buf: Uint8Array,
  start: number,
  end: number,
  versions: number,
  maxBytes: number,
): ProxyHeader | null {
  const version = signature(buf, start, end, versions);
  if (version < 0) throw new ProtocolError("MISSING_PROXY_HEADER");
  if (version === 0) return null;
  return version === 1 ? parseV1(buf, start, end) : parseV2(buf, start, end, maxBytes);
}

/**
 * Whether the bytes at buf[start..end) begin a PROXY header of either version: true/false, or
 * null while too few bytes arrived to tell (a proper prefix of a signature). Used to refuse
 * headers from untrusted peers.
 */
export function looksLikeProxyHeader(buf: Uint8Array, start: number, end: number): boolean | null {
  const version = signature(buf, start, end, PROXY_ANY);
  return version === 0 ? null : version > 0;
}

function parseV1(buf: Uint8Array, start: number, end: number): ProxyHeader | null {
  const limit = Math.min(end, start + V1_MAX_BYTES);
  let cr = -1;
  for (let i = start + V1_SIGNATURE.length; i < limit; i++) {
    const b = buf[i];
    if (b === CR) {
      if (i + 2 - start > V1_MAX_BYTES) throw invalid("v1 line longer than 107 bytes");
      if (i + 1 === end) return null;
      if (buf[i + 1] !== LF) throw invalid("v1 CR not followed by LF");
      cr = i;
      break;
    }
    if (b < 0x20 || b > 0x7e) throw invalid("v1 line with a control or non-ASCII byte");
  }
  if (cr < 0) {
    if (limit - start >= V1_MAX_BYTES) throw invalid("no CRLF within 107 bytes");
    return null;
  }
  let line = "";
  for (let i = start + V1_SIGNATURE.length; i < cr; i++) line += String.fromCharCode(buf[i]);
  const fields = line.split(" ");
  const consumed = cr + 2 - start;
  if (fields[0] === "UNKNOWN") return { version: 1, consumed, source: null, destination: null };
  const family = fields[0] === "TCP4" ? "ipv4" : fields[0] === "TCP6" ? "ipv6" : null;
  if (family === null) throw invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN");
  if (fields.length !== 5) throw invalid("v1 line is not proto src dst sport dport");
  return {
    version: 1,
    consumed,
    source: v1Addr(family, fields[1], fields[3]),
    destination: v1Addr(family, fields[2], fields[4]),
  };
}

function v1Addr(family: "ipv4" | "ipv6", text: string, portText: string): ProxyAddr {
  let address: string | null = null;
  if (family === "ipv4") {
    if (parseIPv4(text) !== null) address = text;
  } else if (!text.includes("%")) {
    const v6 = parseIPv6(text);
    if (v6 !== null) address = formatIPv6(v6.bytes);
  }
  if (address === null) throw invalid(`v1 address is not ${family}`);
  const port = Number(portText);
  if (!PORT.test(portText) || port > 65535) throw invalid("v1 port is not 0..65535");
  return { family, address, port };
}

function parseV2(
  buf: Uint8Array,
  start: number,
  end: number,
  maxBytes: number,
): ProxyHeader | null {
  const n = end - start;
  if (n <= 12) return null;
  const command = buf[start + 12] & 0x0f;
  if (buf[start + 12] >> 4 !== 2) throw invalid("v2 version is not 2");
  if (command !== LOCAL && command !== PROXY) throw invalid("v2 command is not LOCAL or PROXY");
  if (n <= 13) return null;
  const family = buf[start + 13] >> 4, transport = buf[start + 13] & 0x0f;
  // LOCAL: the receiver "must discard the protocol block including the family" (the spec).
  if (command === PROXY) {
    if (family > AF_UNIX) throw invalid("v2 address family unknown");
    if (transport > DGRAM) throw invalid("v2 transport unknown");
    if (transport === DGRAM) throw invalid("v2 PROXY over DGRAM");
  }
  if (n < V2_FIXED_BYTES) return null;
  const length = (buf[start + 14] << 8) | buf[start + 15];
  const consumed = V2_FIXED_BYTES + length;
  if (consumed > maxBytes) throw invalid("v2 header longer than maxBytes");
  const addresses = command === PROXY && transport !== UNSPEC;
  if (addresses && family === AF_INET && length < 12) throw invalid("v2 INET block too short");
  if (addresses && family === AF_INET6 && length < 36) throw invalid("v2 INET6 block too short");
  if (n < consumed) return null;
  if (command === LOCAL) return { version: 2, consumed, source: null, destination: null };
  const a = start + V2_FIXED_BYTES;
  const blockBytes = transport === UNSPEC ? 0 : ADDRESS_BYTES[family];
  const header = v2Addresses(buf, a, consumed, addresses ? family : AF_UNSPEC);
  return sslTlv(buf, a + blockBytes, start + consumed) ? { ...header, ssl: true } : header;
}

/** The v2 header for an address block at `a` (no addresses unless INET or INET6). */
function v2Addresses(buf: Uint8Array, a: number, consumed: number, family: number): ProxyHeader {
  if (family !== AF_INET && family !== AF_INET6) {
    return { version: 2, consumed, source: null, destination: null };
  }
  const port = (at: number) => (buf[at] << 8) | buf[at + 1];
  if (family === AF_INET) {
    const ip = (at: number) => `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
    return {
      version: 2,
      consumed,
      source: { family: "ipv4", address: ip(a), port: port(a + 8) },
      destination: { family: "ipv4", address: ip(a + 4), port: port(a + 10) },
    };
  }
  return {
    version: 2,
    consumed,
    source: { family: "ipv6", address: formatIPv6(buf.subarray(a, a + 16)), port: port(a + 32) },
    destination: {
      family: "ipv6",
      address: formatIPv6(buf.subarray(a + 16, a + 32)),
      port: port(a + 34),
    },
  };
}

/** Address block sizes by v2 family (UNSPEC, INET, INET6, UNIX). */
const ADDRESS_BYTES = [0, 12, 36, 216];
const PP2_TYPE_SSL = 0x20;
const PP2_CLIENT_SSL = 0x01;

/** Whether the TLVs in `buf[at..end)` hold an SSL TLV with the client-SSL bit; see the contract. */
function sslTlv(buf: Uint8Array, at: number, end: number): boolean {
  while (at + 3 <= end) {
    const length = (buf[at + 1] << 8) | buf[at + 2];
    if (at + 3 + length > end) return false;
    if (buf[at] === PP2_TYPE_SSL && length >= 5) return (buf[at + 3] & PP2_CLIENT_SSL) !== 0;
    at += 3 + length;
  }
  return false;
}

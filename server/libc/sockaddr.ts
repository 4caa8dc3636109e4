/**
 * `struct sockaddr` encoding and decoding for IPv4, IPv6 and unix-domain sockets, and the IP
 * literal parsing and formatting they need (`server/http/ip.ts`).
 *
 * Contract (pure, synchronous; the layouts are Linux x86_64's, which aarch64 shares):
 * - `sockaddr_in` (16 bytes): `sa_family` u16 in host order (little-endian), port u16 big-endian,
 *   4 address bytes, 8 zero bytes.
 * - `sockaddr_in6` (28 bytes): family u16 host order, port u16 big-endian, `flowinfo` u32,
 *   16 address bytes, `scope_id` u32 host order.
 * - `sockaddr_un` (110 bytes): family u16 host order, then the path, NUL-terminated; the length
 *   passed to `bind` is `2 + pathBytes + 1`. Paths of 108 bytes or more are refused.
 * - `encodeSockaddr(addr)` accepts IP literals only (`127.0.0.1`, `::1`, `fe80::1%2`), plus
 *   `localhost` (127.0.0.1) and the empty host (0.0.0.0); other names throw `SockaddrError` (the
 *   libc backend does not resolve names).
 * - `decodeSockaddr(bytes, len)` returns a `Deno.Addr`; IPv6 text follows RFC 5952 (lowest-case
 *   hex, the longest run of zero groups compressed) and an IPv4-mapped address is written
 *   `::ffff:a.b.c.d`, as Deno formats peer addresses.
 */

import { formatIPv6, parseIPv4, parseIPv6 } from "../http/ip.ts";
import { AF_INET, AF_INET6, AF_UNIX } from "./ffi.ts";

/** Size of `struct sockaddr_storage` (buffers for `accept4`/`getsockname`). */
export const SOCKADDR_STORAGE_BYTES = 128;
/** Longest unix socket path (bytes, without the terminating NUL). */
export const UNIX_PATH_MAX = 107;

/** An address `encodeSockaddr` could not encode. */
export class SockaddrError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SockaddrError";
  }
}

/** What to encode: a TCP host (IP literal) and port, or a unix socket path. */
export type SockaddrSpec =
  | { readonly transport: "tcp"; readonly hostname: string; readonly port: number }
  | { readonly transport: "unix"; readonly path: string };

/** An encoded address: the bytes, their length for the call, and the family. */
export interface EncodedSockaddr {
  /** The `struct sockaddr_*` bytes. */
  readonly bytes: Uint8Array;
  /** The length argument for `bind`/`connect`. */
  readonly length: number;
  /** `AF_INET`, `AF_INET6` or `AF_UNIX`. */
  readonly family: number;
}

const UTF8 = new TextEncoder();
const UTF8_DEC = new TextDecoder();

/** Encodes `spec` as a `struct sockaddr_*`; see the module comment. Throws `SockaddrError`. */
export function encodeSockaddr(spec: SockaddrSpec): EncodedSockaddr {
  if (spec.transport === "unix") {
    const path = UTF8.encode(spec.path);
    if (path.length === 0) throw new SockaddrError("empty unix socket path");
    if (path.length > UNIX_PATH_MAX) {
      throw new SockaddrError(`unix socket path longer than ${UNIX_PATH_MAX} bytes: ${spec.path}`);
    }
    if (path.includes(0)) throw new SockaddrError("unix socket path contains a NUL byte");
    const bytes = new Uint8Array(110);
    new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
    bytes.set(path, 2);
    return { bytes, length: 2 + path.length + 1, family: AF_UNIX };
  }
  const port = spec.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SockaddrError(`invalid port ${port}`);
  }
  let host = spec.hostname;
  if (host === "" || host === "localhost") host = host === "" ? "0.0.0.0" : "127.0.0.1";
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const v4 = parseIPv4(host);
  if (v4 !== null) {
    const bytes = new Uint8Array(16);
    const dv = new DataView(bytes.buffer);
    dv.setUint16(0, AF_INET, true);
    dv.setUint16(2, port, false);
    bytes.set(v4, 4);
    return { bytes, length: 16, family: AF_INET };
  }
  const v6 = parseIPv6(host);
  if (v6 !== null) {
    const bytes = new Uint8Array(28);
    const dv = new DataView(bytes.buffer);
    dv.setUint16(0, AF_INET6, true);
    dv.setUint16(2, port, false);
    bytes.set(v6.bytes, 8);
    dv.setUint32(24, v6.scope, true);
    return { bytes, length: 28, family: AF_INET6 };
  }
  throw new SockaddrError(
    `'${spec.hostname}' is not an IP address (the libc backend does not resolve host names)`,
  );
}

/** Decodes `len` bytes of a `struct sockaddr_*` into a `Deno.Addr`; throws `SockaddrError`. */
export function decodeSockaddr(bytes: Uint8Array, len: number): Deno.Addr {
  if (len < 2) {
    // An unnamed unix socket peer reports only (or not even) its family.
    return { transport: "unix", path: "" };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = dv.getUint16(0, true);
  if (family === AF_INET && len >= 8) {
    return {
      transport: "tcp",
      hostname: `${bytes[4]}.${bytes[5]}.${bytes[6]}.${bytes[7]}`,
      port: dv.getUint16(2, false),
    };
  }
  if (family === AF_INET6 && len >= 24) {
    return {
      transport: "tcp",
      hostname: formatIPv6(bytes.subarray(8, 24)),
      port: dv.getUint16(2, false),
    };
  }
  if (family === AF_UNIX) {
    let end = 2;
    const max = Math.min(len, bytes.length);
    while (end < max && bytes[end] !== 0) end++;
    return { transport: "unix", path: UTF8_DEC.decode(bytes.subarray(2, end)) };
  }
  throw new SockaddrError(`unknown address family ${family} (length ${len})`);
}

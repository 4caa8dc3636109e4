/**
 * A seeded, deterministic generator of PROXY protocol connection openings (v1 text and v2 binary
 * headers, valid and damaged, or none) followed by `GET /env` requests, for the PROXY fuzz runner
 * (`tests/fuzz/proxy_runner.ts`), with the verdict each case must get from lsbaws.
 *
 * Contract:
 * - `generateProxyCase(seed, id)` depends only on its arguments: every case draws from its own
 *   mulberry32 stream derived from (seed, id) (`caseSeed` and `Rng` of tests/fuzz/common.ts, the
 *   seed salted), so case `id` can be rebuilt alone (`deno task fuzz --mode proxy --seed S --only
 *   ID`). Even ids are for the trusted server (`--proxy-protocol auto`, loopback in
 *   `--proxy-allow-ips`: every connection must begin with a header), odd ids for the untrusted one
 *   (`--proxy-allow-ips` without loopback: a header is refused, plain HTTP is served).
 * - A case is a preamble of one kind (`PROXY_KINDS`): a valid header (v1 TCP4, TCP6 in every
 *   RFC 4291 text form, UNKNOWN; v2 INET, INET6, LOCAL, UNSPEC, UNIX, with random TLVs, some
 *   malformed, which are skipped unchecked), a damaged one (byte flips, truncation, v1 fields: bad
 *   octets, ports, leading zeros, IPv6 text, scopes, spaces, families; v1 line: bare LF, lone CR,
 *   control and high bytes, 107/108-byte lines, a wrong signature; v2 fields: version, command,
 *   family and transport nibbles, PROXY over DGRAM, length fields too short for the addresses,
 *   longer or shorter than the bytes sent, above the limit or exactly at it; a second header),
 *   a proper prefix of a signature, garbage, or nothing; then 0-2 complete `GET /env` requests
 *   (some with `X-Forwarded-For`) and sometimes the start of another. Transport: whole, split
 *   (cuts biased into the preamble) or, for short inputs, byte by byte (`pickDelivery`). Ending:
 *   half-close, close, reset or a keep-open wait (rarely for cases that can only end by a
 *   timeout).
 * - Verdicts (`ProxyVerdict`) come from this module's own reference model, written from the
 *   PROXY protocol specification and the contract of server/http/proxy_protocol.ts and sharing
 *   no code with the server: `decodeHeader` (a trusted peer's first bytes: a header, missing,
 *   invalid, or unfinished, with the server's documented early refusals: a signature mismatch at
 *   once, a v1 control byte or a line past 107 bytes, v2 fields as soon as their byte is in, a v2
 *   total above `PROXY_MAX_BYTES` once the 16 fixed bytes are in) and `looksLikeHeader` (an
 *   untrusted peer's: either signature whole, a proper prefix of one, or neither). "refused" is
 *   exactly one 400 (trusted) or 403 (untrusted) and the close. "served" lists, per complete
 *   request, the client it must report (REMOTE_ADDR and REMOTE_PORT: the header's source, or the
 *   socket peer 127.0.0.1 and its ephemeral port for v1 UNKNOWN, v2 LOCAL, UNSPEC and UNIX and on
 *   the untrusted server; an `X-Forwarded-For` value with port 0 when that client is itself in the
 *   default `--forwarded-allow-ips`), and what may follow: nothing ("idle": after a header with
 *   no request too, the server closing at its keep-alive timeout), a 408 for an unfinished
 *   request ("partial"), exactly one 400 (a second header, then a request: "error"),
 *   or anything HTTP may make of bytes the header did not account for ("unknown": more 200s
 *   with a plausible client, then at most one error status other than 403 and 500; or nothing,
 *   as the HTTP parser judges a head only once it is whole). "pending" (an unfinished
 *   header) is no response at all, or a 408 once `--headers-timeout-ms` passes; a 400 is allowed
 *   too (`maybe400`) unless the bytes are a prefix of a valid header. Every case has exactly
 *   this one verdict: the oracle tolerates no departure from the contract.
 */
import { concatBytes } from "../server/http/_helpers.ts";
import { DEFAULTS } from "../../server/config.ts";
import { caseSeed, latin1, pickDelivery, pickWeighted, Rng } from "./common.ts";

/** Which server a case is played against: loopback trusted to send headers, or not. */
export type ProxyServer = "trusted" | "untrusted";

/** How the case's bytes reach the server. */
export type ProxyDelivery = "whole" | "split" | "bytewise";

/** How the client ends: half-close, close, reset (close with unread bytes) or keep-open wait. */
export type ProxyEnding = "halfclose" | "close" | "reset" | "wait";

/**
 * The client a request must report: REMOTE_ADDR, and REMOTE_PORT (null: the socket's own
 * ephemeral port, which the client does not know; it must then be the same on the connection).
 */
export interface ClientAddr {
  /** Expected REMOTE_ADDR. */
  readonly addr: string;
  /** Expected REMOTE_PORT, or null for the socket peer's port. */
  readonly port: number | null;
}

/** What the server must do with a case; see the module comment. */
export type ProxyVerdict =
  | { readonly kind: "refused"; readonly status: 400 | 403 }
  | { readonly kind: "pending"; readonly maybe400: boolean }
  | {
    readonly kind: "served";
    /** The connection's client (the header's source, or the socket peer). */
    readonly base: ClientAddr;
    /** The client each complete request must report, in order. */
    readonly clients: readonly ClientAddr[];
    /** What may follow their responses. */
    readonly after: "idle" | "partial" | "error" | "unknown";
    /** REMOTE_ADDR values a 200 in an "unknown" tail may carry. */
    readonly others: readonly string[];
  };

/** One PROXY fuzz case. */
export interface ProxyCase {
  /** Case number within the run. */
  readonly id: number;
  /** The preamble's kind (the summary groups by it). */
  readonly kind: string;
  /** The server the case is for (even ids: trusted). */
  readonly server: ProxyServer;
  /** A short description of the preamble. */
  readonly desc: string;
  /** Everything the client sends. */
  readonly bytes: Uint8Array;
  /** Length of the preamble (the header bytes before the requests). */
  readonly preambleBytes: number;
  /** Complete `GET /env` requests after the preamble. */
  readonly requests: number;
  /** Whether the start of one more request follows them. */
  readonly partial: boolean;
  /** The source a valid header was built to carry (null: none); undefined for other kinds. */
  readonly built?: ClientAddr | null;
  /** Delivery mode. */
  readonly delivery: ProxyDelivery;
  /** Cut points (ascending offsets) for "split" delivery. */
  readonly cuts: readonly number[];
  /** How the client ends the connection. */
  readonly ending: ProxyEnding;
  /** The verdict under the contract. */
  readonly verdict: ProxyVerdict;
}

/** The largest v2 header the server accepts: its `--max-head-bytes` default. */
export const PROXY_MAX_BYTES: number = DEFAULTS.maxHeadBytes;

/** The `--proxy-allow-ips` of the untrusted server (loopback is not in it). */
export const UNTRUSTED_ALLOW_IPS = "10.255.255.1";

const CR = 0x0d;
const LF = 0x0a;
const V1_SIG = Uint8Array.from([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]); // "PROXY "
const V2_SIG = Uint8Array.from([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
/** The longest v1 line, CRLF included (the specification's 107). */
const V1_MAX = 107;
/** The socket peer as the server reports it. */
const PEER: ClientAddr = { addr: "127.0.0.1", port: null };
/** Clients the default `--forwarded-allow-ips` trusts, as the server writes them. */
const FORWARD_TRUSTED = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

// ---- The reference model ------------------------------------------------------------------------

/** What the reference model makes of a trusted peer's first bytes. */
export type Decoded =
  | { readonly kind: "missing" }
  | { readonly kind: "invalid"; readonly why: string }
  | { readonly kind: "unfinished" }
  | { readonly kind: "header"; readonly consumed: number; readonly source: ClientAddr | null };

/** Whether `b` and `sig` agree on their common length. */
function agrees(b: Uint8Array, sig: Uint8Array): boolean {
  const n = Math.min(b.length, sig.length);
  for (let i = 0; i < n; i++) if (b[i] !== sig[i]) return false;
  return true;
}

/**
 * Whether an untrusted peer's first bytes are a header: true once either signature is whole,
 * null while they are a proper prefix of one (nothing sent included), false otherwise.
 */
export function looksLikeHeader(b: Uint8Array): boolean | null {
  if (agrees(b, V1_SIG)) return b.length >= V1_SIG.length ? true : null;
  if (agrees(b, V2_SIG)) return b.length >= V2_SIG.length ? true : null;
  return false;
}

/** A dotted quad: exactly four decimal numbers 0..255 without leading zeros. */
function refIPv4(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    out.push(Number(p));
  }
  return out;
}

/**
 * RFC 4291 §2.2 text: eight groups of 1-4 hex digits, one `::` for one or more zero groups, the
 * last 32 bits optionally a dotted quad (so only as the last item, after `::` when there is one:
 * `1.2.3.4::5` is no address); no zone.
 */
function refIPv6(s: string): Uint8Array | null {
  if (s === "" || !/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  const gap = s.indexOf("::");
  if (gap >= 0 && s.indexOf("::", gap + 1) >= 0) return null;
  const groups = (part: string, dotted: boolean): number[] | null => {
    if (part === "") return [];
    const items = part.split(":");
    const out: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.includes(".")) {
        const q = dotted && i === items.length - 1 ? refIPv4(it) : null;
        if (q === null) return null;
        out.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(it)) out.push(parseInt(it, 16));
      else return null;
    }
    return out;
  };
  let all: number[];
  if (gap < 0) {
    const g = groups(s, true);
    if (g === null || g.length !== 8) return null;
    all = g;
  } else {
    const head = groups(s.slice(0, gap), false);
    const tail = groups(s.slice(gap + 2), true);
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  }
  const b = new Uint8Array(16);
  all.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 0xff;
  });
  return b;
}

/**
 * RFC 5952 text of 16 address bytes: lower-case hex without leading zeros, the longest run of
 * two or more zero groups (the first of equals) as `::`; an IPv4-mapped address (::ffff:0:0/96)
 * as `::ffff:a.b.c.d` (RFC 5952 §5, as the contract says).
 */
export function rfc5952(b: Uint8Array | readonly number[]): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b[i] * 256 + b[i + 1]);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let at = -1;
  let len = 1; // a run must be longer than this to be compressed
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > len) {
      at = i;
      len = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  return at < 0 ? hex(g) : `${hex(g.slice(0, at))}::${hex(g.slice(at + len))}`;
}

/** A v1 port: decimal 0..65535 without leading zeros. */
function refPort(s: string): number | null {
  return /^(?:0|[1-9][0-9]{0,4})$/.test(s) && Number(s) <= 65535 ? Number(s) : null;
}

function invalid(why: string): Decoded {
  return { kind: "invalid", why };
}

const UNFINISHED: Decoded = { kind: "unfinished" };

/** The v1 line of `b` (which begins with the v1 signature). */
function decodeV1(b: Uint8Array): Decoded {
  let cr = -1;
  for (let i = V1_SIG.length; i < b.length && i < V1_MAX; i++) {
    if (b[i] === CR) {
      if (i + 2 > V1_MAX) return invalid("v1 line over 107 bytes");
      if (i + 1 === b.length) return UNFINISHED;
      if (b[i + 1] !== LF) return invalid("v1 CR without LF");
      cr = i;
      break;
    }
    if (b[i] < 0x20 || b[i] > 0x7e) return invalid("v1 byte not printable ASCII");
  }
  if (cr < 0) return b.length >= V1_MAX ? invalid("v1 line over 107 bytes") : UNFINISHED;
  const f = latin1(b.subarray(V1_SIG.length, cr)).split(" ");
  const consumed = cr + 2;
  if (f[0] === "UNKNOWN") return { kind: "header", consumed, source: null };
  if (f[0] !== "TCP4" && f[0] !== "TCP6") return invalid("v1 protocol");
  if (f.length !== 5) return invalid("v1 field count");
  const addr = (s: string) => {
    if (f[0] === "TCP4") return refIPv4(s)?.join(".") ?? null;
    const b16 = refIPv6(s);
    return b16 === null ? null : rfc5952(b16);
  };
  const src = addr(f[1]), dst = addr(f[2]);
  const sport = refPort(f[3]), dport = refPort(f[4]);
  if (src === null || dst === null) return invalid("v1 address");
  if (sport === null || dport === null) return invalid("v1 port");
  return { kind: "header", consumed, source: { addr: src, port: sport } };
}

/** The v2 header of `b` (which begins with the v2 signature). */
function decodeV2(b: Uint8Array): Decoded {
  if (b.length < 13) return UNFINISHED;
  const version = b[12] >> 4, command = b[12] & 0x0f;
  if (version !== 2) return invalid("v2 version");
  if (command > 1) return invalid("v2 command");
  if (b.length < 14) return UNFINISHED;
  const family = b[13] >> 4, transport = b[13] & 0x0f;
  const local = command === 0;
  // LOCAL accepts any family and transport byte, unknown values included (the specification:
  // the receiver discards the protocol block, family included).
  if (!local) {
    if (family > 3) return invalid("v2 family");
    if (transport > 2) return invalid("v2 transport");
    if (transport === 2) return invalid("v2 PROXY over DGRAM");
  }
  if (b.length < 16) return UNFINISHED;
  const length = (b[14] << 8) | b[15];
  if (16 + length > PROXY_MAX_BYTES) return invalid("v2 header over the limit");
  const stream = !local && transport === 1;
  if (stream && family === 1 && length < 12) return invalid("v2 INET block too short");
  if (stream && family === 2 && length < 36) return invalid("v2 INET6 block too short");
  if (b.length < 16 + length) return UNFINISHED;
  const consumed = 16 + length;
  if (!stream || family === 0 || family === 3) return { kind: "header", consumed, source: null };
  if (family === 1) {
    return {
      kind: "header",
      consumed,
      source: { addr: [...b.subarray(16, 20)].join("."), port: (b[24] << 8) | b[25] },
    };
  }
  return {
    kind: "header",
    consumed,
    source: { addr: rfc5952(b.subarray(16, 32)), port: (b[48] << 8) | b[49] },
  };
}

/** What a trusted peer's first bytes `b` are under the contract (see the module comment). */
export function decodeHeader(b: Uint8Array): Decoded {
  if (agrees(b, V1_SIG)) return b.length < V1_SIG.length ? UNFINISHED : decodeV1(b);
  if (agrees(b, V2_SIG)) return b.length < V2_SIG.length ? UNFINISHED : decodeV2(b);
  return { kind: "missing" };
}

// ---- Addresses ----------------------------------------------------------------------------------

function v4Bytes(r: Rng): number[] {
  const roll = r.float();
  if (roll < 0.08) return [127, 0, 0, 1];
  if (roll < 0.13) return r.pick([[0, 0, 0, 0], [255, 255, 255, 255], [10, 255, 255, 1]]);
  if (roll < 0.3) return [203, 0, 113, r.int(256)];
  return [r.int(256), r.int(256), r.int(256), r.int(256)];
}

function v6Bytes(r: Rng): number[] {
  const roll = r.float();
  const b = new Array<number>(16).fill(0);
  if (roll < 0.06) b[15] = 1; // ::1
  else if (roll < 0.09) { /* :: */ }
  else if (roll < 0.17) {
    b[10] = b[11] = 0xff; // ::ffff:a.b.c.d
    b.splice(12, 4, ...(r.chance(0.3) ? [127, 0, 0, 1] : v4Bytes(r)));
  } else if (roll < 0.21) b.splice(12, 4, ...v4Bytes(r)); // ::a.b.c.d (IPv4-compatible)
  else {
    for (let i = 0; i < 16; i += 2) {
      if (r.chance(0.35)) continue;
      const g = r.chance(0.3) ? r.int(16) : r.int(0x10000);
      b[i] = g >> 8;
      b[i + 1] = g & 0xff;
    }
    if (r.chance(0.2)) b.splice(0, 2, 0x20, 0x01); // 2001:...
  }
  return b;
}

/** A valid RFC 4291 text of `b`: padded or upper-case groups, a zero run as `::`, a dotted tail. */
function v6Text(r: Rng, b: readonly number[]): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b[i] * 256 + b[i + 1]);
  const pad = r.chance(0.2), upper = r.chance(0.2);
  const hex = (x: number) => {
    let s = x.toString(16);
    if (pad && r.chance(0.7)) s = s.padStart(4, "0");
    return upper ? s.toUpperCase() : s;
  };
  const dotted = r.chance(0.2);
  const limit = dotted ? 6 : 8;
  const items = g.slice(0, limit).map(hex);
  if (dotted) items.push(b.slice(12).join("."));
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < limit; i++) {
    if (g[i] !== 0) continue;
    let j = i;
    while (j < limit && g[j] === 0) j++;
    runs.push([i, j]);
    i = j;
  }
  if (runs.length === 0 || r.chance(0.15)) return items.join(":");
  const [s, e] = r.pick(runs);
  const from = r.range(s, e - 1), to = r.range(from + 1, e);
  return `${items.slice(0, from).join(":")}::${items.slice(to).join(":")}`;
}

function port(r: Rng): number {
  const roll = r.float();
  return roll < 0.05 ? 0 : roll < 0.1 ? 65535 : roll < 0.13 ? 1 : r.int(0x10000);
}

// ---- Headers ------------------------------------------------------------------------------------

/** A header as built: its bytes and what it was built to say. */
interface Header {
  readonly bytes: Uint8Array;
  readonly desc: string;
  /** The source it carries (null: the socket peer is kept). */
  readonly source: ClientAddr | null;
  /** v1 TCP headers: protocol, source, destination, source port, destination port. */
  readonly tokens?: readonly string[];
  /** v2 headers: offset of the TLVs (16 + the address block). */
  readonly tlvAt?: number;
}

function v1Line(tokens: readonly string[]): Uint8Array {
  return ascii(`PROXY ${tokens.join(" ")}\r\n`);
}

function v1Tcp4(r: Rng): Header {
  const src = v4Bytes(r), dst = v4Bytes(r), sp = port(r), dp = port(r);
  const tokens = ["TCP4", src.join("."), dst.join("."), String(sp), String(dp)];
  return {
    bytes: v1Line(tokens),
    desc: "v1 TCP4",
    source: { addr: src.join("."), port: sp },
    tokens,
  };
}

function v1Tcp6(r: Rng): Header {
  const src = v6Bytes(r), dst = v6Bytes(r), sp = port(r), dp = port(r);
  let tokens = ["TCP6", v6Text(r, src), v6Text(r, dst), String(sp), String(dp)];
  if (v1Line(tokens).length > V1_MAX) {
    tokens = ["TCP6", rfc5952(src), rfc5952(dst), String(sp), String(dp)];
  }
  return {
    bytes: v1Line(tokens),
    desc: "v1 TCP6",
    source: { addr: rfc5952(src), port: sp },
    tokens,
  };
}

/** Printable ASCII of length `n`, without CR/LF. */
function printable(r: Rng, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.range(0x20, 0x7e));
  return s;
}

function v1Unknown(r: Rng): Header {
  const roll = r.float();
  let line: string;
  if (roll < 0.4) line = "PROXY UNKNOWN\r\n";
  else if (roll < 0.6) {
    line = `PROXY UNKNOWN ${rfc5952(v6Bytes(r))} ${rfc5952(v6Bytes(r))} ${port(r)} ${port(r)}\r\n`;
  } else if (roll < 0.8) line = `PROXY UNKNOWN ${printable(r, r.int(80))}\r\n`;
  else line = `PROXY UNKNOWN ${printable(r, V1_MAX - 16)}\r\n`; // exactly 107 bytes
  return { bytes: ascii(line), desc: `v1 UNKNOWN(${line.length})`, source: null };
}

/** Random TLVs (some malformed: they are skipped unchecked), about `budget` bytes at most. */
function tlvs(r: Rng, budget = 300): Uint8Array {
  const out: number[] = [];
  for (let n = r.chance(0.4) ? 0 : r.range(1, 4); n > 0; n--) {
    const type = r.pick([0x01, 0x02, 0x03, 0x04, 0x05, 0x20, 0x21, 0x30, 0xe0, r.int(256)]);
    let value: number[];
    if (type === 0x01) value = [...ascii(r.pick(["h2", "http/1.1"]))];
    else if (type === 0x02) value = [...ascii("example.test")];
    else if (type === 0x03) value = [...r.bytes(4)]; // a CRC32C that is never checked
    else value = [...r.bytes(r.int(Math.max(1, Math.min(budget, 64))))];
    const len = r.chance(0.08) ? value.length + r.range(1, 300) : value.length; // lies
    out.push(type, len >> 8, len & 0xff, ...value);
  }
  if (r.chance(0.05)) out.push(r.int(256)); // a lone byte
  return Uint8Array.from(out.slice(0, Math.max(budget, 0)));
}

/** A v2 header: command byte, family/transport byte, address block and TLVs. */
function v2(verCmd: number, famTr: number, block: Uint8Array, tail: Uint8Array): Uint8Array {
  const len = block.length + tail.length;
  return concatBytes(V2_SIG, Uint8Array.from([verCmd, famTr, len >> 8, len & 0xff]), block, tail);
}

function v2Inet(r: Rng): Header {
  const src = v4Bytes(r), dst = v4Bytes(r), sp = port(r), dp = port(r);
  const block = Uint8Array.from([...src, ...dst, sp >> 8, sp & 0xff, dp >> 8, dp & 0xff]);
  return {
    bytes: v2(0x21, 0x11, block, tlvs(r)),
    desc: "v2 PROXY INET",
    source: { addr: src.join("."), port: sp },
    tlvAt: 28,
  };
}

function v2Inet6(r: Rng): Header {
  const src = v6Bytes(r), dst = v6Bytes(r), sp = port(r), dp = port(r);
  const block = Uint8Array.from([...src, ...dst, sp >> 8, sp & 0xff, dp >> 8, dp & 0xff]);
  return {
    bytes: v2(0x21, 0x21, block, tlvs(r)),
    desc: "v2 PROXY INET6",
    source: { addr: rfc5952(src), port: sp },
    tlvAt: 52,
  };
}

function v2Local(r: Rng): Header {
  const famTr = r.pick([0x00, 0x00, 0x11, 0x21, 0x31, 0x12, 0x01, 0x10, 0x02]);
  const block = r.bytes(r.pick([0, 0, 12, 36, r.int(40)]));
  return {
    bytes: v2(0x20, famTr, block, tlvs(r)),
    desc: `v2 LOCAL 0x${famTr.toString(16).padStart(2, "0")}`,
    source: null,
    tlvAt: 16 + block.length,
  };
}

function v2Unspec(r: Rng): Header {
  // AF_UNSPEC (any transport but DGRAM), or INET/INET6/UNIX with an UNSPEC transport.
  const famTr = r.pick([0x00, 0x01, 0x10, 0x20, 0x30]);
  const block = r.bytes(r.pick([0, 12, 36, r.int(40)]));
  return {
    bytes: v2(0x21, famTr, block, tlvs(r)),
    desc: `v2 PROXY 0x${famTr.toString(16).padStart(2, "0")}`,
    source: null,
    tlvAt: 16 + block.length,
  };
}

function v2Unix(r: Rng): Header {
  const path = (s: string) => {
    const b = new Uint8Array(108);
    b.set(ascii(s));
    return b;
  };
  const block = r.chance(0.7)
    ? concatBytes(path(`/run/p${r.int(100)}.sock`), path("/run/lsbaws.sock"))
    : r.bytes(r.int(216));
  return {
    bytes: v2(0x21, 0x31, block, tlvs(r)),
    desc: `v2 PROXY UNIX(${block.length})`,
    source: null,
    tlvAt: 16 + block.length,
  };
}

const VALID_BUILDERS: ReadonlyArray<readonly [string, (r: Rng) => Header]> = [
  ["v1-tcp4", v1Tcp4],
  ["v1-tcp6", v1Tcp6],
  ["v1-unknown", v1Unknown],
  ["v2-inet", v2Inet],
  ["v2-inet6", v2Inet6],
  ["v2-local", v2Local],
  ["v2-unspec", v2Unspec],
  ["v2-unix", v2Unix],
];

function anyValid(r: Rng): Header {
  return r.pick(VALID_BUILDERS)[1](r);
}

function anyV1Tcp(r: Rng): Header {
  return r.chance(0.5) ? v1Tcp4(r) : v1Tcp6(r);
}

function anyV2(r: Rng): Header {
  return r.pick([v2Inet, v2Inet, v2Inet6, v2Inet6, v2Local, v2Unspec, v2Unix])(r);
}

// ---- Preambles ----------------------------------------------------------------------------------

/** A preamble: its bytes, and what the verdict needs to know about how it was made. */
interface Preamble {
  readonly bytes: Uint8Array;
  readonly desc: string;
  /** Whether requests follow it (a truncated header may be sent alone). */
  readonly withBody: boolean;
  /** The bytes alone are a prefix of a valid header (a 400 would refuse a header still coming). */
  readonly prefixOfValid: boolean;
  /** For an unchanged valid header: the source it carries. */
  readonly built?: ClientAddr | null;
  /** Two headers: the first one's length (what follows it reaches the HTTP parser). */
  readonly firstHeader?: number;
}

function valid(build: (r: Rng) => Header): (r: Rng) => Preamble {
  return (r) => {
    const h = build(r);
    return { bytes: h.bytes, desc: h.desc, withBody: true, prefixOfValid: false, built: h.source };
  };
}

/** 1-3 random byte changes, mostly inside the header. */
function flip(r: Rng): Preamble {
  const h = anyValid(r);
  const b = h.bytes.slice();
  const at: number[] = [];
  for (let n = r.range(1, 3); n > 0; n--) {
    const i = r.chance(0.4) ? r.int(Math.min(b.length, 16)) : r.int(b.length);
    b[i] = r.chance(0.5) ? b[i] ^ (1 << r.int(8)) : r.int(256);
    at.push(i);
  }
  return {
    bytes: b,
    desc: `${h.desc} flipped@${at.join(",")}`,
    withBody: true,
    prefixOfValid: false,
  };
}

/** A valid header cut short: alone (a prefix of a valid header) or with the requests after it. */
function truncate(r: Rng): Preamble {
  const h = anyValid(r);
  const at = r.chance(0.3)
    ? r.range(1, Math.min(16, h.bytes.length - 1))
    : r.range(1, h.bytes.length - 1);
  const withBody = r.chance(0.5);
  return {
    bytes: h.bytes.subarray(0, at),
    desc: `${h.desc} cut@${at}/${h.bytes.length}`,
    withBody,
    prefixOfValid: !withBody,
  };
}

/** IPv6 texts around the RFC 4291 rules (the model decides which are valid). */
const V6_EDGE = [
  "::",
  "::1",
  "1::",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8",
  "0:0:0:0:0:0:0:0",
  "::ffff:1.2.3.4",
  "::1.2.3.4",
  "1:2:3:4:5:6:1.2.3.4",
  "64:ff9b::192.0.2.1",
  "::FFFF:7F00:1",
  "1:2:3:4:5:6:7:8::",
  "::1:2:3:4:5:6:7:8",
  "1::2::3",
  ":::1",
  "1:::2",
  ":1::2",
  "1::2:",
  "1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7:8:9",
  "12345::1",
  "g::1",
  "1.2.3.4::",
  "1.2.3.4::5",
  "::1.2.3.4:5",
  "1:2:3:4:5:6:7:1.2.3.4",
  "::1.2.3",
  "::256.1.1.1",
  "::01.2.3.4",
  "fe80::1%1",
  "fe80::1%eth0",
  "[::1]",
  "::1/128",
  "",
];

/** IPv6 text with a dotted quad somewhere among hex groups and maybe a `::` (valid only last). */
function dottedQuadAnywhere(r: Rng): string {
  const items: string[] = [];
  for (let n = r.range(1, 7); n > 0; n--) items.push(r.int(0x10000).toString(16));
  const q = r.int(items.length + 1);
  items.splice(q, 0, v4Bytes(r).join("."));
  if (r.chance(0.4)) items.splice(q + 1, 0, ""); // the quad right before `::`
  else if (r.chance(0.7)) items.splice(r.int(items.length + 1), 0, "");
  const text = items.join(":");
  return text.startsWith(":") && !text.startsWith("::")
    ? `:${text}`
    : text.endsWith(":") && !text.endsWith("::")
    ? `${text}:`
    : text;
}

/** One field of a v1 TCP line damaged (or changed in a way the model must judge). */
function v1Fields(r: Rng): Preamble {
  const h = anyV1Tcp(r);
  const t = [...h.tokens!];
  const v6 = t[0] === "TCP6";
  const which = r.int(12);
  let what: string;
  let sep = " ";
  let lead = "", trail = "";
  if (which === 0) {
    what = "octet";
    const k = 1 + r.int(2);
    const q = t[k].split(".");
    if (v6 || q.length !== 4) t[k] = r.pick(["256.1.1.1", "1.2.3.999", "300.300.300.300"]);
    else {
      q[r.int(4)] = String(r.range(256, 999));
      t[k] = q.join(".");
    }
  } else if (which === 1) {
    what = "leading-zero";
    const k = r.int(4);
    if (k < 2) t[3 + k] = "0" + t[3 + k];
    else if (!v6) {
      const q = t[k - 1].split(".");
      const j = r.int(q.length);
      q[j] = "0" + q[j];
      t[k - 1] = q.join(".");
    } else t[k - 1] = "0" + t[k - 1]; // a 5th hex digit, or still valid: the model says
  } else if (which === 2) {
    what = "port";
    t[3 + r.int(2)] = r.pick([
      "65536",
      "99999",
      "100000",
      "-1",
      "+80",
      "",
      "0x50",
      "1e3",
      " 80",
      "８0",
    ]);
  } else if (which === 3) {
    what = "field-count";
    if (r.chance(0.5)) t.splice(1 + r.int(4), 1);
    else t.splice(1 + r.int(5), 0, r.pick(["1", "1.2.3.4", "::1", "x"]));
  } else if (which === 4) {
    what = "spaces";
    const k = r.int(4);
    if (k === 0) sep = r.pick(["  ", "\t", " \t"]);
    else if (k === 1) lead = " ";
    else if (k === 2) trail = r.pick([" ", "  ", "\t"]);
    else t[1 + r.int(4)] += " ";
  } else if (which === 5) {
    what = "family";
    t[0] = r.pick([
      "TCP6",
      "TCP4",
      "tcp4",
      "TCP5",
      "UDP4",
      "TCP",
      "UNKNOWN",
      "UNKNOWNX",
      "",
      "TCP4 ",
    ]);
  } else if (which === 6) {
    what = "v4-text";
    t[1 + r.int(2)] = r.pick([
      "1.2.3",
      "1.2.3.4.5",
      "1..3.4",
      "1.2.3.",
      ".1.2.3",
      "1.2.3.04",
      "0.0.0.0",
      "255.255.255.255",
      "a.b.c.d",
      "1,2,3,4",
    ]);
  } else if (which <= 9) {
    what = "v6-text";
    t[0] = r.chance(0.9) ? "TCP6" : "TCP4";
    t[1 + r.int(2)] = r.chance(0.6) ? r.pick(V6_EDGE) : dottedQuadAnywhere(r);
  } else if (which === 10) {
    what = "scope";
    t[0] = "TCP6";
    t[1] = `${rfc5952(v6Bytes(r))}%${r.pick(["1", "0", "eth0", ""])}`;
  } else {
    what = "swap-families";
    [t[1], t[2]] = [t[2], t[1]];
    t[0] = t[0] === "TCP4" ? "TCP6" : "TCP4";
  }
  const text = `PROXY ${lead}${t.join(sep)}${trail}\r\n`;
  return { bytes: ascii(text), desc: `${h.desc} ${what}`, withBody: true, prefixOfValid: false };
}

/** The v1 line itself damaged: its ending, a control or high byte, its length, its signature. */
function v1LineDamage(r: Rng): Preamble {
  const h = r.chance(0.8) ? anyV1Tcp(r) : v1Unknown(r);
  const line = latin1(h.bytes);
  const body = line.slice(0, -2);
  const which = r.int(8);
  let text: string;
  let what: string;
  if (which === 0) {
    what = "lf-only";
    text = `${body}\n`;
  } else if (which === 1) {
    what = "cr-only";
    text = `${body}\r`;
  } else if (which === 2) {
    what = "control";
    const at = r.range(6, body.length);
    const x = r.pick([0x00, 0x01, 0x09, 0x0b, 0x7f, 0x80, 0xc3, 0xff, 0x0a, 0x0d]);
    text = `${body.slice(0, at)}${String.fromCharCode(x)}${body.slice(at)}\r\n`;
  } else if (which === 3) {
    what = "length";
    const n = r.pick([V1_MAX, V1_MAX + 1, V1_MAX - 1, V1_MAX + 2, 200, 300]);
    text = `PROXY UNKNOWN ${"x".repeat(Math.max(0, n - 16))}\r\n`;
  } else if (which === 4) {
    what = "length-no-crlf";
    text = `PROXY UNKNOWN ${"y".repeat(r.range(V1_MAX - 16, 150))}`;
  } else if (which === 5) {
    what = "signature";
    text = r.pick(["proxy ", "PROXY", "PROXY\t", "PROXZ ", " PROXY "]) + body.slice(6) + "\r\n";
  } else if (which === 6) {
    what = "empty";
    text = r.pick(["PROXY \r\n", "PROXY  \r\n", "PROXY\r\n", "PROXY \n"]);
  } else {
    what = "crlf-twice";
    text = `${body}\r\r\n`;
  }
  return { bytes: ascii(text), desc: `${h.desc} ${what}`, withBody: true, prefixOfValid: false };
}

/** The v2 fixed part or length damaged. */
function v2Fields(r: Rng): Preamble {
  const h = anyV2(r);
  let b: Uint8Array = h.bytes.slice();
  const len = (b[14] << 8) | b[15];
  const setLen = (n: number) => {
    b[14] = (n >> 8) & 0xff;
    b[15] = n & 0xff;
  };
  const which = r.int(10);
  let what: string;
  if (which === 0) {
    what = "version";
    b[12] = (r.pick([0, 1, 3, 4, 15]) << 4) | (b[12] & 0x0f);
  } else if (which === 1) {
    what = "command";
    b[12] = 0x20 | r.range(2, 15);
  } else if (which === 2) {
    what = "family";
    b[13] = (r.range(4, 15) << 4) | (b[13] & 0x0f);
  } else if (which === 3) {
    what = "transport";
    b[13] = (b[13] & 0xf0) | r.range(3, 15);
  } else if (which === 4) {
    what = "dgram";
    b[13] = (b[13] & 0xf0) | 2;
  } else if (which === 5) {
    what = "length-short";
    const fam = b[13] >> 4;
    setLen(r.int(fam === 2 ? 36 : 12));
  } else if (which === 6) {
    what = "length-long";
    setLen(Math.min(0xffff, len + r.range(1, 120)));
  } else if (which === 7) {
    what = "length-shorter";
    setLen(Math.max(0, len - r.range(1, Math.max(1, Math.min(len, 40)))));
  } else if (which === 8) {
    what = "length-over-limit";
    setLen(r.chance(0.3) ? PROXY_MAX_BYTES - 16 + 1 : r.range(PROXY_MAX_BYTES - 15, 0xffff));
    b = b.subarray(0, Math.min(b.length, r.range(16, 40)));
  } else {
    // Exactly at the limit (valid) or one byte over it, with a big TLV.
    what = "length-at-limit";
    const total = PROXY_MAX_BYTES + (r.chance(0.7) ? 0 : 1);
    const at = h.tlvAt ?? b.length;
    const pad = total - at - 3;
    const tlv = Uint8Array.from([0x04, (pad >> 8) & 0xff, pad & 0xff]);
    b = concatBytes(b.subarray(0, at), tlv, new Uint8Array(pad));
    setLen(total - 16);
  }
  return { bytes: b, desc: `${h.desc} ${what}`, withBody: true, prefixOfValid: false };
}

/** Two valid headers back to back: the second one reaches the HTTP parser, which must refuse it. */
function double(r: Rng): Preamble {
  const a = anyValid(r), b = anyValid(r);
  return {
    bytes: concatBytes(a.bytes, b.bytes),
    desc: `${a.desc} + ${b.desc}`,
    withBody: true,
    prefixOfValid: false,
    firstHeader: a.bytes.length,
  };
}

/** A proper prefix of either signature: alone, or followed by the requests. */
function sigPrefix(r: Rng): Preamble {
  const sig = r.chance(0.5) ? V1_SIG : V2_SIG;
  const n = r.range(1, sig.length - 1);
  const withBody = r.chance(0.6);
  return {
    bytes: sig.subarray(0, n),
    desc: `${sig === V1_SIG ? "v1" : "v2"} signature prefix ${n}`,
    withBody,
    prefixOfValid: !withBody,
  };
}

/** Random bytes, sometimes after a signature or a prefix of one. */
function garbage(r: Rng): Preamble {
  const lead = r.pick([
    new Uint8Array(0),
    V1_SIG,
    V2_SIG,
    V1_SIG.subarray(0, 3),
    V2_SIG.subarray(0, 5),
  ]);
  const ascii7 = r.chance(0.5);
  const n = r.range(1, 120);
  const junk = ascii7 ? ascii(printable(r, n)) : r.bytes(n);
  return {
    bytes: concatBytes(lead, junk),
    desc: `garbage(${lead.length}+${n})`,
    withBody: r.chance(0.5),
    prefixOfValid: false,
  };
}

/** No header at all: the requests alone. */
function none(_r: Rng): Preamble {
  return { bytes: new Uint8Array(0), desc: "no header", withBody: true, prefixOfValid: false };
}

/** Preamble kinds with their weights on the trusted and the untrusted server. */
const PREAMBLES: ReadonlyArray<readonly [string, number, number, (r: Rng) => Preamble]> = [
  ["v1-tcp4", 8, 4, valid(v1Tcp4)],
  ["v1-tcp6", 8, 3, valid(v1Tcp6)],
  ["v1-unknown", 4, 2, valid(v1Unknown)],
  ["v2-inet", 8, 4, valid(v2Inet)],
  ["v2-inet6", 7, 3, valid(v2Inet6)],
  ["v2-local", 5, 2, valid(v2Local)],
  ["v2-unspec", 3, 1, valid(v2Unspec)],
  ["v2-unix", 3, 1, valid(v2Unix)],
  ["flip", 8, 6, flip],
  ["truncate", 8, 6, truncate],
  ["v1-fields", 12, 3, v1Fields],
  ["v1-line", 7, 4, v1LineDamage],
  ["v2-fields", 12, 3, v2Fields],
  ["double", 3, 2, double],
  ["sig-prefix", 3, 7, sigPrefix],
  ["garbage", 3, 6, garbage],
  ["none", 5, 30, none],
];

/** Names of every preamble kind, in a stable order. */
export const PROXY_KINDS: readonly string[] = PREAMBLES.map(([k]) => k);

const TABLES: Record<ProxyServer, ReadonlyArray<readonly [string, number, (r: Rng) => Preamble]>> =
  {
    trusted: PREAMBLES.map(([k, w, , f]) => [k, w, f] as const),
    untrusted: PREAMBLES.map(([k, , w, f]) => [k, w, f] as const),
  };

// ---- Requests and verdicts ----------------------------------------------------------------------

/** The requests after a preamble: their bytes, the `X-Forwarded-For` of each, a partial tail. */
interface Body {
  readonly bytes: Uint8Array;
  readonly xffs: readonly (string | null)[];
  readonly partial: boolean;
}

function getEnv(xff: string | null, close = false): string {
  return "GET /env HTTP/1.1\r\nHost: fuzz\r\n" +
    (xff === null ? "" : `X-Forwarded-For: ${xff}\r\n`) +
    (close ? "Connection: close\r\n" : "") + "\r\n";
}

function buildBody(r: Rng): Body {
  const roll = r.float();
  const n = roll < 0.15 ? 0 : roll < 0.65 ? 1 : 2;
  const xffs: (string | null)[] = [];
  let text = "";
  for (let i = 0; i < n; i++) {
    const xff = r.chance(0.2) ? `198.51.100.${r.range(1, 254)}` : null;
    xffs.push(xff);
    text += getEnv(xff);
  }
  const partial = r.chance(0.12);
  if (partial) {
    const more = getEnv(null);
    text += more.slice(0, r.range(1, more.length - 1));
  }
  return { bytes: ascii(text), xffs, partial };
}

/** The client of each request: its X-Forwarded-For if the connection's client is trusted for it. */
function clientsFor(base: ClientAddr, xffs: readonly (string | null)[]): ClientAddr[] {
  const forwardTrusted = FORWARD_TRUSTED.has(base.addr);
  return xffs.map((x) => (x !== null && forwardTrusted ? { addr: x, port: 0 } : base));
}

function served(
  base: ClientAddr,
  body: Body,
  after: "idle" | "partial" | "error" | "unknown",
  counted: boolean,
): ProxyVerdict {
  const xffs = counted ? body.xffs : [];
  const others = [base.addr, ...body.xffs.filter((x): x is string => x !== null)];
  return { kind: "served", base, clients: clientsFor(base, xffs), after, others };
}

/** The verdict of `bytes` (`pre`, `body`) on `server`. */
function verdictOf(
  server: ProxyServer,
  pre: Preamble,
  body: Body,
  bytes: Uint8Array,
): ProxyVerdict {
  if (server === "untrusted") {
    const looks = looksLikeHeader(bytes);
    if (looks === true) return { kind: "refused", status: 403 };
    if (looks === null) return { kind: "pending", maybe400: false };
    if (pre.bytes.length === 0) return served(PEER, body, body.partial ? "partial" : "idle", true);
    return served(PEER, body, "unknown", false);
  }
  const d = decodeHeader(bytes);
  if (d.kind === "missing" || d.kind === "invalid") return { kind: "refused", status: 400 };
  if (d.kind === "unfinished") {
    return { kind: "pending", maybe400: !pre.prefixOfValid && bytes.length > 0 };
  }
  const base = d.source ?? PEER;
  if (d.consumed === pre.bytes.length) {
    return served(base, body, body.partial ? "partial" : "idle", true);
  }
  // The HTTP parser judges a head once it is whole: only a request after the second header
  // completes one (a request line "PROXY ..." or binary bytes, then header lines), surely a 400.
  if (pre.firstHeader !== undefined && d.consumed === pre.firstHeader && body.xffs.length > 0) {
    return served(base, body, "error", false);
  }
  return served(base, body, "unknown", false);
}

/** A verdict's name for tallies and labels. */
export function verdictName(v: ProxyVerdict): string {
  if (v.kind === "refused") return `refused:${v.status}`;
  if (v.kind === "pending") return v.maybe400 ? "pending-or-400" : "pending";
  return `served:${v.after}`;
}

/** Whether a verdict is exact (not "pending-or-400" and not a bare "unknown" tail). */
export function isExact(v: ProxyVerdict): boolean {
  if (v.kind === "pending") return !v.maybe400;
  return v.kind === "refused" || v.after !== "unknown" || v.clients.length > 0;
}

/** Whether a verdict can only end by a timeout when the client keeps the connection open. */
function slow(v: ProxyVerdict): boolean {
  if (v.kind !== "served") return v.kind === "pending";
  return v.after === "partial" || v.after === "unknown" ||
    (v.after === "idle" && v.clients.length === 0);
}

const SALT = 0x5050;

/** Builds case `id` of the run seeded with `seed` (see the module comment). */
export function generateProxyCase(seed: number, id: number): ProxyCase {
  const r = new Rng(caseSeed(seed ^ SALT, id));
  const server: ProxyServer = id % 2 === 0 ? "trusted" : "untrusted";
  const [kind, , build] = pickWeighted(r, TABLES[server]);
  const pre = build(r);
  const body = pre.withBody ? buildBody(r) : { bytes: new Uint8Array(0), xffs: [], partial: false };
  const bytes = concatBytes(pre.bytes, body.bytes);
  const verdict = verdictOf(server, pre, body, bytes);
  const preLen = pre.bytes.length;
  const { delivery, cuts } = pickDelivery(
    r,
    bytes.length,
    { bytewise: 0.06, split: 0.4, maxCuts: 5 },
    () => preLen > 1 && r.chance(0.6) ? r.range(1, preLen) : r.range(1, bytes.length - 1),
  );
  const roll = r.float();
  const w = slow(verdict) ? [0.6, 0.67, 0.92] : [0.5, 0.8, 0.92];
  const ending: ProxyEnding = roll < w[0]
    ? "halfclose"
    : roll < w[1]
    ? "wait"
    : roll < w[2]
    ? "close"
    : "reset";
  return {
    id,
    kind,
    server,
    desc: pre.desc,
    bytes,
    preambleBytes: preLen,
    requests: body.xffs.length,
    partial: body.partial,
    ...(pre.built !== undefined ? { built: pre.built } : {}),
    delivery,
    cuts,
    ending,
    verdict,
  };
}

/**
 * A known-good case for health checks: on the trusted server a v1 TCP4 header (192.0.2.1 port
 * 4242) then `GET /env` with `Connection: close`; on the untrusted one the request alone (the
 * socket peer). Half-closed; verdict "served", one client.
 */
export function healthCase(server: ProxyServer): ProxyCase {
  const header = server === "trusted" ? "PROXY TCP4 192.0.2.1 192.0.2.2 4242 80\r\n" : "";
  const bytes = ascii(header + getEnv(null, true));
  const base = server === "trusted" ? { addr: "192.0.2.1", port: 4242 } : PEER;
  return {
    id: -1,
    kind: "health",
    server,
    desc: "health",
    bytes,
    preambleBytes: header.length,
    requests: 1,
    partial: false,
    delivery: "whole",
    cuts: [],
    ending: "halfclose",
    verdict: { kind: "served", base, clients: [base], after: "idle", others: [base.addr] },
  };
}

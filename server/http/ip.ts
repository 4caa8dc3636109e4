/**
 * IP address literals: parsing IPv4 and IPv6 text into bytes and formatting IPv6 bytes as text.
 *
 * Contract (pure, synchronous; no I/O):
 * - `parseIPv4(s)`: a dotted quad of decimal octets without leading zeros; null otherwise.
 * - `parseIPv6(s)`: RFC 4291 text (with `::`, and a dotted quad only as the last 32 bits),
 *   optionally followed by a numeric `%scope`; returns the 16 bytes and the scope (0 when absent),
 *   or null.
 * - `parseIp(s)`: either family, no scope; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) comes
 *   back as its 4 IPv4 bytes, so it matches IPv4 entries of an allow list.
 * - `formatIPv6(bytes)`: RFC 5952 text (lower-case hex, the longest run of two or more zero
 *   groups compressed, the first on a tie) with an IPv4-mapped address written `::ffff:a.b.c.d`,
 *   as Deno formats peer addresses.
 */

/** Parses a dotted-quad IPv4 literal; null if `s` is not one. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 literal (with an optional `%scope` number); null if `s` is not one. */
export function parseIPv6(s: string): { bytes: Uint8Array; scope: number } | null {
  let scope = 0;
  const pct = s.indexOf("%");
  if (pct >= 0) {
    const z = s.slice(pct + 1);
    if (!/^[0-9]{1,10}$/.test(z)) return null;
    scope = Number(z);
    if (scope > 0xffffffff) return null;
    s = s.slice(0, pct);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  // RFC 4291 §2.2: an embedded dotted quad is the address's last 32 bits, so only the last part
  // (after `::` when there is one) may end with it.
  const groups = (part: string, last: boolean): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (last && i === items.length - 1 && it.includes(".")) {
        const v4 = parseIPv4(it);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(it)) return null;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (head === null || tail === null) return null;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    all = head;
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = all[i] >> 8;
    bytes[2 * i + 1] = all[i] & 0xff;
  }
  return { bytes, scope };
}

/** Formats 16 address bytes as RFC 5952 text (IPv4-mapped as `::ffff:a.b.c.d`). */
export function formatIPv6(b: Uint8Array): string {
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  // The longest run of two or more zero groups (the first one on a tie) becomes "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/**
 * Parses an IPv4 or IPv6 literal into 4 or 16 bytes; IPv4-mapped IPv6 addresses come back as 4
 * bytes so they match IPv4 entries. Returns null for anything else (zone ids are not accepted).
 */
export function parseIp(s: string): Uint8Array | null {
  if (!s.includes(":")) return parseIPv4(s);
  if (s.includes("%")) return null;
  const v6 = parseIPv6(s);
  if (v6 === null) return null;
  const b = v6.bytes;
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped ? b.slice(12) : b;
}

/**
 * PROXY protocol header parser (`server/http/proxy_protocol.ts`): v1 and v2, fed every way.
 *
 * `feedEveryWay` delivers the same bytes whole, one byte at a time, split at every single point
 * and in seeded random splits (the `_helpers.ts` ways), calling the parser on everything received
 * so far after each chunk. The received bytes sit at a non-zero `start` behind junk, and the bytes
 * not yet received follow `end` in the same buffer, so a parser that reads outside [start, end)
 * answers early or differently and fails. Every way must give null strictly before the chunk
 * holding the last header byte and then the whole input's header, or the whole input's error
 * code; a complete header followed by a request line keeps its `consumed`.
 */
import assert from "node:assert/strict";
import { ProtocolError, type ProtocolErrorCode } from "../../../server/http/errors.ts";
import {
  looksLikeProxyHeader,
  parseProxyHeader,
  PROXY_ANY,
  PROXY_V1,
  PROXY_V2,
  type ProxyHeader,
} from "../../../server/http/proxy_protocol.ts";
import { concatBytes, latin1, waysFor } from "./_helpers.ts";

type Parse = (buf: Uint8Array, start: number, end: number) => ProxyHeader | null;
type Failure = { readonly code: ProtocolErrorCode; readonly status: number };
type Outcome = ProxyHeader | Failure | null;

const MAX = 1024;
const any: Parse = (buf, start, end) => parseProxyHeader(buf, start, end, PROXY_ANY, MAX);
const TRAILING = latin1("GET / HTTP/1.1\r\n");
const JUNK = latin1("PROXY TCP4 \r\n\r\n\0\r\nQUIT\n");

function outcome(parse: Parse, buf: Uint8Array, start: number, end: number): Outcome {
  try {
    return parse(buf, start, end);
  } catch (e) {
    if (e instanceof ProtocolError) return { code: e.code, status: e.status };
    throw e;
  }
}

function isError(o: Outcome): o is Failure {
  return o !== null && "code" in o;
}

/** Every way of delivering `bytes` (whole, byte by byte, every split point, random splits). */
function waysOf(bytes: Uint8Array): Array<{ name: string; cuts: readonly number[] }> {
  const ways = waysFor(bytes, 6);
  for (let k = 1; k < bytes.length; k++) ways.push({ name: `split@${k}`, cuts: [k, bytes.length] });
  return ways;
}

/** Feeds `bytes` every way (see the module comment) and returns the whole input's outcome. */
function feedEveryWay(bytes: Uint8Array, parse: Parse = any): Outcome {
  const whole = outcome(parse, bytes, 0, bytes.length);
  const runs = [bytes];
  if (whole !== null && !isError(whole)) runs.push(concatBytes(bytes, TRAILING));
  for (const run of runs) {
    const buf = concatBytes(JUNK, run);
    const at = JUNK.length;
    for (const way of waysOf(run)) {
      const name = `${run === bytes ? "" : "with-trailing "}${way.name}`;
      let done = false;
      for (const cut of way.cuts) {
        const got = outcome(parse, buf, at, at + cut);
        if (isError(whole)) {
          if (got === null) continue;
          assert.ok(isError(got), `${name}: at ${cut} got a header, whole input an error`);
          assert.equal(got.code, whole.code, `${name}: error code at ${cut}`);
          assert.equal(got.status, whole.status, `${name}: status at ${cut}`);
        } else if (whole === null || cut < whole.consumed) {
          assert.equal(got, null, `${name}: null after ${cut} bytes`);
          continue;
        } else {
          assert.deepEqual(got, whole, `${name}: header at ${cut}`);
        }
        done = true;
        break;
      }
      assert.equal(done, whole !== null, `${name}: ended with an outcome iff the whole input did`);
    }
  }
  return whole;
}

function expectHeader(bytes: Uint8Array, expected: ProxyHeader, parse: Parse = any): void {
  assert.deepEqual(feedEveryWay(bytes, parse), expected);
}

/** Feeds `bytes` every way and returns the header it must parse to. */
function headerOf(bytes: Uint8Array, parse: Parse = any): ProxyHeader {
  const got = feedEveryWay(bytes, parse);
  assert.ok(got !== null && !isError(got), `expected a header, got ${JSON.stringify(got)}`);
  return got;
}

function expectError(bytes: Uint8Array, code: ProtocolErrorCode, parse: Parse = any): void {
  const got = feedEveryWay(bytes, parse);
  assert.ok(isError(got), `expected ${code}, got ${JSON.stringify(got)}`);
  assert.equal(got.code, code);
  assert.equal(got.status, 400);
}

function v1(line: string): Uint8Array {
  return latin1(`PROXY ${line}\r\n`);
}

const v4 = (address: string, port: number) => ({ family: "ipv4" as const, address, port });
const v6 = (address: string, port: number) => ({ family: "ipv6" as const, address, port });

const V2_SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A v2 header: version/command byte, family/transport byte, then `body` with its length. */
function v2(verCmd: number, famProto: number, body: readonly number[] = []): Uint8Array {
  return v2Raw(verCmd, famProto, body.length, body);
}

/** A v2 header whose length field says `len` whatever `body` holds. */
function v2Raw(verCmd: number, famProto: number, len: number, body: readonly number[] = []) {
  return Uint8Array.from([...V2_SIG, verCmd, famProto, len >> 8, len & 0xff, ...body]);
}

const be16 = (n: number) => [n >> 8, n & 0xff];
const INET_BODY = [192, 0, 2, 1, 198, 51, 100, 7, ...be16(56324), ...be16(443)];
const V6_SRC = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_DST = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0x10];
const INET6_BODY = [...V6_SRC, ...V6_DST, ...be16(65535), ...be16(0)];

// ---------------------------------------------------------------------------------------------
// v1

Deno.test("v1 TCP4: addresses and ports", () => {
  const bytes = v1("TCP4 192.0.2.1 198.51.100.7 56324 443");
  expectHeader(bytes, {
    version: 1,
    consumed: bytes.length,
    source: v4("192.0.2.1", 56324),
    destination: v4("198.51.100.7", 443),
  });
  const edges = v1("TCP4 0.0.0.0 255.255.255.255 0 65535");
  assert.equal(edges.length, 44);
  expectHeader(edges, {
    version: 1,
    consumed: 44,
    source: v4("0.0.0.0", 0),
    destination: v4("255.255.255.255", 65535),
  });
});

Deno.test("v1 TCP6: upper case and uncompressed input comes back in RFC 5952 form", () => {
  const bytes = v1("TCP6 2001:DB8:0:0::1 2001:0DB8:0000:0000:0000:0000:ABCD:0010 1 80");
  expectHeader(bytes, {
    version: 1,
    consumed: bytes.length,
    source: v6("2001:db8::1", 1),
    destination: v6("2001:db8::abcd:10", 80),
  });
  expectHeader(v1("TCP6 ::FFFF:192.0.2.1 :: 8080 8443"), {
    version: 1,
    consumed: 42,
    source: v6("::ffff:192.0.2.1", 8080),
    destination: v6("::", 8443),
  });
});

Deno.test("v1 UNKNOWN: with and without addresses, no addresses returned", () => {
  for (const line of ["UNKNOWN", "UNKNOWN ffff::1 ffff::2 1 2", "UNKNOWN anything at all  "]) {
    const bytes = v1(line);
    expectHeader(bytes, { version: 1, consumed: bytes.length, source: null, destination: null });
  }
  expectError(v1("UNKNOWNX"), "INVALID_PROXY_HEADER");
  expectError(v1("UNKNOWN \x01"), "INVALID_PROXY_HEADER");
});

Deno.test("v1: a 107-byte line is accepted, a 108-byte one refused", () => {
  const line107 = `UNKNOWN ${"x".repeat(107 - 16)}`;
  const ok = v1(line107);
  assert.equal(ok.length, 107);
  expectHeader(ok, { version: 1, consumed: 107, source: null, destination: null });
  const long = v1(`${line107}x`);
  assert.equal(long.length, 108);
  expectError(long, "INVALID_PROXY_HEADER");
  // The 108-byte line is refused once its 107th byte (the CR) is in, before the LF arrives.
  assert.throws(() => any(long, 0, 107), { code: "INVALID_PROXY_HEADER" });
  assert.equal(any(long, 0, 106), null);
});

Deno.test("v1: no CRLF within 107 bytes is refused; fewer bytes wait", () => {
  const noEnd = latin1(`PROXY UNKNOWN ${"x".repeat(200)}`);
  expectError(noEnd, "INVALID_PROXY_HEADER");
  assert.equal(any(noEnd, 0, 106), null);
  assert.throws(() => any(noEnd, 0, 107), { code: "INVALID_PROXY_HEADER" });
  assert.equal(feedEveryWay(latin1("PROXY TCP4 192.0.2.1 192.0.2.2 1 2")), null);
  assert.equal(feedEveryWay(latin1("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r")), null);
});

Deno.test("v1: a bare LF or a CR without LF is refused", () => {
  expectError(latin1("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n"), "INVALID_PROXY_HEADER");
  expectError(latin1("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\rX\n"), "INVALID_PROXY_HEADER");
  expectError(latin1("PROXY UNKNOWN\r\r\n"), "INVALID_PROXY_HEADER");
  expectError(latin1("PROXY UNKNOWN\n\r\n"), "INVALID_PROXY_HEADER");
});

Deno.test("v1: fields are separated by exactly one space", () => {
  for (
    const line of [
      "TCP4  192.0.2.1 192.0.2.2 1 2",
      "TCP4 192.0.2.1  192.0.2.2 1 2",
      "TCP4 192.0.2.1 192.0.2.2 1  2",
      "TCP4 192.0.2.1 192.0.2.2 1 2 ",
      " TCP4 192.0.2.1 192.0.2.2 1 2",
      "TCP4\t192.0.2.1 192.0.2.2 1 2",
      "TCP4 192.0.2.1 192.0.2.2 1",
      "TCP4 192.0.2.1 192.0.2.2 1 2 3",
      "TCP4",
      "",
    ]
  ) expectError(v1(line), "INVALID_PROXY_HEADER");
});

Deno.test("v1: ports are 0..65535 in decimal without leading zeros", () => {
  for (const port of ["01", "00", "65536", "99999", "123456", "+1", "-1", "1e3", "0x10", "", "a"]) {
    expectError(v1(`TCP4 192.0.2.1 192.0.2.2 ${port} 80`), "INVALID_PROXY_HEADER");
    expectError(v1(`TCP4 192.0.2.1 192.0.2.2 80 ${port}`), "INVALID_PROXY_HEADER");
  }
  const ok = headerOf(v1("TCP4 192.0.2.1 192.0.2.2 0 10000"));
  assert.deepEqual([ok.source?.port, ok.destination?.port], [0, 10000]);
});

Deno.test("v1 TCP4: addresses must be dotted quads", () => {
  for (
    const addr of [
      "1.2.3.256",
      "01.2.3.4",
      "1.2.3",
      "1.2.3.4.5",
      "::1",
      "::ffff:1.2.3.4",
      "a.b.c.d",
    ]
  ) {
    expectError(v1(`TCP4 ${addr} 192.0.2.2 1 2`), "INVALID_PROXY_HEADER");
    expectError(v1(`TCP4 192.0.2.2 ${addr} 1 2`), "INVALID_PROXY_HEADER");
  }
});

Deno.test("v1 TCP6: addresses must be IPv6 without a scope id", () => {
  for (
    const addr of ["192.0.2.1", "fe80::1%1", "fe80::1%0", "fe80::1%eth0", "1:2:3:4:5:6:7", ":::1"]
  ) {
    expectError(v1(`TCP6 ${addr} ::1 1 2`), "INVALID_PROXY_HEADER");
    expectError(v1(`TCP6 ::1 ${addr} 1 2`), "INVALID_PROXY_HEADER");
  }
});

Deno.test("v1: the protocol word is TCP4, TCP6 or UNKNOWN, case-sensitive", () => {
  for (const proto of ["TCP5", "tcp4", "Tcp6", "UDP4", "unknown", "TCP"]) {
    expectError(v1(`${proto} 192.0.2.1 192.0.2.2 1 2`), "INVALID_PROXY_HEADER");
  }
});

Deno.test("v1: control and non-ASCII bytes are refused as soon as they arrive", () => {
  expectError(latin1("PROXY UNKNOWN \0\r\n"), "INVALID_PROXY_HEADER");
  expectError(latin1("PROXY UNKNOWN \xe9\r\n"), "INVALID_PROXY_HEADER");
  const early = latin1("PROXY TCP4\x7f");
  assert.throws(() => any(early, 0, early.length), { code: "INVALID_PROXY_HEADER" });
});

// ---------------------------------------------------------------------------------------------
// v2

Deno.test("v2 PROXY INET: addresses and ports", () => {
  expectHeader(v2(0x21, 0x11, INET_BODY), {
    version: 2,
    consumed: 28,
    source: v4("192.0.2.1", 56324),
    destination: v4("198.51.100.7", 443),
  });
});

Deno.test("v2 PROXY INET6: RFC 5952 text", () => {
  expectHeader(v2(0x21, 0x21, INET6_BODY), {
    version: 2,
    consumed: 52,
    source: v6("2001:db8::1", 65535),
    destination: v6("2001:db8:1::abcd:10", 0),
  });
});

Deno.test("v2 PROXY INET6: an IPv4-mapped address reads ::ffff:a.b.c.d", () => {
  const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9];
  expectHeader(v2(0x21, 0x21, [...mapped, ...V6_SRC, ...be16(1234), ...be16(80)]), {
    version: 2,
    consumed: 52,
    source: v6("::ffff:203.0.113.9", 1234),
    destination: v6("2001:db8::1", 80),
  });
});

Deno.test("v2 LOCAL: no addresses, with or without address bytes, any family", () => {
  const none = { version: 2 as const, source: null, destination: null };
  expectHeader(v2(0x20, 0x00), { ...none, consumed: 16 });
  expectHeader(v2(0x20, 0x11, INET_BODY), { ...none, consumed: 28 });
  expectHeader(v2(0x20, 0x21, INET6_BODY), { ...none, consumed: 52 });
  // LOCAL ignores the block, so a short one (or DGRAM) is no error.
  expectHeader(v2(0x20, 0x11, [1, 2, 3]), { ...none, consumed: 19 });
  expectHeader(v2(0x20, 0x12, INET_BODY), { ...none, consumed: 28 });
});

Deno.test("v2 PROXY UNSPEC family or transport: no addresses", () => {
  const none = { version: 2 as const, source: null, destination: null };
  expectHeader(v2(0x21, 0x00), { ...none, consumed: 16 });
  expectHeader(v2(0x21, 0x01, INET_BODY), { ...none, consumed: 28 });
  expectHeader(v2(0x21, 0x10, INET_BODY), { ...none, consumed: 28 });
  expectHeader(v2(0x21, 0x20, [1, 2]), { ...none, consumed: 18 });
});

Deno.test("v2 PROXY UNIX: 216 address bytes, no addresses", () => {
  const body = new Array(216).fill(0x2f);
  expectHeader(v2(0x21, 0x31, body), {
    version: 2,
    consumed: 232,
    source: null,
    destination: null,
  });
});

Deno.test("v2: TLVs after the addresses are skipped unchecked", () => {
  const tlvs = [0x01, 0x00, 0x02, 0x68, 0x32, 0xee, 0xff, 0xff, 0x00, 0x0d, 0x0a];
  expectHeader(v2(0x21, 0x11, [...INET_BODY, ...tlvs]), {
    version: 2,
    consumed: 28 + tlvs.length,
    source: v4("192.0.2.1", 56324),
    destination: v4("198.51.100.7", 443),
  });
  const inet6 = headerOf(v2(0x21, 0x21, [...INET6_BODY, 0x04, 0x00]));
  assert.equal(inet6.consumed, 54);
  assert.equal(inet6.source?.address, "2001:db8::1");
});

Deno.test("v2 PROXY over DGRAM is refused, from the family byte on", () => {
  for (const fam of [0x02, 0x12, 0x22, 0x32]) {
    const bytes = v2(0x21, fam, INET6_BODY);
    expectError(bytes, "INVALID_PROXY_HEADER");
    assert.throws(() => any(bytes, 0, 14), { code: "INVALID_PROXY_HEADER" });
  }
});

Deno.test("v2: the version nibble must be 2, from byte 13 on", () => {
  for (const verCmd of [0x11, 0x31, 0x01, 0xf1, 0x10]) {
    const bytes = v2(verCmd, 0x11, INET_BODY);
    expectError(bytes, "INVALID_PROXY_HEADER");
    assert.throws(() => any(bytes, 0, 13), { code: "INVALID_PROXY_HEADER" });
  }
  assert.equal(any(v2(0x21, 0x11, INET_BODY), 0, 13), null);
});

Deno.test("v2: the command is LOCAL or PROXY", () => {
  for (const verCmd of [0x22, 0x23, 0x2f]) {
    expectError(v2(verCmd, 0x11, INET_BODY), "INVALID_PROXY_HEADER");
  }
});

Deno.test("v2 PROXY: family and transport nibbles must be known; LOCAL ignores them", () => {
  const none = { version: 2 as const, source: null, destination: null, consumed: 28 };
  for (const fam of [0x41, 0xf1, 0x13, 0x1f, 0x03]) {
    const bytes = v2(0x21, fam, INET_BODY);
    expectError(bytes, "INVALID_PROXY_HEADER");
    assert.throws(() => any(bytes, 0, 14), { code: "INVALID_PROXY_HEADER" });
    // The specification: with LOCAL the receiver discards the block, family included.
    expectHeader(v2(0x20, fam, INET_BODY), none);
  }
});

Deno.test("v2: a length too short for INET or INET6 is refused", () => {
  expectError(v2(0x21, 0x11, INET_BODY.slice(0, 11)), "INVALID_PROXY_HEADER");
  expectError(v2(0x21, 0x21, INET6_BODY.slice(0, 35)), "INVALID_PROXY_HEADER");
  expectError(v2(0x21, 0x21, INET_BODY), "INVALID_PROXY_HEADER");
  expectError(v2(0x21, 0x11), "INVALID_PROXY_HEADER");
  // Exactly 12 and 36 are enough.
  assert.deepEqual(headerOf(v2(0x21, 0x11, INET_BODY.slice(0, 12))).source, v4("192.0.2.1", 56324));
  assert.deepEqual(
    headerOf(v2(0x21, 0x21, INET6_BODY.slice(0, 36))).source,
    v6("2001:db8::1", 65535),
  );
});

Deno.test("v2: a total over maxBytes is refused once the 16 bytes are in", () => {
  const limited = (max: number): Parse => (buf, start, end) =>
    parseProxyHeader(buf, start, end, PROXY_ANY, max);
  const sixteen = v2Raw(0x21, 0x11, 0xffff);
  assert.equal(sixteen.length, 16);
  expectError(sixteen, "INVALID_PROXY_HEADER", limited(MAX));
  assert.equal(any(sixteen, 0, 15), null);
  // The limit counts the 16 fixed bytes: 16 + 12 = 28.
  const inet = v2(0x21, 0x11, INET_BODY);
  expectError(inet, "INVALID_PROXY_HEADER", limited(27));
  assert.equal(headerOf(inet, limited(28)).consumed, 28);
  // Within the limit, the parser waits for the whole length.
  assert.equal(feedEveryWay(v2Raw(0x21, 0x11, 0x100, INET_BODY)), null);
});

// ---------------------------------------------------------------------------------------------
// Offsets, versions, signatures

Deno.test("offsets: a header at a non-zero start with garbage before start and after end", () => {
  const header = v1("TCP4 192.0.2.1 198.51.100.7 56324 443");
  const before = latin1("GET / HTTP/1.1\r\n");
  const after = latin1("\r\nUNKNOWN\r\n");
  for (const [bytes, expected] of [[header, 1], [v2(0x21, 0x11, INET_BODY), 2]] as const) {
    const buf = concatBytes(before, bytes, after);
    const got = any(buf, before.length, before.length + bytes.length);
    assert.deepEqual(got, {
      version: expected,
      consumed: bytes.length,
      source: v4("192.0.2.1", 56324),
      destination: v4("198.51.100.7", 443),
    });
    // One byte short of the end: the bytes after `end` (which would complete it) are not read.
    const cut = concatBytes(before, bytes.subarray(0, bytes.length - 1), latin1("\n"), after);
    assert.equal(any(cut, before.length, before.length + bytes.length - 1), null);
  }
  // Bytes just past `end` that would be refused are not looked at either: a CR's successor, the
  // v2 version/command byte and the v2 family/transport byte.
  const cr = latin1("PROXY UNKNOWN\rX");
  assert.equal(any(cr, 0, cr.length - 1), null);
  const badVersion = v2(0x11, 0x11, INET_BODY), badFamily = v2(0x21, 0xff, INET_BODY);
  assert.equal(any(badVersion, 0, 12), null);
  assert.equal(any(badFamily, 0, 13), null);
  assert.throws(() => any(badFamily, 0, 14), { code: "INVALID_PROXY_HEADER" });
});

Deno.test("versions: only the accepted signatures are recognised", () => {
  const v1Only: Parse = (b, s, e) => parseProxyHeader(b, s, e, PROXY_V1, MAX);
  const v2Only: Parse = (b, s, e) => parseProxyHeader(b, s, e, PROXY_V2, MAX);
  const none: Parse = (b, s, e) => parseProxyHeader(b, s, e, 0, MAX);
  const text = v1("TCP4 192.0.2.1 198.51.100.7 56324 443");
  const binary = v2(0x21, 0x11, INET_BODY);
  expectError(text, "MISSING_PROXY_HEADER", v2Only);
  expectError(binary, "MISSING_PROXY_HEADER", v1Only);
  expectError(text, "MISSING_PROXY_HEADER", none);
  expectError(binary, "MISSING_PROXY_HEADER", none);
  assert.deepEqual(feedEveryWay(text, v1Only), feedEveryWay(text));
  assert.deepEqual(feedEveryWay(binary, v2Only), feedEveryWay(binary));
  // A lone CR is a v2 prefix, so it waits unless only v1 is accepted; "P" is the reverse.
  const cr = latin1("\r"), p = latin1("P");
  assert.equal(any(cr, 0, 1), null);
  assert.equal(v2Only(cr, 0, 1), null);
  assert.throws(() => v1Only(cr, 0, 1), { code: "MISSING_PROXY_HEADER" });
  assert.equal(v1Only(p, 0, 1), null);
  assert.throws(() => v2Only(p, 0, 1), { code: "MISSING_PROXY_HEADER" });
});

Deno.test("missing header: anything else is refused at its first differing byte", () => {
  expectError(latin1("GET / HTTP/1.1\r\n"), "MISSING_PROXY_HEADER");
  for (const s of ["G", "\n", "PROXX", "PROXY\r", "proxy ", "\r\n\r\n\0\r\nQUIX", "\r\r"]) {
    const bytes = latin1(s);
    assert.throws(() => any(bytes, 0, bytes.length), { code: "MISSING_PROXY_HEADER", status: 400 });
  }
  for (const s of ["", "P", "PROXY", "\r\n\r\n\0\r\nQUIT"]) {
    assert.equal(feedEveryWay(latin1(s)), null);
  }
});

Deno.test("looksLikeProxyHeader: true, false, or null while too short to tell", () => {
  const check = (s: string | Uint8Array) => {
    const bytes = typeof s === "string" ? latin1(s) : s;
    return looksLikeProxyHeader(bytes, 0, bytes.length);
  };
  assert.equal(check("PROXY "), true);
  assert.equal(check("PROXY TCP4 garbage"), true);
  assert.equal(check(v2(0x21, 0x11, INET_BODY)), true);
  assert.equal(check(Uint8Array.from(V2_SIG)), true);
  assert.equal(check("GET / HTTP/1.1\r\n"), false);
  assert.equal(check("PROXY\r\n"), false);
  assert.equal(check("\r\n\r\n"), null);
  assert.equal(check("\r\n\r\n\0\r\nQUIX"), false);
  assert.equal(check("\r\nHost"), false);
  assert.equal(check("G"), false);
  assert.equal(check(""), null);
  assert.equal(check("PROX"), null);
  assert.equal(check("\r"), null);
  assert.equal(check(Uint8Array.from(V2_SIG.slice(0, 11))), null);
  // Only buf[start..end) counts.
  const buf = latin1("GET PROXY HTTP");
  assert.equal(looksLikeProxyHeader(buf, 4, 10), true);
  assert.equal(looksLikeProxyHeader(buf, 4, 8), null);
  assert.equal(looksLikeProxyHeader(buf, 0, 8), false);
});

Deno.test("feedEveryWay catches a parser that reads past end or answers the wrong way", () => {
  const header = v1("TCP4 192.0.2.1 198.51.100.7 56324 443");
  const pastEnd: Parse = (buf, start) => any(buf, start, buf.length);
  assert.throws(() => feedEveryWay(header, pastEnd), assert.AssertionError);
  const exactEndOnly: Parse = (buf, start, end) => {
    const h = any(buf, start, end);
    return h && h.consumed === end - start ? h : null;
  };
  assert.throws(() => feedEveryWay(header, exactEndOnly), assert.AssertionError);
  assert.deepEqual(feedEveryWay(header), any(header, 0, header.length));
  const overConsumes: Parse = (buf, start, end) => {
    const h = any(buf, start, end);
    return h && { ...h, consumed: end - start };
  };
  assert.throws(() => feedEveryWay(header, overConsumes), assert.AssertionError);
});

Deno.test("v2 SSL TLV: a client that reached the proxy over TLS is reported; odd TLVs ignored", () => {
  const version = [0x21, ...be16(7), ...latin1("TLSv1.3")]; // PP2_SUBTYPE_SSL_VERSION
  const ssl = (
    client: number,
  ) => [0x20, ...be16(5 + version.length), client, 0, 0, 0, 0, ...version];
  const alpn = [0x01, ...be16(2), 0x68, 0x32];
  const inet = {
    version: 2 as const,
    source: v4("192.0.2.1", 56324),
    destination: v4("198.51.100.7", 443),
  };
  const inetSsl = [...INET_BODY, ...ssl(0x01)];
  expectHeader(v2(0x21, 0x11, inetSsl), { ...inet, consumed: 16 + inetSsl.length, ssl: true });
  // Any client flag with PP2_CLIENT_SSL set; after another TLV too.
  const after = [...INET_BODY, ...alpn, ...ssl(0x07)];
  expectHeader(v2(0x21, 0x11, after), { ...inet, consumed: 16 + after.length, ssl: true });
  // PP2_CLIENT_SSL clear (a client certificate flag alone, say): plain.
  const clear = [...INET_BODY, ...ssl(0x02)];
  expectHeader(v2(0x21, 0x11, clear), { ...inet, consumed: 16 + clear.length });
  // An SSL TLV that runs past the header, or is shorter than its fixed 5 bytes: ignored.
  const overrun = [...INET_BODY, 0x20, ...be16(200), 0x01, 0, 0, 0, 0];
  expectHeader(v2(0x21, 0x11, overrun), { ...inet, consumed: 16 + overrun.length });
  const short = [...INET_BODY, 0x20, ...be16(1), 0x01];
  expectHeader(v2(0x21, 0x11, short), { ...inet, consumed: 16 + short.length });
  // IPv6, and the UNSPEC family (no addresses, the TLVs right after the fixed part).
  const six = [...INET6_BODY, ...ssl(0x01)];
  assert.equal(headerOf(v2(0x21, 0x21, six)).ssl, true);
  const unspec = ssl(0x01);
  expectHeader(v2(0x21, 0x00, unspec), {
    version: 2,
    consumed: 16 + unspec.length,
    source: null,
    destination: null,
    ssl: true,
  });
  // LOCAL discards the whole block, TLVs included.
  assert.equal(headerOf(v2(0x20, 0x11, inetSsl)).ssl, undefined);
});

/**
 * `server/libc/sockaddr.ts`: IPv4, IPv6 and unix `struct sockaddr` bytes (Linux x86_64 layouts)
 * both ways, IP literal parsing and RFC 5952 formatting, and the refusals.
 */
import assert from "node:assert/strict";
import { formatIPv6, parseIPv4, parseIPv6 } from "../../../server/http/ip.ts";
import { decodeSockaddr, encodeSockaddr, SockaddrError } from "../../../server/libc/sockaddr.ts";

Deno.test("sockaddr_in: family LE, port BE, address bytes, 16 bytes", () => {
  const sa = encodeSockaddr({ transport: "tcp", hostname: "127.0.0.1", port: 8080 });
  assert.equal(sa.length, 16);
  assert.equal(sa.family, 2);
  assert.deepEqual([...sa.bytes], [2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(decodeSockaddr(sa.bytes, sa.length), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 8080,
  });
});

Deno.test("empty host is 0.0.0.0 and localhost is 127.0.0.1", () => {
  const any = encodeSockaddr({ transport: "tcp", hostname: "", port: 1 });
  assert.deepEqual([...any.bytes.subarray(4, 8)], [0, 0, 0, 0]);
  const lo = encodeSockaddr({ transport: "tcp", hostname: "localhost", port: 1 });
  assert.deepEqual([...lo.bytes.subarray(4, 8)], [127, 0, 0, 1]);
});

Deno.test("sockaddr_in6: port BE, 16 address bytes at 8, scope id at 24, 28 bytes", () => {
  const sa = encodeSockaddr({ transport: "tcp", hostname: "fe80::1%3", port: 443 });
  assert.equal(sa.length, 28);
  assert.equal(sa.family, 10);
  const dv = new DataView(sa.bytes.buffer);
  assert.equal(dv.getUint16(0, true), 10);
  assert.equal(dv.getUint16(2, false), 443);
  assert.equal(sa.bytes[8], 0xfe);
  assert.equal(sa.bytes[9], 0x80);
  assert.equal(sa.bytes[23], 1);
  assert.equal(dv.getUint32(24, true), 3);
  assert.deepEqual(decodeSockaddr(sa.bytes, sa.length), {
    transport: "tcp",
    hostname: "fe80::1",
    port: 443,
  });
  const bracketed = encodeSockaddr({ transport: "tcp", hostname: "[::1]", port: 80 });
  assert.equal((decodeSockaddr(bracketed.bytes, 28) as Deno.NetAddr).hostname, "::1");
});

Deno.test("IPv6 text: RFC 5952 compression, lower case, IPv4-mapped, embedded IPv4", () => {
  const f = (s: string) => formatIPv6(parseIPv6(s)!.bytes);
  assert.equal(f("::"), "::");
  assert.equal(f("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(f("2001:DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(f("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  assert.equal(f("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
  assert.equal(f("64:ff9b::192.0.2.33"), "64:ff9b::c000:221");
  assert.equal(f("1::"), "1::");
  assert.equal(f("1:2:3:4:5:6:1.2.3.4"), "1:2:3:4:5:6:102:304");
});

Deno.test("literal parsers refuse what is not a literal", () => {
  for (const s of ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "a.b.c.d", ""]) {
    assert.equal(parseIPv4(s), null, s);
  }
  for (
    const s of [
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      "g::",
      "::1%x",
      "1:2",
      // A dotted quad is only ever the last 32 bits (RFC 4291 §2.2).
      "1.2.3.4::",
      "1.2.3.4::5",
      "1:2:1.2.3.4::",
      "1.2.3.4:1:2:3:4:5:6",
    ]
  ) {
    assert.equal(parseIPv6(s), null, s);
  }
});

Deno.test("sockaddr_un: family, NUL-terminated path, length 2 + path + 1", () => {
  const sa = encodeSockaddr({ transport: "unix", path: "/tmp/x.sock" });
  assert.equal(sa.family, 1);
  assert.equal(sa.length, 2 + 11 + 1);
  assert.equal(sa.bytes[2 + 11], 0);
  assert.deepEqual(decodeSockaddr(sa.bytes, sa.length), {
    transport: "unix",
    path: "/tmp/x.sock",
  });
  // An unnamed peer (accept on a unix socket) reports only its family.
  assert.deepEqual(decodeSockaddr(sa.bytes, 2), { transport: "unix", path: "" });
});

Deno.test("refusals: host names, long or empty unix paths, bad ports, unknown families", () => {
  assert.throws(
    () => encodeSockaddr({ transport: "tcp", hostname: "example.com", port: 80 }),
    (e) => e instanceof SockaddrError && /not an IP address/.test(e.message),
  );
  assert.throws(
    () => encodeSockaddr({ transport: "unix", path: "/" + "a".repeat(107) }),
    SockaddrError,
  );
  assert.throws(() => encodeSockaddr({ transport: "unix", path: "" }), SockaddrError);
  assert.throws(
    () => encodeSockaddr({ transport: "tcp", hostname: "1.2.3.4", port: 70000 }),
    SockaddrError,
  );
  const bogus = new Uint8Array(16);
  bogus[0] = 99;
  assert.throws(() => decodeSockaddr(bogus, 16), SockaddrError);
});

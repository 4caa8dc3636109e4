/**
 * server/proxy.ts: the trust list (IPv4/IPv6 CIDR, `*`), X-Forwarded-* and RFC 7239 Forwarded,
 * applied only for trusted peers. Pure unit tests (no permissions needed).
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../server/config.ts";
import type { ConnAddr } from "../../server/exchange.ts";
import { parseIp } from "../../server/http/ip.ts";
import type { RequestHead } from "../../server/http/request_head.ts";
import {
  createClientResolver,
  isTrusted,
  parseForwarded,
  parseHostPort,
  parseNode,
  parseTrustList,
  resolveClient,
} from "../../server/proxy.ts";

function head(headers: Array<[string, string]>): RequestHead {
  return {
    method: "GET",
    target: "/",
    targetForm: "origin",
    version: "HTTP/1.1",
    minor: 1,
    headers: [["host", "internal:8000"], ...headers],
  } as RequestHead;
}

const PROXY: ConnAddr = { transport: "tcp", hostname: "127.0.0.1", port: 40000 };
const STRANGER: ConnAddr = { transport: "tcp", hostname: "198.51.100.9", port: 40000 };
const DEFAULT_TRUST = parseTrustList("127.0.0.1,::1");

Deno.test("parseIp reads IPv4, IPv6, embedded IPv4 and maps ::ffff:a.b.c.d to IPv4", () => {
  assert.deepEqual([...parseIp("10.1.2.3")!], [10, 1, 2, 3]);
  assert.equal(parseIp("::1")!.length, 16);
  assert.equal(parseIp("::1")![15], 1);
  assert.deepEqual([...parseIp("::ffff:10.1.2.3")!], [10, 1, 2, 3]);
  assert.deepEqual([...parseIp("2001:db8::1")!.subarray(0, 4)], [0x20, 0x01, 0x0d, 0xb8]);
  assert.equal(parseIp("64:ff9b::192.0.2.33")![15], 33);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.256",
      "01.2.3.4",
      "::1::",
      "1:2:3:4:5:6:7:8:9",
      "fe80::1%eth0",
      "x",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
});

Deno.test("trust list: exact IPs, IPv4 and IPv6 CIDR, and *", () => {
  const t = parseTrustList(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8, [2001:db8::5] ");
  assert.ok(isTrusted(t, "10.200.3.4"));
  assert.ok(isTrusted(t, "::ffff:10.200.3.4"));
  assert.ok(!isTrusted(t, "11.0.0.1"));
  assert.ok(isTrusted(t, "192.168.1.7"));
  assert.ok(!isTrusted(t, "192.168.1.8"));
  assert.ok(isTrusted(t, "fd12:3456::1"));
  assert.ok(!isTrusted(t, "fe80::1"));
  assert.ok(isTrusted(t, "2001:db8::5"));
  assert.ok(!isTrusted(t, "not-an-ip"));
  assert.ok(isTrusted(parseTrustList("*"), "203.0.113.1"));
  assert.ok(isTrusted(parseTrustList("0.0.0.0/0"), "203.0.113.1"));
  assert.ok(isTrusted(parseTrustList("10.1.2.128/25"), "10.1.2.200"));
  assert.ok(!isTrusted(parseTrustList("10.1.2.128/25"), "10.1.2.100"));
  assert.ok(!isTrusted(parseTrustList(""), "127.0.0.1"));
});

Deno.test("trust list rejects bad entries with ConfigError", () => {
  for (const bad of ["10.0.0.0/33", "::/129", "localhost", "10.0.0.0/x", "1.2.3.4/"]) {
    assert.throws(() => parseTrustList(bad), ConfigError, bad);
  }
});

Deno.test("parseNode reads IPv4/IPv6 with and without ports; unknown and _obf are null", () => {
  assert.deepEqual(parseNode("192.0.2.60"), { ip: "192.0.2.60" });
  assert.deepEqual(parseNode("192.0.2.43:47011"), { ip: "192.0.2.43", port: 47011 });
  assert.deepEqual(parseNode("[2001:DB8:cafe::17]:4711"), { ip: "2001:db8:cafe::17", port: 4711 });
  assert.deepEqual(parseNode("[::1]"), { ip: "::1" });
  assert.deepEqual(parseNode("2001:db8::1"), { ip: "2001:db8::1" });
  for (const bad of ["unknown", "_hidden", "[::1", "1.2.3.4:99999", "[1.2.3.4]", "a.b.c.d"]) {
    assert.equal(parseNode(bad), null, bad);
  }
});

Deno.test("parseForwarded handles quoted strings, escapes, IPv6 and several elements", () => {
  const els = parseForwarded(
    'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711";host="a,b\\"c"',
  )!;
  assert.equal(els.length, 2);
  assert.equal(els[0].get("for"), "192.0.2.60");
  assert.equal(els[0].get("proto"), "http");
  assert.equal(els[1].get("for"), "[2001:db8:cafe::17]:4711");
  assert.equal(els[1].get("host"), 'a,b"c');
  assert.deepEqual(parseForwarded("for=unknown ;proto=https")![0].get("proto"), "https");
  for (const bad of ['for="unterminated', "for", "=x", "for=a b", "for=a;for=b", 'for="x"y']) {
    assert.equal(parseForwarded(bad), null, bad);
  }
});

Deno.test("parseHostPort splits names, ports and bracketed IPv6; rejects junk", () => {
  assert.deepEqual(parseHostPort("example.com"), { name: "example.com" });
  assert.deepEqual(parseHostPort("example.com:8443"), { name: "example.com", port: "8443" });
  assert.deepEqual(parseHostPort("[::1]:80"), { name: "[::1]", port: "80" });
  for (const bad of ["", "a b", "x:99999", "a/b", "a\r\nb"]) assert.equal(parseHostPort(bad), null);
});

Deno.test("X-Forwarded-For from a trusted peer: right-most untrusted hop is the client", () => {
  const v = resolveClient(
    head([["x-forwarded-for", "6.6.6.6, 203.0.113.7"], ["x-forwarded-for", "127.0.0.1"]]),
    PROXY,
    "http",
    DEFAULT_TRUST,
  )!;
  assert.deepEqual(v.remote, { transport: "tcp", hostname: "203.0.113.7", port: 0 });
  assert.equal(v.scheme, "http");
  assert.equal(v.hostName, undefined);
});

Deno.test("X-Forwarded-For where every hop is trusted yields the left-most hop", () => {
  const t = parseTrustList("10.0.0.0/8,127.0.0.1");
  const v = resolveClient(head([["x-forwarded-for", "10.0.0.5, 10.0.0.6"]]), PROXY, "http", t)!;
  assert.equal(v.remote.hostname, "10.0.0.5");
});

Deno.test("X-Forwarded-Proto/-Host/-Port: the nearest proxy's (right-most) value wins", () => {
  const v = resolveClient(
    head([
      ["x-forwarded-proto", "http, https"],
      ["x-forwarded-host", "evil.example, shop.example:8443"],
    ]),
    PROXY,
    "http",
    DEFAULT_TRUST,
  )!;
  assert.equal(v.scheme, "https");
  assert.equal(v.hostName, "shop.example");
  assert.equal(v.hostPort, "8443");
  const p = resolveClient(head([["x-forwarded-port", "9443"]]), PROXY, "http", DEFAULT_TRUST)!;
  assert.equal(p.hostName, "internal");
  assert.equal(p.hostPort, "9443");
  const junk = resolveClient(
    head([["x-forwarded-proto", "gopher"], ["x-forwarded-host", "a b"]]),
    PROXY,
    "http",
    DEFAULT_TRUST,
  )!;
  assert.equal(junk.scheme, "http");
  assert.equal(junk.hostName, undefined);
});

Deno.test("gunicorn's secure-scheme headers: X-Forwarded-Protocol ssl and X-Forwarded-Ssl on", () => {
  const scheme = (headers: Array<[string, string]>, own: "http" | "https" = "http") =>
    resolveClient(head(headers), PROXY, own, DEFAULT_TRUST)?.scheme ?? null;
  assert.equal(scheme([["x-forwarded-ssl", "on"]]), "https");
  assert.equal(scheme([["x-forwarded-ssl", "ON "]]), "https");
  assert.equal(scheme([["x-forwarded-ssl", "off"]], "https"), "http");
  assert.equal(scheme([["x-forwarded-protocol", "ssl"]]), "https");
  assert.equal(scheme([["x-forwarded-protocol", "plain"]], "https"), "http");
  assert.equal(scheme([["x-forwarded-ssl", ""]], "https"), "https", "empty: the socket's");
  // The nearest proxy's value; X-Forwarded-Proto first, then -Protocol, then -Ssl.
  assert.equal(scheme([["x-forwarded-ssl", "off, on"]]), "https");
  assert.equal(scheme([["x-forwarded-proto", "http"], ["x-forwarded-ssl", "on"]]), "http");
  assert.equal(scheme([["x-forwarded-protocol", "ssl"], ["x-forwarded-ssl", "off"]]), "https");
  assert.equal(scheme([["x-forwarded-proto", "gopher"], ["x-forwarded-ssl", "on"]]), "https");
  // They belong to the X-Forwarded family, which wins over Forwarded.
  assert.equal(scheme([["forwarded", "proto=https"], ["x-forwarded-ssl", "off"]]), "http");
  // Only from trusted peers.
  assert.equal(
    resolveClient(head([["x-forwarded-ssl", "on"]]), STRANGER, "http", DEFAULT_TRUST),
    null,
  );
});

Deno.test("X-Forwarded-Prefix: an absolute path without its final /, the nearest proxy's", () => {
  const prefix = (value: string) =>
    resolveClient(head([["x-forwarded-prefix", value]]), PROXY, "http", DEFAULT_TRUST)?.prefix;
  assert.equal(prefix("/app"), "/app");
  assert.equal(prefix("/app/"), "/app");
  assert.equal(prefix("/a/b//"), "/a/b");
  assert.equal(prefix("/caf%C3%A9"), "/caf%C3%A9");
  assert.equal(prefix("/x, /y"), "/y");
  assert.equal(prefix(" /v1 "), "/v1");
  for (const bad of ["/", "app", "/a?b", "/a#b", "/a b", "/a%zz", "/a%2F", "//", "/\u00e9", ""]) {
    assert.equal(prefix(bad), undefined, JSON.stringify(bad));
  }
  // Alone it is still the X-Forwarded family, which wins over Forwarded.
  const v = resolveClient(
    head([["forwarded", "proto=https"], ["x-forwarded-prefix", "/app"]]),
    PROXY,
    "http",
    DEFAULT_TRUST,
  )!;
  assert.deepEqual([v.scheme, v.prefix], ["http", "/app"]);
  assert.equal(
    resolveClient(head([["x-forwarded-prefix", "/app"]]), STRANGER, "http", DEFAULT_TRUST),
    null,
  );
  const none = resolveClient(head([["x-forwarded-proto", "https"]]), PROXY, "http", DEFAULT_TRUST)!;
  assert.equal("prefix" in none, false);
});

Deno.test("headers from an untrusted peer are ignored", () => {
  const h = head([["x-forwarded-for", "6.6.6.6"], ["x-forwarded-proto", "https"], [
    "forwarded",
    "for=6.6.6.6",
  ]]);
  assert.equal(resolveClient(h, STRANGER, "http", DEFAULT_TRUST), null);
  assert.equal(resolveClient(h, PROXY, "http", parseTrustList("")), null);
});

Deno.test("unix-socket peers are trusted", () => {
  const unix: ConnAddr = { transport: "unix", hostname: "/run/app.sock", port: 0 };
  const v = resolveClient(
    head([["x-forwarded-for", "203.0.113.7"]]),
    unix,
    "http",
    parseTrustList(""),
  );
  assert.equal(v!.remote.hostname, "203.0.113.7");
});

Deno.test("RFC 7239 Forwarded: client, port, proto and host from the chosen element", () => {
  const v = resolveClient(
    head([["forwarded", 'for="[2001:db8::7]:4711";proto=https;host=shop.example, for=127.0.0.1']]),
    PROXY,
    "http",
    DEFAULT_TRUST,
  )!;
  assert.deepEqual(v.remote, { transport: "tcp", hostname: "2001:db8::7", port: 4711 });
  assert.equal(v.scheme, "https");
  assert.equal(v.hostName, "shop.example");
  const unknown = resolveClient(
    head([["forwarded", "for=unknown;proto=https"]]),
    PROXY,
    "http",
    DEFAULT_TRUST,
  )!;
  assert.deepEqual(unknown.remote, PROXY);
  assert.equal(unknown.scheme, "https");
  assert.equal(
    resolveClient(head([["forwarded", 'for="broken']]), PROXY, "http", DEFAULT_TRUST),
    null,
  );
});

Deno.test("X-Forwarded-* takes precedence over Forwarded when both are present", () => {
  const v = resolveClient(
    head([["forwarded", "for=6.6.6.6;proto=https"], ["x-forwarded-for", "203.0.113.7"]]),
    PROXY,
    "http",
    DEFAULT_TRUST,
  )!;
  assert.equal(v.remote.hostname, "203.0.113.7");
  assert.equal(v.scheme, "http");
});

Deno.test("createClientResolver caches trust per peer and is absent for an empty list", () => {
  assert.equal(createClientResolver(""), undefined);
  const r = createClientResolver("127.0.0.1")!;
  const h = head([["x-forwarded-for", "203.0.113.7"]]);
  assert.equal(r(h, PROXY, "http")!.remote.hostname, "203.0.113.7");
  assert.equal(r(h, STRANGER, "http"), null);
  assert.equal(r(head([]), PROXY, "http"), null);
});

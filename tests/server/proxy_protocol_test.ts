/**
 * `--proxy-protocol` end to end (in-process server on loopback, both socket backends): the
 * header's source address becomes REMOTE_ADDR/REMOTE_PORT (gateway), `info.remoteAddr` (fetch)
 * and the access log's client for every request of the connection; LOCAL/UNKNOWN headers keep
 * the socket peer; a peer in --proxy-allow-ips that sends no header or a bad one gets 400, a peer
 * outside it that sends one gets 403, and plain HTTP from it is served as before; X-Forwarded-*
 * is then judged by the header's client, not by the proxy.
 */
import assert from "node:assert/strict";
import { startApp, type TestServer } from "../_support/server.ts";
import { type RoundTrip, roundTrip } from "../_support/raw_client.ts";
import { startLsbaws } from "../_support/proc.ts";

const GATEWAY = "tests/fixtures/apps/ops.ts:app";
const FETCH = "tests/fixtures/apps/info.ts";

const V2_SIG = "\r\n\r\n\0\r\nQUIT\n";
const GET_ENV = "GET /env HTTP/1.1\r\nHost: x\r\n\r\n";

/** A v2 header (latin-1 string) for PROXY/STREAM over IPv4, with `tlv` bytes appended. */
function v2Inet(src: number[], dst: number[], sport: number, dport: number, tlv = ""): string {
  const body =
    String.fromCharCode(...src, ...dst, sport >> 8, sport & 0xff, dport >> 8, dport & 0xff) +
    tlv;
  return V2_SIG + "\x21\x11" + String.fromCharCode(body.length >> 8, body.length & 0xff) + body;
}

/** The JSON bodies of every response in `r`, which must all be 200s. */
function envs(r: RoundTrip): Record<string, string>[] {
  return r.responses.map((res) => {
    assert.equal(res.status, 200, res.raw);
    return JSON.parse(res.body);
  });
}

async function withServer(
  overrides: Parameters<typeof startApp>[1],
  body: (s: TestServer) => Promise<void>,
  spec = GATEWAY,
): Promise<void> {
  const s = await startApp(spec, overrides);
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

Deno.test("v1 TCP4: the header's source is REMOTE_ADDR/PORT for every request of the connection", async () => {
  await withServer({ proxyProtocol: "v1" }, async (s) => {
    // Header and two pipelined requests in one write: the second needs no header of its own.
    const r = await roundTrip(
      s.port,
      "PROXY TCP4 203.0.113.7 10.0.0.5 51000 443\r\n" + GET_ENV + GET_ENV,
      { responses: 2 },
    );
    const [a, b] = envs(r);
    assert.equal(a.REMOTE_ADDR, "203.0.113.7");
    assert.equal(a.REMOTE_PORT, "51000");
    assert.equal(b.REMOTE_ADDR, "203.0.113.7");
    assert.equal(r.closed, false);
  });
});

Deno.test("v1 TCP6 header sent in pieces: the address is reported in RFC 5952 form", async () => {
  await withServer({ proxyProtocol: "auto" }, async (s) => {
    const r = await roundTrip(s.port, [
      "PRO",
      "XY TCP6 2001:DB8:0:0::1 ",
      "2001:db8::2 40000 80\r",
      "\n" + GET_ENV,
    ]);
    const [e] = envs(r);
    assert.equal(e.REMOTE_ADDR, "2001:db8::1");
    assert.equal(e.REMOTE_PORT, "40000");
  });
});

Deno.test("v2 PROXY over IPv4 with TLVs, split inside the binary header", async () => {
  await withServer({ proxyProtocol: "v2" }, async (s) => {
    const tlv = "\x04\x00\x03abc"; // PP2_TYPE_NOOP, 3 bytes: skipped
    const h = v2Inet([198, 51, 100, 9], [10, 0, 0, 1], 1234, 8080, tlv);
    const r = await roundTrip(s.port, [h.slice(0, 7), h.slice(7, 15), h.slice(15) + GET_ENV]);
    const [e] = envs(r);
    assert.equal(e.REMOTE_ADDR, "198.51.100.9");
    assert.equal(e.REMOTE_PORT, "1234");
  });
});

Deno.test("v2 with an SSL TLV (send-proxy-v2-ssl): every request of the connection is https", async () => {
  await withServer({ proxyProtocol: "v2" }, async (s) => {
    const ssl = "\x20\x00\x05\x01\x00\x00\x00\x00"; // PP2_TYPE_SSL, client: PP2_CLIENT_SSL
    const tls = v2Inet([198, 51, 100, 9], [10, 0, 0, 1], 1234, 443, ssl);
    const r = await roundTrip(s.port, tls + GET_ENV + GET_ENV, { responses: 2 });
    for (const e of envs(r)) {
      assert.equal(e["lsbaws.url_scheme"], "https");
      assert.equal(e.SERVER_PORT, "443", "the https default port for a Host without one");
    }
    // The same header without the TLV, or with PP2_CLIENT_SSL clear: http.
    const plain = v2Inet([198, 51, 100, 9], [10, 0, 0, 1], 1234, 443, "\x20\x00\x05\x02\0\0\0\0");
    for (const h of [v2Inet([198, 51, 100, 9], [10, 0, 0, 1], 1234, 443), plain]) {
      const [e] = envs(await roundTrip(s.port, h + GET_ENV));
      assert.equal(e["lsbaws.url_scheme"], "http");
      assert.equal(e.SERVER_PORT, "80");
    }
  });
});

Deno.test("v2 LOCAL and v1 UNKNOWN keep the socket's peer", async () => {
  await withServer({ proxyProtocol: "auto" }, async (s) => {
    const local = V2_SIG + "\x20\x00\x00\x00";
    for (const header of [local, "PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"]) {
      const [e] = envs(await roundTrip(s.port, header + GET_ENV));
      assert.equal(e.REMOTE_ADDR, "127.0.0.1", JSON.stringify(header));
      assert.notEqual(e.REMOTE_PORT, "0");
    }
  });
});

Deno.test("a fetch app sees the header's client in info.remoteAddr and request.url is unchanged", async () => {
  await withServer({ proxyProtocol: "v1" }, async (s) => {
    const r = await roundTrip(
      s.port,
      "PROXY TCP4 203.0.113.8 10.0.0.5 5000 80\r\nGET /a?b=1 HTTP/1.1\r\nHost: shop.test\r\n\r\n",
    );
    const [body] = envs(r) as unknown as { url: string; remote: Deno.NetAddr }[];
    assert.deepEqual(body.remote, { transport: "tcp", hostname: "203.0.113.8", port: 5000 });
    assert.equal(body.url, "http://shop.test/a?b=1");
  }, FETCH);
});

Deno.test("the access log names the header's client", async () => {
  await withServer({ proxyProtocol: "v1", accessLog: "-" }, async (s) => {
    const r = await roundTrip(s.port, "PROXY TCP4 192.0.2.44 10.0.0.5 5000 80\r\n" + GET_ENV);
    envs(r);
    const deadline = Date.now() + 2000;
    while (s.access.length === 0 && Date.now() < deadline) {
      await new Promise((f) => setTimeout(f, 10));
    }
    assert.match(s.access.join(""), /^192\.0\.2\.44 - - \[/);
  });
});

/** Asserts `r` is exactly one canned error response with `status`, and the connection closed. */
function assertRefused(r: RoundTrip, status: number): void {
  assert.equal(r.responses.length, 1, r.text);
  assert.equal(r.responses[0].status, status, r.text);
  assert.equal(r.closed, true);
}

Deno.test("a trusted peer must send the header: none, a malformed one or the wrong version get 400", async () => {
  await withServer({ proxyProtocol: "v1" }, async (s) => {
    const cases: [string, string][] = [
      [GET_ENV, "MISSING_PROXY_HEADER"],
      ["PROXY TCP4 203.0.113.7 10.0.0.5 51000\r\n" + GET_ENV, "INVALID_PROXY_HEADER"],
      ["PROXY TCP4 203.0.113.7 10.0.0.5 051000 80\r\n" + GET_ENV, "INVALID_PROXY_HEADER"],
      [v2Inet([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) + GET_ENV, "MISSING_PROXY_HEADER"],
    ];
    for (const [request, code] of cases) {
      const before = s.logs.length;
      assertRefused(await roundTrip(s.port, request, { untilClose: true }), 400);
      assert.ok(
        s.logs.slice(before).some((l) => l.includes(`bad request from 127.0.0.1: ${code}`)),
        `${JSON.stringify(request)}: ${s.logs.slice(before).join("")}`,
      );
    }
  });
});

Deno.test("a peer outside --proxy-allow-ips is served as plain HTTP and may not send a header (403)", async () => {
  await withServer({ proxyProtocol: "auto", proxyAllowIps: "10.9.9.9,fd00::/8" }, async (s) => {
    const [e] = envs(await roundTrip(s.port, GET_ENV));
    assert.equal(e.REMOTE_ADDR, "127.0.0.1");
    const v1 = "PROXY TCP4 203.0.113.7 10.0.0.5 51000 443\r\n" + GET_ENV;
    assertRefused(await roundTrip(s.port, v1, { untilClose: true }), 403);
    // A v2 signature arriving a byte at a time is recognised once it can be nothing else.
    const v2 = v2Inet([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    const parts = [...v2.slice(0, 12)].concat(v2.slice(12) + GET_ENV);
    assertRefused(await roundTrip(s.port, parts, { untilClose: true, gapMs: 2 }), 403);
    assert.ok(s.logs.some((l) => l.includes("PROXY_HEADER_FORBIDDEN")), s.logs.join(""));
  });
});

Deno.test("X-Forwarded-For after a PROXY header is trusted only if the header's client is", async () => {
  const request = "PROXY TCP4 203.0.113.7 10.0.0.5 51000 443\r\n" +
    "GET /env HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n";
  await withServer({ proxyProtocol: "v1" }, async (s) => {
    const [e] = envs(await roundTrip(s.port, request));
    assert.equal(e.REMOTE_ADDR, "203.0.113.7"); // the loopback proxy's trust does not carry over
  });
  await withServer({ proxyProtocol: "v1", forwardedAllowIps: "203.0.113.0/24" }, async (s) => {
    const [e] = envs(await roundTrip(s.port, request));
    assert.equal(e.REMOTE_ADDR, "198.51.100.1");
  });
});

Deno.test("an unfinished header is cut off by --headers-timeout-ms", async () => {
  await withServer(
    { proxyProtocol: "v1", headersTimeoutMs: 300, timeoutCheckIntervalMs: 50 },
    async (s) => {
      const t0 = Date.now();
      const r = await roundTrip(s.port, "PROXY TCP4 203.0.113.7", {
        untilClose: true,
        timeoutMs: 4000,
      });
      assert.ok(Date.now() - t0 < 3500, "the server kept the connection");
      assertRefused(r, 408);
    },
  );
});

Deno.test("a connection that sent only its header is idle: closed without a 408", async () => {
  await withServer(
    { proxyProtocol: "v1", keepAliveTimeoutMs: 300, timeoutCheckIntervalMs: 50 },
    async (s) => {
      const r = await roundTrip(s.port, "PROXY TCP4 203.0.113.7 10.0.0.5 51000 443\r\n", {
        untilClose: true,
        timeoutMs: 4000,
      });
      assert.equal(r.closed, true);
      assert.equal(r.text, "", "nothing is answered to a connection that asked nothing");
    },
  );
});

Deno.test("--proxy-protocol off (the default) serves a PROXY line as the bad request it is", async () => {
  await withServer({}, async (s) => {
    const r = await roundTrip(s.port, "PROXY TCP4 203.0.113.7 10.0.0.5 51000 443\r\n" + GET_ENV, {
      untilClose: true,
    });
    assertRefused(r, 400);
    assert.ok(!s.logs.some((l) => l.includes("PROXY_HEADER")), s.logs.join(""));
  });
});

Deno.test("settings that cannot work are usage errors (exit 2) that say why", async () => {
  const cases: [string[], RegExp][] = [
    [["--proxy-protocol", "v3"], /proxy-protocol/],
    [
      ["--proxy-protocol", "v1", "--proxy-allow-ips", "10.0.0.0/99"],
      /--proxy-allow-ips: '10\.0\.0\.0\/99'/,
    ],
    [
      ["--proxy-protocol", "auto", "--certfile", "c.pem", "--keyfile", "k.pem"],
      /--proxy-protocol cannot be used with --certfile/,
    ],
  ];
  for (const [args, message] of cases) {
    const p = await startLsbaws([...args, GATEWAY], { waitListening: false });
    const status = await p.status;
    await p.stop();
    assert.equal(status.code, 2, `${args.join(" ")}\n${p.err.join("\n")}`);
    assert.match(p.err.join("\n"), message);
  }
});

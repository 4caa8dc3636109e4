/**
 * Trusted proxy headers end to end (in-process server on loopback): REMOTE_ADDR, url_scheme and
 * SERVER_NAME/PORT for gateway apps, `info.remoteAddr` and `request.url` for fetch apps, values
 * from untrusted peers ignored, and --root-path and X-Forwarded-Prefix as SCRIPT_NAME.
 */
import assert from "node:assert/strict";
import { startApp } from "../_support/server.ts";
import { rawOnce } from "../_support/load.ts";

const GATEWAY = "tests/fixtures/apps/ops.ts:app";
const FETCH = "tests/fixtures/apps/info.ts";

async function envOf(port: number, headers: Record<string, string>, target = "/env") {
  const r = await rawOnce({ url: `http://127.0.0.1:${port}${target}`, headers });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body);
}

Deno.test("X-Forwarded-For/-Proto/-Host from a trusted peer reach the environ", async () => {
  const s = await startApp(GATEWAY); // default --forwarded-allow-ips 127.0.0.1,::1
  try {
    const env = await envOf(s.port, {
      "X-Forwarded-For": "6.6.6.6, 203.0.113.7",
      "X-Forwarded-Proto": "https",
      "X-Forwarded-Host": "shop.example:8443",
    });
    assert.equal(env.REMOTE_ADDR, "203.0.113.7");
    assert.equal(env.REMOTE_PORT, "0");
    assert.equal(env["lsbaws.url_scheme"], "https");
    assert.equal(env.SERVER_NAME, "shop.example");
    assert.equal(env.SERVER_PORT, "8443");
  } finally {
    await s.close();
  }
});

Deno.test("RFC 7239 Forwarded with a quoted IPv6 node reaches the environ", async () => {
  const s = await startApp(GATEWAY);
  try {
    const env = await envOf(s.port, {
      Forwarded: 'for="[2001:db8::7]:4711";proto=https;host=shop.example',
    });
    assert.equal(env.REMOTE_ADDR, "2001:db8::7");
    assert.equal(env.REMOTE_PORT, "4711");
    assert.equal(env["lsbaws.url_scheme"], "https");
    assert.equal(env.SERVER_NAME, "shop.example");
    assert.equal(env.SERVER_PORT, "443");
  } finally {
    await s.close();
  }
});

Deno.test("proxy headers from a peer outside --forwarded-allow-ips are ignored", async () => {
  const s = await startApp(GATEWAY, { forwardedAllowIps: "10.0.0.0/8" });
  try {
    const env = await envOf(s.port, {
      "X-Forwarded-For": "203.0.113.7",
      "X-Forwarded-Proto": "https",
      Forwarded: "for=198.51.100.1",
    });
    assert.equal(env.REMOTE_ADDR, "127.0.0.1");
    assert.notEqual(env.REMOTE_PORT, "0");
    assert.equal(env["lsbaws.url_scheme"], "http");
    assert.equal(env.SERVER_NAME, "127.0.0.1");
  } finally {
    await s.close();
  }
});

Deno.test("fetch apps see the forwarded client in info.remoteAddr and request.url", async () => {
  const s = await startApp(FETCH, { forwardedAllowIps: "*" });
  try {
    const r = await rawOnce({
      url: `http://127.0.0.1:${s.port}/a?b=1`,
      headers: {
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "shop.example",
      },
    });
    const body = JSON.parse(r.body);
    assert.equal(body.remote.hostname, "203.0.113.9");
    assert.equal(body.url, "https://shop.example/a?b=1");
  } finally {
    await s.close();
  }
});

Deno.test("--root-path is SCRIPT_NAME and is stripped from PATH_INFO", async () => {
  const s = await startApp(GATEWAY, { rootPath: "/api" });
  try {
    const env = await envOf(s.port, {}, "/api/env");
    assert.equal(env.SCRIPT_NAME, "/api");
    assert.equal(env.PATH_INFO, "/env");
  } finally {
    await s.close();
  }
});

Deno.test("X-Forwarded-Prefix from a trusted peer comes before --root-path in SCRIPT_NAME", async () => {
  const plain = await startApp(GATEWAY);
  try {
    const env = await envOf(plain.port, { "X-Forwarded-Prefix": "/caf%C3%A9/" });
    assert.equal(env.SCRIPT_NAME, "/caf\u00c3\u00a9", "percent-decoded into latin-1, no final /");
    assert.equal(env.PATH_INFO, "/env", "the proxy removed the prefix: nothing more is stripped");
  } finally {
    await plain.close();
  }
  const rooted = await startApp(GATEWAY, { rootPath: "/api" });
  try {
    const env = await envOf(rooted.port, { "X-Forwarded-Prefix": "/shop" }, "/api/env");
    assert.equal(env.SCRIPT_NAME, "/shop/api");
    assert.equal(env.PATH_INFO, "/env");
  } finally {
    await rooted.close();
  }
  const untrusted = await startApp(GATEWAY, { forwardedAllowIps: "10.0.0.0/8" });
  try {
    const env = await envOf(untrusted.port, { "X-Forwarded-Prefix": "/shop" });
    assert.equal(env.SCRIPT_NAME, "");
  } finally {
    await untrusted.close();
  }
});

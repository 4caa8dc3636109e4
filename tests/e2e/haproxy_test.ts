/**
 * lsbaws (two workers) behind HAProxy in TCP mode with the PROXY protocol (the Debian package,
 * started by the test on loopback with a generated config). HAProxy connects from 127.0.0.3, the
 * only address in --proxy-allow-ips, and sends a v1 header on one frontend and a v2 header on another (IPv4 and
 * IPv6 clients); its HTTP health checks carry a v2 LOCAL header. Checks that the app sees each
 * client's own address and port, the checks the proxy's, that clients reaching lsbaws directly
 * are served as plain HTTP, and that a bounded load through the proxy all succeeds. A second
 * test has HAProxy terminate TLS and send `send-proxy-v2-ssl`: the app sees https.
 */
import assert from "node:assert/strict";
import { runLoad } from "../_support/load.ts";
import { freePort, type Proc, spawnDaemon, startLsbaws, waitForPort } from "../_support/proc.ts";
import { hasOpenssl, makeCert } from "../_support/tls.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

function haproxyPath(): string | null {
  for (const name of ["haproxy", "/usr/sbin/haproxy"]) {
    try {
      new Deno.Command(name, { args: ["-v"], stdout: "null", stderr: "null" }).outputSync();
      return name;
    } catch {
      // try the next
    }
  }
  return null;
}

const HAPROXY = haproxyPath();
if (!HAPROXY) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "haproxy_test: skipped: haproxy is not installed (apt-get install -y haproxy; .ci/run does this)\n",
    ),
  );
}

if (HAPROXY && !hasOpenssl) {
  Deno.stderr.writeSync(
    new TextEncoder().encode("haproxy_test: the TLS test is skipped: openssl is not installed\n"),
  );
}

/** Whether this host can listen on ::1 (HAProxy's IPv6 frontend needs it). */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

function haproxyConf(lsbaws: number, v1: number, v2: number, v2six: number | null): string {
  return `global
  maxconn 256
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fv1
  bind 127.0.0.1:${v1}
  default_backend bv1
backend bv1
  server s1 127.0.0.1:${lsbaws} send-proxy source 127.0.0.3
frontend fv2
  bind 127.0.0.1:${v2}
${v2six === null ? "" : `  bind [::1]:${v2six}\n`}  default_backend bv2
backend bv2
  option httpchk GET /checked
  server s2 127.0.0.1:${lsbaws} send-proxy-v2 source 127.0.0.3 check check-send-proxy inter 100ms
`;
}

/**
 * GET /env over a fresh connection to `hostname:port`; returns the environ keys the fixture app
 * reports and the client's own port.
 */
async function envVia(
  hostname: string,
  port: number,
): Promise<{ env: Record<string, string>; clientPort: number }> {
  const conn = await Deno.connect({ hostname, port });
  const clientPort = (conn.localAddr as Deno.NetAddr).port;
  await conn.write(
    new TextEncoder().encode("GET /env HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
  );
  const text = await new Response(conn.readable).text();
  const [head, body] = text.split("\r\n\r\n");
  assert.match(head, /^HTTP\/1\.1 200 /, text);
  return { env: JSON.parse(body), clientPort };
}

/** Stops HAProxy and lsbaws (whichever started) and removes the test's directory. */
async function tearDown(
  haproxy: Deno.ChildProcess | null,
  lsbaws: Proc | null,
  dir: string,
): Promise<void> {
  if (haproxy) {
    try {
      haproxy.kill("SIGTERM");
    } catch {
      // already gone
    }
    await haproxy.status;
  }
  await lsbaws?.stop();
  await Deno.remove(dir, { recursive: true });
}

async function waitUp(port: number, err: string[]): Promise<void> {
  if (!(await waitForPort(port))) assert.fail(`haproxy did not start:\n${err.join("")}`);
}

Deno.test({
  name: "HAProxy send-proxy and send-proxy-v2: client addresses, LOCAL health checks, direct peers",
  ignore: !HAPROXY,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-haproxy-" });
    let lsbaws: Proc | null = null;
    let haproxy: Deno.ChildProcess | null = null;
    try {
      lsbaws = await startLsbaws([
        "-w",
        "2",
        "-p",
        "0",
        "--proxy-protocol",
        "auto",
        "--proxy-allow-ips",
        "127.0.0.3",
        "--access-log",
        "-",
        APP,
      ]);
      const [v1, v2] = [freePort(), freePort()];
      const v2six = hasIpv6Loopback() ? freePort() : null;
      await Deno.writeTextFile(`${dir}/h.cfg`, haproxyConf(lsbaws.port(), v1, v2, v2six));
      const daemon = spawnDaemon(HAPROXY!, ["-f", `${dir}/h.cfg`, "-db"]);
      haproxy = daemon.child;
      const err = daemon.err;
      await waitUp(v1, err);
      await waitUp(v2, err);

      // 1. Each client's own address and port reach the app, over v1 and v2.
      for (const port of [v1, v2]) {
        const { env, clientPort } = await envVia("127.0.0.1", port);
        assert.equal(env.REMOTE_ADDR, "127.0.0.1", `port ${port}`);
        assert.equal(env.REMOTE_PORT, String(clientPort), `port ${port}`);
      }
      if (v2six !== null) {
        const { env, clientPort } = await envVia("::1", v2six);
        assert.equal(env.REMOTE_ADDR, "::1");
        assert.equal(env.REMOTE_PORT, String(clientPort));
      } else {
        Deno.stderr.writeSync(
          new TextEncoder().encode(
            "haproxy_test: the IPv6 frontend is skipped: this host cannot listen on ::1\n",
          ),
        );
      }

      // 2. A client reaching lsbaws directly (not in --proxy-allow-ips) is served as plain HTTP.
      const direct = await envVia("127.0.0.1", lsbaws.port());
      assert.equal(direct.env.REMOTE_ADDR, "127.0.0.1");
      assert.equal(direct.env.REMOTE_PORT, String(direct.clientPort));

      // 3. HAProxy's health checks (v2 LOCAL headers) are answered and logged as the proxy.
      await lsbaws.waitFor(
        () =>
          lsbaws!.out.some((l) => l.startsWith("127.0.0.3 - - [") && l.includes("GET /checked")),
        "a health check in the access log",
      );

      // 4. A bounded load through the v2 frontend: every request succeeds.
      const load = await runLoad({
        url: `http://127.0.0.1:${v2}/`,
        total: 400,
        concurrency: 8,
        timeoutMs: 20_000,
      }).done;
      assert.equal(load.ok, 400, JSON.stringify(load.errors.slice(0, 3)));
      assert.ok(
        !lsbaws.err.some((l) => /PROXY_HEADER|bad request/.test(l)),
        lsbaws.err.join("\n"),
      );
    } finally {
      await tearDown(haproxy, lsbaws, dir);
    }
  },
});

Deno.test({
  name: "HAProxy terminating TLS with send-proxy-v2-ssl: the app sees https and the client",
  ignore: !HAPROXY || !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-haproxy-ssl-" });
    let lsbaws: Proc | null = null;
    let haproxy: Deno.ChildProcess | null = null;
    try {
      const { cert, key } = await makeCert(dir);
      await Deno.writeTextFile(
        `${dir}/both.pem`,
        (await Deno.readTextFile(cert)) + (await Deno.readTextFile(key)),
      );
      lsbaws = await startLsbaws(["-p", "0", "--proxy-protocol", "v2", APP]);
      const [tls, plain] = [freePort(), freePort()];
      await Deno.writeTextFile(
        `${dir}/h.cfg`,
        `global
  maxconn 64
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend ftls
  bind 127.0.0.1:${tls} ssl crt ${dir}/both.pem
  default_backend btls
backend btls
  server s1 127.0.0.1:${lsbaws.port()} send-proxy-v2-ssl
frontend fplain
  bind 127.0.0.1:${plain}
  default_backend bplain
backend bplain
  server s2 127.0.0.1:${lsbaws.port()} send-proxy-v2-ssl
`,
      );
      const daemon = spawnDaemon(HAPROXY!, ["-f", `${dir}/h.cfg`, "-db"]);
      haproxy = daemon.child;
      await waitUp(tls, daemon.err);
      await waitUp(plain, daemon.err);
      // curl, as in tls_test: Deno's client refuses a self-signed certificate used as its own CA.
      const out = await new Deno.Command("curl", {
        args: ["-sS", "--cacert", cert, `https://localhost:${tls}/env`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const env = JSON.parse(text);
      assert.equal(env["lsbaws.url_scheme"], "https", text);
      assert.equal(env.REMOTE_ADDR, "127.0.0.1");
      // The same backend option over a plain frontend: the TLV says no TLS.
      const viaPlain = await envVia("127.0.0.1", plain);
      assert.equal(viaPlain.env["lsbaws.url_scheme"], "http");
    } finally {
      await tearDown(haproxy, lsbaws, dir);
    }
  },
});

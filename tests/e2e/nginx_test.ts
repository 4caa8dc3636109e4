/**
 * lsbaws behind nginx (the Debian package, started by the test on loopback with a generated
 * config): two lsbaws instances in one keep-alive upstream. Checks proxied requests, the client
 * address through X-Forwarded-For (spoofing ignored), keep-alive upstream connections, and that
 * killing one instance under a bounded load loses no idempotent request (nginx retries on the
 * other instance). Also: nginx workers running as another user and --unix-socket-mode, and
 * nginx's stream proxy sending the PROXY protocol header (v1) over TCP and a unix socket.
 */
import assert from "node:assert/strict";
import { runLoad } from "../_support/load.ts";
import { freePort, type Proc, spawnDaemon, startLsbaws, waitForPort } from "../_support/proc.ts";
import { tcpSockets } from "../_support/proc_net.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

function findTool(names: string[]): string | null {
  for (const name of names) {
    try {
      new Deno.Command(name, { args: ["-v"], stdout: "null", stderr: "null" }).outputSync();
      return name;
    } catch {
      // try the next
    }
  }
  return null;
}

const NGINX = findTool(["nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"]);
const CURL = findTool(["curl"]);
if (!NGINX) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "nginx_test: skipped: nginx is not installed (apt-get install -y nginx; .ci/run does this)\n",
    ),
  );
}

/** nginx's temporary directories, inside the test's own directory. */
function tempPaths(dir: string): string {
  return ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `  ${kind}_temp_path ${dir}/${kind === "client_body" ? "body" : kind};`)
    .join("\n");
}

function nginxConf(dir: string, listen: number, upstreams: number[]): string {
  const asRoot = Deno.uid() === 0 ? "user root root;\n" : "";
  return `${asRoot}worker_processes 1;
events { worker_connections 512; }
http {
  access_log off;
${tempPaths(dir)}
  upstream lsbaws {
${upstreams.map((p) => `    server 127.0.0.1:${p};`).join("\n")}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://lsbaws;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout;
    }
    location /shop/ {
      proxy_pass http://lsbaws/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-Prefix /shop;
    }
  }
}
`;
}

/** Server-side TCP sockets (not listening) whose local port is one of `ports`. */
function serverSockets(ports: number[]): number {
  return tcpSockets().filter((s) => !s.listening && ports.includes(s.localPort)).length;
}

/**
 * Starts nginx with `conf` (written to `dir`) and waits until it accepts on `listen`; the error
 * output is collected for the failure message.
 */
async function startNginx(
  dir: string,
  conf: string,
  listen: number,
): Promise<{ child: Deno.ChildProcess; err: string[] }> {
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const { child, err } = spawnDaemon(NGINX!, [
    "-e",
    "stderr",
    "-p",
    dir,
    "-c",
    `${dir}/nginx.conf`,
    "-g",
    `daemon off; pid ${dir}/nginx.pid; error_log stderr;`,
  ]);
  if (!(await waitForPort(listen))) {
    await stopNginx(child);
    assert.fail(`nginx did not start:\n${err.join("")}`);
  }
  return { child, err };
}

/** Stops nginx and waits for it. */
async function stopNginx(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already gone
  }
  await child.status;
}

async function curlFrom(source: string, url: string, headers: string[] = []): Promise<string> {
  const args = [
    "-sS",
    "--max-time",
    "10",
    "--interface",
    source,
    ...headers.flatMap((h) => ["-H", h]),
    url,
  ];
  const out = await new Deno.Command(CURL!, { args, stdout: "piped", stderr: "piped" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "nginx in front of two lsbaws instances: proxying, client address, keep-alive, failover",
  ignore: !NGINX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-nginx-" });
    const instances: Proc[] = [];
    let nginx: Deno.ChildProcess | null = null;
    try {
      instances.push(await startLsbaws(["-p", "0", APP]), await startLsbaws(["-p", "0", APP]));
      const [a, b] = instances;
      const ports = instances.map((i) => i.port());
      const listen = freePort();
      const started = await startNginx(dir, nginxConf(dir, listen, ports), listen);
      nginx = started.child;
      const base = `http://127.0.0.1:${listen}`;

      // 1. Proxied requests reach both instances.
      const spread = await runLoad({ url: `${base}/`, total: 200, concurrency: 8 }).done;
      assert.equal(spread.statuses.get(200), 200, spread.errors.join("; "));
      const pids = new Set([...spread.bodies.keys()].map((body) => Number(body.split(" ")[1])));
      assert.deepEqual(pids, new Set([a.pid, b.pid]), "both instances served");

      // 2. Keep-alive upstreams: far fewer upstream connections than requests.
      const sockets = serverSockets(ports);
      assert.ok(sockets >= 1 && sockets <= 40, `${sockets} upstream sockets for 200 requests`);

      // 3. The client address comes through X-Forwarded-For; a spoofed hop is ignored.
      if (CURL) {
        const env = JSON.parse(
          await curlFrom("127.0.0.2", `${base}/env`, ["Host: shop.example:8080"]),
        );
        assert.equal(env.REMOTE_ADDR, "127.0.0.2");
        assert.equal(env.SERVER_NAME, "shop.example");
        assert.equal(env.SERVER_PORT, "8080");
        assert.equal(env["lsbaws.url_scheme"], "http");
        const spoof = JSON.parse(
          await curlFrom("127.0.0.2", `${base}/env`, ["X-Forwarded-For: 6.6.6.6"]),
        );
        assert.equal(
          spoof.REMOTE_ADDR,
          "127.0.0.2",
          "client-supplied X-Forwarded-For is not trusted",
        );
        // A path nginx removes before forwarding comes back as SCRIPT_NAME.
        const mounted = JSON.parse(await curlFrom("127.0.0.2", `${base}/shop/env`));
        assert.deepEqual([mounted.SCRIPT_NAME, mounted.PATH_INFO], ["/shop", "/env"]);
      }

      // 4. Killing one instance under load loses no idempotent request.
      const load = runLoad({ url: `${base}/slow?ms=2`, total: 600, concurrency: 8 });
      await load.progress(150);
      a.signal("SIGKILL");
      const r = await load.done;
      assert.equal(r.failed + r.refused, 0, r.errors.join("; "));
      assert.deepEqual([...r.statuses], [[200, 600]]);
      assert.equal((await a.status).signal, "SIGKILL");
    } finally {
      if (nginx) await stopNginx(nginx);
      for (const i of instances) await i.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const asRoot = Deno.uid() === 0;
if (NGINX && !asRoot) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "nginx_test: unix socket permissions skipped: needs root to run nginx's workers as nobody\n",
    ),
  );
}

Deno.test({
  name:
    "nginx workers running as another user reach lsbaws's unix socket only when --unix-socket-mode lets them",
  ignore: !NGINX || !asRoot,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-nginx-unix-" });
    await Deno.chmod(dir, 0o755); // nobody may look up the socket's name
    const sock = `${dir}/app.sock`;
    try {
      for (const [mode, status] of [["600", 502], ["666", 200]] as const) {
        const app = await startLsbaws(["-b", `unix:${sock}`, "--unix-socket-mode", mode, APP]);
        const listen = freePort();
        const conf = `user nobody nogroup;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
${tempPaths(dir)}
  server {
    listen 127.0.0.1:${listen};
    location / { proxy_pass http://unix:${sock}:; }
  }
}
`;
        let nginx: Deno.ChildProcess | null = null;
        try {
          const started = await startNginx(dir, conf, listen);
          nginx = started.child;
          const res = await fetch(`http://127.0.0.1:${listen}/`);
          await res.body?.cancel();
          assert.equal(res.status, status, `mode ${mode}: ${started.err.join("")}`);
          if (status === 502) {
            assert.match(started.err.join(""), /Permission denied/, "nginx says why");
          }
        } finally {
          if (nginx) await stopNginx(nginx);
          assert.equal((await app.stop()).code, 0);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const STREAM_MODULE = ["/usr/lib/nginx/modules/ngx_stream_module.so"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (NGINX && (!STREAM_MODULE || !CURL)) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "nginx_test: PROXY protocol skipped: needs curl and nginx's stream module " +
        "(apt-get install -y libnginx-mod-stream; .ci/run does this)\n",
    ),
  );
}

Deno.test({
  name:
    "nginx's stream proxy with proxy_protocol on, over TCP and a unix socket: the client's address",
  ignore: !NGINX || !STREAM_MODULE || !CURL,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lsbaws-nginx-pp-" });
    const sock = `${dir}/app.sock`;
    const port = freePort();
    const app = await startLsbaws([
      "-b",
      `127.0.0.1:${port}`,
      "-b",
      `unix:${sock}`,
      "--proxy-protocol",
      "v1",
      APP,
    ]);
    const [viaTcp, viaUnix] = [freePort(), freePort()];
    const asRoot = Deno.uid() === 0 ? "user root root;\n" : "";
    const conf = `${asRoot}load_module ${STREAM_MODULE};
worker_processes 1;
events { worker_connections 64; }
stream {
  server { listen 127.0.0.1:${viaTcp}; proxy_pass 127.0.0.1:${port}; proxy_protocol on; }
  server { listen 127.0.0.1:${viaUnix}; proxy_pass unix:${sock}; proxy_protocol on; }
}
`;
    let nginx: Deno.ChildProcess | null = null;
    try {
      const started = await startNginx(dir, conf, viaTcp);
      nginx = started.child;
      for (const listen of [viaTcp, viaUnix]) {
        const env = JSON.parse(await curlFrom("127.0.0.2", `http://127.0.0.1:${listen}/env`));
        assert.equal(env.REMOTE_ADDR, "127.0.0.2", `via ${listen}: ${started.err.join("")}`);
        assert.notEqual(env.REMOTE_PORT, "0");
      }
      // Straight to lsbaws from 127.0.0.1, which --proxy-allow-ips trusts: no header, so 400.
      const direct = await fetch(`http://127.0.0.1:${port}/env`);
      await direct.body?.cancel();
      assert.equal(direct.status, 400);
    } finally {
      if (nginx) await stopNginx(nginx);
      await app.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Static files end to end: the real engine (`serve`) with a handler that runs the static
 * responder first and otherwise answers 404 itself, exercised with raw sockets (keep-alive,
 * pipelining, HEAD, 304, ranges, traversal the way an attacker sends it, a client that hangs up
 * mid-file) and with curl (`--path-as-is`, `-r`, `-z`, `--compressed`, `-L`).
 */
import assert from "node:assert/strict";
import { type Config, DEFAULTS } from "../../../server/config.ts";
import type { Exchange } from "../../../server/exchange.ts";
import { createLogger } from "../../../server/log.ts";
import { serve } from "../../../server/serve.ts";
import { createStaticHandler } from "../../../server/static/mod.ts";
import { rawExchange, statuses } from "../../_support/server.ts";
import { makeTree, openFilesUnder, type Tree } from "./_fake.ts";

interface Running {
  port: number;
  logs: string[];
  tree: Tree;
  bigPath: string;
  bigSize: number;
}

const APP_404 = new TextEncoder().encode("app 404\n");

function app404(ex: Exchange): Promise<void> | undefined {
  ex.res.head(404, [["Content-Type", "text/plain"], ["Content-Length", String(APP_404.length)]]);
  ex.res.write(APP_404);
  return ex.res.end();
}

async function withServer(fn: (r: Running) => Promise<void>): Promise<void> {
  const tree = await makeTree();
  const bigSize = 8 * 1024 * 1024;
  const bigPath = `${tree.root}/huge.bin`;
  await Deno.writeFile(bigPath, new Uint8Array(bigSize).fill(0x61));
  const gz = new Blob([await Deno.readFile(`${tree.root}/page.html`)]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  await Deno.writeFile(
    `${tree.root}/page.html.gz`,
    new Uint8Array(await new Response(gz).arrayBuffer()),
  );
  const st = createStaticHandler([{ prefix: "/static", dir: tree.root }], { maxAgeSeconds: 60 });
  const config: Config = { ...DEFAULTS, port: 0, logLevel: "debug" };
  const logs: string[] = [];
  const logger = createLogger({
    level: "debug",
    accessLog: "",
    accessLogFormat: config.accessLogFormat,
    errorSink: { write: (t) => void logs.push(t) },
  });
  const server = await serve((ex) => st.match(ex.head) ? st.serve(ex) : app404(ex), config, {
    logger,
  });
  try {
    await fn({ port: (server.addrs[0] as Deno.NetAddr).port, logs, tree, bigPath, bigSize });
  } finally {
    await server.shutdown(0);
    logger.close();
    await tree.remove();
  }
}

const req = (target: string, extra = "", method = "GET") =>
  `${method} ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

Deno.test("e2e raw: keep-alive GET, HEAD, 304, range and app fallthrough on one connection", async () => {
  await withServer(async ({ port }) => {
    const first = await rawExchange(port, req("/static/hello.txt"));
    const etag = /ETag: ("[^"]+")/i.exec(first.text)![1];
    const r = await rawExchange(port, [
      req("/static/hello.txt") +
      req("/static/hello.txt", "", "HEAD") +
      req("/static/hello.txt", `If-None-Match: ${etag}\r\n`) +
      req("/static/hello.txt", "Range: bytes=6-\r\n") +
      req("/elsewhere") +
      req("/static/docs") +
      req("/static/nope.txt", "Connection: close\r\n"),
    ]);
    assert.deepEqual(statuses(r.text), [200, 200, 304, 206, 404, 301, 404]);
    assert.ok(r.closed);
    const parts = r.text.split(/(?=HTTP\/1\.1 )/);
    assert.match(parts[0], /\r\nContent-Length: 12\r\n[\s\S]*\r\n\r\nhello world\n$/i);
    assert.match(parts[0], /Cache-Control: public, max-age=60/i);
    assert.match(parts[0], /Content-Type: text\/plain; charset=utf-8/i);
    assert.match(parts[1], /Content-Length: 12\r\n[\s\S]*\r\n\r\n$/i, "HEAD: length, no body");
    assert.ok(parts[2].endsWith("\r\n\r\n"), "304 has no body");
    assert.ok(!/Content-Length/i.test(parts[2]));
    assert.match(parts[3], /Content-Range: bytes 6-11\/12[\s\S]*\r\n\r\nworld\n$/i);
    assert.ok(parts[4].endsWith("app 404\n"), "non-static paths reach the handler's app");
    assert.match(parts[5], /Location: \/static\/docs\//i);
    assert.ok(parts[6].endsWith("404 Not Found\n"), "static 404, not the app's");
  });
});

Deno.test("e2e raw: traversal as sent on the wire never leaks files outside DIR", async () => {
  await withServer(async ({ port }) => {
    const cases: Array<[string, number]> = [
      ["/static/../secret.txt", 404],
      ["/static/%2e%2e/secret.txt", 404],
      ["/static/..%2fsecret.txt", 404],
      ["/static/..%5csecret.txt", 404],
      ["/static/..\\secret.txt", 404],
      ["/static/%c0%ae%c0%ae/secret.txt", 400],
      ["/static/secret.txt%00", 400],
      ["/static/link-out.txt", 404],
      ["/static/linkdir-out/secret.txt", 404],
      ["/static/.env", 404],
      ["/static/.git/config", 404],
      ["/static/pipe.txt", 404],
      ["http://x/static/../secret.txt", 404],
    ];
    for (const [target, status] of cases) {
      const r = await rawExchange(port, req(target, "Connection: close\r\n"));
      assert.deepEqual(statuses(r.text), [status], target);
      assert.ok(!r.text.includes("SECRET"), target);
    }
  });
});

Deno.test("e2e raw: a client that hangs up mid-file; the server stays healthy", async () => {
  await withServer(async ({ port, logs, bigSize, tree }) => {
    for (let i = 0; i < 3; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode(req("/static/huge.bin")));
      const buf = new Uint8Array(4096);
      assert.ok((await conn.read(buf))! > 0);
      conn.close();
    }
    await new Promise((r) => setTimeout(r, 100));
    const ok = await rawExchange(port, req("/static/hello.txt", "Connection: close\r\n"));
    assert.deepEqual(statuses(ok.text), [200]);
    assert.ok(!logs.some((l) => /\berror\b/i.test(l) && !/debug/i.test(l)), logs.join(""));
    assert.equal(await openFilesUnder(tree.base), 0, "aborted responses closed their files");
    // A whole large file arrives intact.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(req("/static/huge.bin", "Connection: close\r\n")));
    let total = 0;
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
    }
    conn.close();
    assert.ok(total > bigSize && total < bigSize + 1024, `received ${total}`);
  });
});

function hasCurl(): boolean {
  try {
    return new Deno.Command("curl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function curl(args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--noproxy", "*", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "e2e curl: --path-as-is traversal, ranges, If-Modified-Since, --compressed, -L",
  ignore: !hasCurl(),
  fn: async () => {
    await withServer(async ({ port }) => {
      const base = `http://127.0.0.1:${port}`;
      const code = ["-o", "/dev/null", "-w", "%{http_code}"];
      assert.equal(await curl([...code, "--path-as-is", `${base}/static/../secret.txt`]), "404");
      assert.equal(
        await curl([...code, "--path-as-is", `${base}/static/%2e%2e/secret.txt`]),
        "404",
      );
      assert.equal(await curl([...code, "--path-as-is", `${base}/static/./hello.txt`]), "404");
      assert.equal(await curl([`${base}/static/hello.txt`]), "hello world\n");
      assert.equal(await curl(["-r", "0-4", `${base}/static/hello.txt`]), "hello");
      assert.equal(await curl([...code, "-r", "50-60", `${base}/static/hello.txt`]), "416");
      const head = await curl(["-I", `${base}/static/hello.txt`]);
      assert.match(head, /^HTTP\/1\.1 200/);
      assert.match(head, /accept-ranges: bytes/i);
      const lm = /last-modified: (.+)\r/i.exec(head)![1];
      assert.equal(await curl([...code, "-z", lm, `${base}/static/hello.txt`]), "304");
      const page = await curl(["--compressed", "-D", "-", `${base}/static/page.html`]);
      assert.match(page, /content-encoding: gzip/i);
      assert.ok(page.endsWith("\r\n\r\n<h1>hi</h1>\n"), page);
      assert.equal(await curl(["-L", `${base}/static/docs`]), "<p>docs</p>\n");
      assert.equal(await curl([...code, "-X", "POST", `${base}/static/hello.txt`]), "405");
    });
  },
});

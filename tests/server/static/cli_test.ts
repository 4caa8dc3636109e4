/**
 * `--static URL_PREFIX=DIR` through the real CLI (`main.ts` as a process, loopback, port 0): files
 * are answered before the app with their headers, conditionals, ranges and HEAD; everything else
 * still reaches the app; every traversal spelling sent on a raw socket (or by curl
 * `--path-as-is`) gets the status `server/static/path.ts` documents, never the app's answer nor a
 * file outside DIR; the access log records static responses. Also with a fetch app, `-w 2` and
 * over TLS.
 */
import assert from "node:assert/strict";
import { type Proc, startLsbaws } from "../../_support/proc.ts";
import { rawExchange, statuses } from "../../_support/server.ts";
import { makeTree, type Tree } from "./_fake.ts";

const HELLO_APP = "apps/hello.ts:app";
const APP_BODY = "Hello, world!\n";

function hasTool(name: string): boolean {
  try {
    new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

const CURL = hasTool("curl");
const OPENSSL = hasTool("openssl");

async function withLsbaws(
  args: string[],
  fn: (p: Proc, tree: Tree) => Promise<void>,
): Promise<void> {
  const tree = await makeTree();
  const p = await startLsbaws(["-p", "0", "--static", `/s=${tree.root}`, ...args]);
  try {
    await fn(p, tree);
  } finally {
    await p.stop();
    await tree.remove();
  }
}

const req = (target: string, extra = "", method = "GET") =>
  `${method} ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

/** One request on its own connection (`Connection: close`); the raw response text. */
async function once(port: number, target: string, extra = "", method = "GET"): Promise<string> {
  const r = await rawExchange(port, req(target, `${extra}Connection: close\r\n`, method));
  return r.text;
}

/** The value of response header `name` in a raw response (first match), or undefined. */
function header(text: string, name: string): string | undefined {
  const head = text.slice(0, text.indexOf("\r\n\r\n"));
  for (const line of head.split("\r\n").slice(1)) {
    const c = line.indexOf(":");
    if (line.slice(0, c).toLowerCase() === name) return line.slice(c + 1).trim();
  }
  return undefined;
}

const bodyOf = (text: string) => text.slice(text.indexOf("\r\n\r\n") + 4);

async function curl(args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--max-time", "10", "--noproxy", "*", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("CLI --static: files before a gateway app, headers, 304, 206, HEAD, 405, app untouched", async () => {
  await withLsbaws(["--static-max-age", "120", "--access-log", "-", HELLO_APP], async (p) => {
    const port = p.port();
    const ok = await once(port, "/s/hello.txt");
    assert.deepEqual(statuses(ok), [200]);
    assert.equal(bodyOf(ok), "hello world\n");
    assert.equal(header(ok, "content-type"), "text/plain; charset=utf-8");
    assert.equal(header(ok, "content-length"), "12");
    assert.equal(header(ok, "cache-control"), "public, max-age=120");
    assert.equal(header(ok, "accept-ranges"), "bytes");
    assert.ok(header(ok, "last-modified"));
    const etag = header(ok, "etag")!;
    assert.match(etag, /^"[^"]+"$/);

    assert.equal(
      header(await once(port, "/s/page.html"), "content-type"),
      "text/html; charset=utf-8",
    );

    const notModified = await once(port, "/s/hello.txt", `If-None-Match: ${etag}\r\n`);
    assert.deepEqual(statuses(notModified), [304]);
    assert.equal(bodyOf(notModified), "");
    assert.equal(header(notModified, "etag"), etag);

    const partial = await once(port, "/s/hello.txt", "Range: bytes=0-4\r\n");
    assert.deepEqual(statuses(partial), [206]);
    assert.equal(header(partial, "content-range"), "bytes 0-4/12");
    assert.equal(bodyOf(partial), "hello");

    const head = await once(port, "/s/hello.txt", "", "HEAD");
    assert.deepEqual(statuses(head), [200]);
    assert.equal(header(head, "content-length"), "12");
    assert.equal(bodyOf(head), "");

    const br = await once(port, "/s/app.js", "Accept-Encoding: br, gzip\r\n");
    assert.equal(header(br, "content-encoding"), "br");
    assert.equal(bodyOf(br), "BROTLI-BYTES");
    assert.equal(bodyOf(await once(port, "/s/docs/")), "<p>docs</p>\n", "index.html");
    assert.equal(header(await once(port, "/s/docs?x=1"), "location"), "/s/docs/?x=1");
    assert.deepEqual(statuses(await once(port, "/s/empty/")), [404], "no listing");

    // Keep-alive: POST with a body gets 405 + Allow, the body is drained, the next request works.
    const post = await rawExchange(port, [
      req("/s/hello.txt", "Content-Length: 5\r\n", "POST") + "abcde" +
      req("/s/hello.txt", "Connection: close\r\n"),
    ]);
    assert.deepEqual(statuses(post.text), [405, 200]);
    assert.match(post.text, /\r\nAllow: GET, HEAD\r\n/i);

    // Not under the prefix: the app, unchanged.
    for (const target of ["/", "/sx", "/static/hello.txt", "/other/s/hello.txt"]) {
      const r = await once(port, target);
      assert.deepEqual(statuses(r), [200], target);
      assert.equal(bodyOf(r), APP_BODY, target);
    }

    await p.waitFor(
      () => p.out.some((l) => l.includes(`"POST /s/hello.txt HTTP/1.1" 405`)),
      "the access log line of the 405",
    );
    assert.ok(p.out.some((l) => l.includes(`"GET /s/hello.txt HTTP/1.1" 206`)), p.out.join("\n"));
    assert.ok(p.out.some((l) => l.includes(`"HEAD /s/hello.txt HTTP/1.1" 200`)), p.out.join("\n"));
  });
});

/** Every traversal spelling and the status `server/static/path.ts` / `files.ts` give it. */
const TRAVERSAL: Array<[string, number, string?]> = [
  ["/s/../secret.txt", 404],
  ["/s/..", 404],
  ["/s/./hello.txt", 404],
  ["/s/%2e%2e/secret.txt", 404],
  ["/s/%2E%2E/secret.txt", 404],
  ["/s/.%2e/secret.txt", 404],
  ["/s/..%2fsecret.txt", 404],
  ["/s/%2e%2e%2fsecret.txt", 404],
  ["/s/..%2Fsecret.txt", 404],
  ["/s/..%5csecret.txt", 404],
  ["/s/..%5Csecret.txt", 404],
  ["/s/..\\secret.txt", 404],
  ["/s/\\..\\secret.txt", 404],
  ["/s//etc/passwd", 404],
  ["/s/hello.txt%00", 400],
  ["/s/hello.txt%00.png", 400],
  ["/s/%c0%ae%c0%ae/secret.txt", 400],
  ["/s/%e0%80%ae%e0%80%ae/secret.txt", 400],
  ["/s/%c0%af", 400],
  ["/s/%2", 400],
  ["/s/%zz", 400],
  ["/s/.env", 404],
  ["/s/.git/config", 404],
  ["/s/sub/.hidden/x.txt", 404],
  ["/s/%2eenv", 404],
  ["/s/link-out.txt", 404],
  ["/s/link-sibling.txt", 404],
  ["/s/linkdir-out/secret.txt", 404],
  ["/s/pipe.txt", 404],
  ["http://x/s/../secret.txt", 404],
  ["http://x/s/%2e%2e/secret.txt", 404],
];

Deno.test("CLI --static: every traversal form over a raw socket is refused; the app never sees it", async () => {
  await withLsbaws(["--access-log", "-", HELLO_APP], async (p) => {
    const port = p.port();
    for (const [target, status] of TRAVERSAL) {
      const r = await once(port, target);
      assert.deepEqual(statuses(r), [status], target);
      const text = status === 404 ? "404 Not Found\n" : "400 Bad Request\n";
      assert.equal(bodyOf(r), text, `${target}: the static responder answered`);
      assert.ok(!r.includes("SECRET") && !r.includes(APP_BODY), target);
    }
    // A raw NUL never gets past the request parser (400), so it cannot reach the app either.
    const nul = await rawExchange(port, req("/s/hello.txt\0.png", "Connection: close\r\n"));
    assert.deepEqual(statuses(nul.text), [400]);
    assert.ok(!nul.text.includes(APP_BODY));
    // A symlinked `.br` sibling that escapes DIR is ignored: the plain file is sent.
    const sneaky = await once(port, "/s/sneaky.txt", "Accept-Encoding: br\r\n");
    assert.equal(bodyOf(sneaky), "sneaky plain\n");
    assert.equal(header(sneaky, "content-encoding"), undefined);
    await p.waitFor(
      () => p.out.some((l) => l.includes(`"GET http://x/s/%2e%2e/secret.txt HTTP/1.1" 404`)),
      "the access log records refused static requests",
    );
  });
});

Deno.test({
  name: "CLI --static: curl --path-as-is traversal and downloads",
  ignore: !CURL,
  async fn() {
    await withLsbaws([HELLO_APP], async (p) => {
      const base = `http://127.0.0.1:${p.port()}`;
      const code = ["-o", "/dev/null", "-w", "%{http_code}"];
      for (const path of ["/s/../secret.txt", "/s/%2e%2e/secret.txt", "/s/..%2f..%2fetc/passwd"]) {
        assert.equal(await curl([...code, "--path-as-is", base + path]), "404", path);
      }
      assert.equal(await curl([...code, "--path-as-is", `${base}/s/%c0%ae%c0%ae/x`]), "400");
      assert.equal(await curl([`${base}/s/hello.txt`]), "hello world\n");
      assert.equal(await curl(["-r", "6-", `${base}/s/hello.txt`]), "world\n");
      assert.equal(await curl([`${base}/`]), APP_BODY);
    });
  },
});

Deno.test("CLI --static: a fetch app with two workers", async () => {
  await withLsbaws(["-w", "2", "apps/browser.ts"], async (p, tree) => {
    await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length === 2, "2 workers");
    const port = p.port();
    for (let i = 0; i < 6; i++) {
      const r = await once(port, "/s/big.bin", "Range: bytes=1000-1999\r\n");
      assert.deepEqual(statuses(r), [206]);
      assert.equal(header(r, "content-type"), "application/octet-stream");
      const body = new Uint8Array([...bodyOf(r)].map((c) => c.charCodeAt(0)));
      assert.deepEqual(body, tree.big.subarray(1000, 2000));
    }
    const app = await once(port, "/");
    assert.deepEqual(statuses(app), [200]);
    assert.match(bodyOf(app), /lsbaws in a browser/);
    assert.equal(bodyOf(await once(port, "/s/../secret.txt")), "404 Not Found\n");
    assert.equal(bodyOf(await once(port, "/nope")), "not found\n", "the app's own 404");
  });
});

async function makeCert(dir: string): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"],
      ...["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return dir;
}

Deno.test({
  name: "CLI --static: over TLS (curl --cacert)",
  ignore: !(CURL && OPENSSL),
  async fn() {
    const dir = await makeCert(await Deno.makeTempDir({ prefix: "lsbaws-static-tls-" }));
    try {
      const tls = ["--certfile", `${dir}/cert.pem`, "--keyfile", `${dir}/key.pem`, HELLO_APP];
      await withLsbaws(tls, async (p) => {
        const base = `https://localhost:${p.port()}`;
        const ca = ["--cacert", `${dir}/cert.pem`];
        assert.equal(await curl([...ca, `${base}/s/hello.txt`]), "hello world\n");
        assert.equal(await curl([...ca, "-r", "0-4", `${base}/s/hello.txt`]), "hello");
        assert.equal(await curl([...ca, `${base}/`]), APP_BODY);
        const code = [...ca, "-o", "/dev/null", "-w", "%{http_code}", "--path-as-is"];
        assert.equal(await curl([...code, `${base}/s/../secret.txt`]), "404");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

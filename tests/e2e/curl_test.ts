// Real client: curl against lsbaws (HTTP/1.0 and 1.1, chunked and large uploads, keep-alive
// reuse across `--next`, multipart with -F). Skipped with a reason when curl is missing.
import assert from "node:assert/strict";
import { startApp, type TestServer } from "../_support/server.ts";

const MiB = 1024 * 1024;

function hasCurl(): boolean {
  try {
    return new Deno.Command("curl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const CURL = hasCurl();
if (!CURL) {
  Deno.stderr.writeSync(new TextEncoder().encode("curl_test: skipped, curl is not installed\n"));
}

interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function curl(args: string[], stdin?: Uint8Array): Promise<CurlResult> {
  const child = new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--noproxy", "*", ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function withEcho(fn: (s: TestServer, base: string) => Promise<void>, spec = "apps/echo.ts") {
  const s = await startApp(spec);
  try {
    await fn(s, `http://127.0.0.1:${s.port}`);
  } finally {
    await s.close();
  }
}

async function sha256File(path: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "curl: HTTP/1.0 and HTTP/1.1 GET, HEAD and POST",
  ignore: !CURL,
  async fn() {
    await withEcho(async (_s, base) => {
      const v10 = await curl(["--http1.0", "-w", "\n%{http_code} %{http_version}", `${base}/`]);
      assert.equal(v10.code, 0, v10.stderr);
      assert.equal(v10.stdout, "Hello\n200 1.1");
      const v11 = await curl(["--http1.1", "-i", `${base}/`]);
      assert.match(v11.stdout, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(v11.stdout, /\r\ncontent-length: 5\r\n/i);
      assert.match(v11.stdout, /\r\n\r\nHello$/);
      const head = await curl(["--http1.1", "-I", `${base}/`]);
      assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head.stdout, /content-length: 5/i);
      const post10 = await curl(["--http1.0", "--data-binary", "one-zero body", `${base}/echo`]);
      assert.equal(post10.stdout, "one-zero body");
    });
  },
});

Deno.test({
  name: "curl: a chunked upload from stdin is echoed byte for byte",
  ignore: !CURL,
  async fn() {
    await withEcho(async (_s, base) => {
      const data = new Uint8Array(5 * MiB).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
      const dir = await Deno.makeTempDir({ prefix: "lsbaws-curl-" });
      try {
        const out = await curl([
          "--http1.1",
          "-H",
          "Transfer-Encoding: chunked",
          "-H",
          "Content-Type: application/octet-stream",
          "-T",
          "-",
          "-o",
          `${dir}/out.bin`,
          "-w",
          "%{http_code} %{size_download}",
          `${base}/echo`,
        ], data);
        assert.equal(out.code, 0, out.stderr);
        assert.equal(out.stdout, `200 ${data.length}`);
        assert.deepEqual(await Deno.readFile(`${dir}/out.bin`), data);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      const echoed = await curl([
        "-H",
        "Transfer-Encoding: chunked",
        "-T",
        "-",
        `${base}/echo`,
      ], new TextEncoder().encode("chunked from curl\n"));
      assert.equal(echoed.stdout, "chunked from curl\n");
    });
  },
});

Deno.test({
  name: "curl: a 64 MiB upload is echoed intact (and timed)",
  ignore: !CURL,
  async fn() {
    await withEcho(async (_s, base) => {
      const dir = await Deno.makeTempDir({ prefix: "lsbaws-curl-" });
      try {
        const src = `${dir}/in.bin`;
        const dst = `${dir}/out.bin`;
        const block = new Uint8Array(MiB).map((_, i) => (i * 2654435761) >>> 24);
        const f = await Deno.open(src, { write: true, create: true });
        for (let i = 0; i < 64; i++) await f.write(block);
        f.close();
        const started = performance.now();
        const out = await curl([
          "--http1.1",
          "--data-binary",
          `@${src}`,
          "-H",
          "Content-Type: application/octet-stream",
          "-o",
          dst,
          "-w",
          "%{http_code} %{size_upload} %{size_download}",
          `${base}/echo`,
        ]);
        const seconds = (performance.now() - started) / 1000;
        assert.equal(out.code, 0, out.stderr);
        assert.equal(out.stdout, `200 ${64 * MiB} ${64 * MiB}`);
        assert.equal(await sha256File(dst), await sha256File(src));
        Deno.stderr.writeSync(new TextEncoder().encode(
          `curl: 64 MiB up and echoed back in ${seconds.toFixed(2)} s\n`,
        ));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "curl: --next reuses one keep-alive connection for three requests",
  ignore: !CURL,
  async fn() {
    await withEcho(async (_s, base) => {
      const fmt = "%{num_connects} %{http_code}\n";
      const out = await curl([
        "--http1.1",
        "-o",
        "/dev/null",
        "-w",
        fmt,
        `${base}/`,
        "--next",
        "-o",
        "/dev/null",
        "-w",
        fmt,
        "--data-binary",
        "x",
        `${base}/echo`,
        "--next",
        "-o",
        "/dev/null",
        "-w",
        fmt,
        `${base}/missing`,
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, "1 200\n0 200\n0 404\n");
    });
  },
});

Deno.test({
  name: "curl: -F multipart upload to apps/upload.ts",
  ignore: !CURL,
  async fn() {
    await withEcho(async (_s, base) => {
      const dir = await Deno.makeTempDir({ prefix: "lsbaws-curl-" });
      try {
        const path = `${dir}/photo.jpg`;
        await Deno.writeFile(path, new Uint8Array(1_500_000).map((_, i) => i & 0xff));
        const out = await curl([
          "-F",
          "caption=holiday",
          "-F",
          `file=@${path}`,
          `${base}/?sha256=1`,
        ]);
        assert.equal(out.code, 0, out.stderr);
        const json = JSON.parse(out.stdout);
        assert.equal(json.fields.caption, "holiday");
        assert.equal(json.files[0].name, "photo.jpg");
        assert.equal(json.files[0].type, "image/jpeg");
        assert.equal(json.files[0].size, 1_500_000);
        assert.equal(json.files[0].sha256, await sha256File(path));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }, "apps/upload.ts");
  },
});

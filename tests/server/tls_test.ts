/**
 * TLS with --certfile/--keyfile, checked with curl against a self-signed certificate made by the
 * test (openssl), in a single process and with two workers sharing the port.
 */
import assert from "node:assert/strict";
import { startLsbaws } from "../_support/proc.ts";
import { makeCert } from "../_support/tls.ts";

const APP = "tests/fixtures/apps/ops.ts:app";

function hasTool(name: string): boolean {
  try {
    new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

const tools = hasTool("openssl") && hasTool("curl");
if (!tools) {
  Deno.stderr.writeSync(new TextEncoder().encode("tls_test: skipped: needs openssl and curl\n"));
}

async function curl(cacert: string, url: string): Promise<{ code: number; body: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", "--cacert", cacert, "-w", "\n%{http_code}", url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const text = new TextDecoder().decode(out.stdout);
  const nl = text.lastIndexOf("\n");
  return { body: text.slice(0, nl), code: Number(text.slice(nl + 1)) };
}

for (const workers of ["1", "2"]) {
  Deno.test({
    name: `HTTPS with --certfile/--keyfile, verified by curl --cacert (-w ${workers})`,
    ignore: !tools,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "lsbaws-tls-" });
      const { cert, key } = await makeCert(dir);
      const p = await startLsbaws([
        "-w",
        workers,
        "-p",
        "0",
        "--certfile",
        cert,
        "--keyfile",
        key,
        APP,
      ]);
      try {
        assert.match(p.listening()[0], /^https:\/\/127\.0\.0\.1:\d+$/);
        const base = `https://localhost:${p.port()}`;
        const r = await curl(cert, `${base}/env`);
        assert.equal(r.code, 200);
        const env = JSON.parse(r.body);
        assert.equal(env["lsbaws.url_scheme"], "https");
        assert.equal(env.SERVER_NAME, "localhost");
        if (workers === "2") {
          await p.waitFor(() => p.workers().length === 2, "2 workers");
          const pids = new Set<string>();
          for (let i = 0; i < 60 && pids.size < 2; i++) {
            pids.add((await curl(cert, `${base}/`)).body);
          }
          assert.equal(pids.size, 2, "both TLS workers answer");
        }
      } finally {
        await p.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "a missing certificate file is a boot error (exit 3)",
  async fn() {
    const p = await startLsbaws(
      ["-p", "0", "--certfile", "/nonexistent/c.pem", "--keyfile", "/nonexistent/k.pem", APP],
      { waitListening: false },
    );
    const s = await p.status;
    await p.stop();
    assert.equal(s.code, 3);
    assert.ok(p.err.some((l) => l.includes("cannot listen")), p.err.join("\n"));
  },
});

/**
 * Smoke test of the in-process engine benchmark (bench/engine_preload.ts): the unchanged
 * `main.ts` with the preload serves its in-memory connections through the `deno` driver, every
 * measured phase prints a per-request figure, each batch of pipelined responses went out as one
 * write, and the process exits 0 by itself. It asserts nothing about speed.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("engine preload: main.ts serves in-memory pipelined batches and reports ns/request", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      "--preload",
      "bench/engine_preload.ts",
      "main.ts",
      "-p",
      "18999",
      "--io",
      "deno",
      "--log-level",
      "warning",
      "bench/apps/hello_gateway.ts:app",
    ],
    cwd: ROOT,
    env: {
      ENGINE_CONNS: "4",
      ENGINE_ROUNDS: "20",
      ENGINE_WARMUP: "1",
      ENGINE_PHASES: "2",
      ENGINE_TIMEOUT_S: "60",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `exit ${out.code}\n${text}\n${err}`);
  const phases = [...text.matchAll(
    /^engine (\d+\.\d) ns\/request \((\d+) requests, (\d+) bytes each, ([\d.]+) writes per batch\)$/gm,
  )];
  assert.equal(phases.length, 2, text);
  for (const [, ns, n, bytes, writes] of phases) {
    assert.ok(Number(ns) > 0, text);
    assert.equal(Number(n), 4 * 20 * 16);
    // "HTTP/1.1 200 OK" + Content-Type + Content-Length + Date + the 13-byte body.
    assert.ok(Number(bytes) > 100, text);
    assert.equal(writes, "1.00", "one write per pipelined batch");
  }
  assert.match(text, /^engine median \d+\.\d ns$/m);
});

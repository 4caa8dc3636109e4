// Uploads with bounded memory (apps/upload.ts, apps/_multipart.ts): the streaming multipart
// parser against every split of a real body, uploads through both app styles, and a 1 GiB upload
// to lsbaws running as its own process while its RSS is sampled every 50 ms.
import assert from "node:assert/strict";
import { parseMultipart } from "../../apps/_multipart.ts";
import { startApp } from "../_support/server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MiB = 1024 * 1024;

/** A real multipart body (as fetch encodes FormData) and its content type. */
async function encodeForm(form: FormData): Promise<{ body: Uint8Array; type: string }> {
  const req = new Request("http://x/", { method: "POST", body: form });
  return {
    body: new Uint8Array(await req.arrayBuffer()),
    type: req.headers.get("content-type")!,
  };
}

async function* pieces(body: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const cut of [...cuts, body.length]) {
    yield body.slice(at, cut);
    at = cut;
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>, boundary: string) {
  const parts: Array<{ disposition: string; data: number[] }> = [];
  for await (const e of parseMultipart(chunks, boundary)) {
    if (e.kind === "part") {
      parts.push({ disposition: e.headers.get("content-disposition")!, data: [] });
    } else parts[parts.length - 1].data.push(...e.bytes);
  }
  return parts;
}

Deno.test("multipart parser: the same parts however the body is split", async () => {
  const form = new FormData();
  form.append("text", "a\r\n-- not a boundary\r\n");
  // Content that looks like the start of a delimiter, and CR/LF bytes everywhere.
  const tricky = new Uint8Array(300).map((_, i) => [13, 10, 45, 45, 7][i % 5]);
  form.append("file", new File([tricky], "t.bin"));
  form.append("empty", new File([], "e.txt"));
  const { body, type } = await encodeForm(form);
  const boundary = /boundary=(.+)$/.exec(type)![1];
  const expected = await collect(pieces(body, []), boundary);
  assert.equal(expected.length, 3);
  assert.deepEqual(expected[1].data, [...tricky]);
  assert.equal(expected[2].data.length, 0);
  for (let cut = 1; cut < body.length; cut++) {
    assert.deepEqual(await collect(pieces(body, [cut]), boundary), expected, `split at ${cut}`);
  }
  const oneByOne = Array.from({ length: body.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(await collect(pieces(body, oneByOne), boundary), expected);
  await assert.rejects(collect(pieces(body.subarray(0, body.length - 10), []), boundary));
});

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("upload: a file and fields through the gateway app and the fetch handler", async () => {
  const content = new Uint8Array(3 * MiB).map((_, i) => (i * 31 + (i >> 11)) & 0xff);
  for (
    const [spec, overrides] of [
      ["apps/upload.ts:app", {}],
      ["apps/upload.ts:handleUpload", { interface: "fetch" as const }],
    ] as const
  ) {
    const s = await startApp(spec, overrides);
    try {
      const form = new FormData();
      form.append("note", "größe");
      form.append("file", new File([content], "data.bin", { type: "application/x-test" }));
      const res = await fetch(`http://127.0.0.1:${s.port}/?sha256=1`, {
        method: "POST",
        body: form,
      });
      assert.equal(res.status, 200, spec);
      assert.deepEqual(await res.json(), {
        files: [{
          field: "file",
          name: "data.bin",
          type: "application/x-test",
          size: content.length,
          sha256: await sha256(content),
        }],
        fields: { note: "größe" },
      }, spec);
      const bad = await fetch(`http://127.0.0.1:${s.port}/`, { method: "POST", body: "x" });
      assert.equal(bad.status, 400, spec);
      await bad.body?.cancel();
    } finally {
      await s.close();
    }
  }
});

/** Reads VmRSS (bytes) of `pid` from /proc. */
async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Uploads `size` bytes of file content as multipart/form-data over a raw socket. */
async function rawUpload(port: number, size: number): Promise<string> {
  const boundary = "lsbaws-upload-test-boundary";
  const head = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
  const length = head.length + size + tail.length;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const writeAll = async (b: Uint8Array) => {
      for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
    };
    await writeAll(new TextEncoder().encode(
      `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}` +
        `\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
    ));
    await writeAll(head);
    // Pseudo-random content (CR, LF and "-" bytes included), generated once and reused.
    const block = new Uint8Array(MiB).map((_, i) => (i * 2654435761) >>> 24);
    for (let left = size; left > 0; left -= block.length) {
      await writeAll(left >= block.length ? block : block.subarray(0, left));
    }
    await writeAll(tail);
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(await new Blob(chunks).bytes());
  } finally {
    conn.close();
  }
}

Deno.test("upload: 1 GiB through lsbaws grows the server's RSS by less than 64 MiB", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "-A",
      "main.ts",
      "--port",
      "0",
      "--max-body-bytes",
      String(2 * 1024 * MiB),
      "apps/upload.ts",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let banner = "";
    while (!/listening on \S+:(\d+)/.test(banner)) {
      const r = await reader.read();
      if (r.done) throw new Error(`lsbaws exited: ${banner}`);
      banner += r.value;
    }
    const port = Number(/listening on \S+:(\d+)/.exec(banner)![1]);
    // Warm up (JIT, the parser, temp files), then take the baseline.
    assert.match(await rawUpload(port, 8 * MiB), /"size":8388608/);
    await new Promise((r) => setTimeout(r, 200));
    const baseline = await rssOf(child.pid);
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssOf(child.pid));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const size = 1024 * MiB;
    const started = performance.now();
    const reply = await rawUpload(port, size);
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, new RegExp(`"size":${size}`));
    const growth = (peak - baseline) / MiB;
    Deno.stderr.writeSync(new TextEncoder().encode(
      `upload: 1 GiB in ${seconds.toFixed(1)} s (${
        (1024 / seconds).toFixed(0)
      } MiB/s); server RSS ` +
        `${(baseline / MiB).toFixed(1)} MiB -> peak ${(peak / MiB).toFixed(1)} MiB, growth ` +
        `${growth.toFixed(1)} MiB\n`,
    ));
    assert.ok(growth < 64, `server RSS grew ${growth.toFixed(1)} MiB`);
  } finally {
    await reader.cancel().catch(() => {});
    child.kill("SIGTERM");
    await child.status;
  }
});

/**
 * Upload client for the benchmark's upload scenario (run by `bench/run.ts` as its own process,
 * pinned to the client core): streams N zero bytes as one POST over a raw socket, either with a
 * Content-Length or chunked, then reads the response.
 *
 * Usage: `deno run -A bench/upload_client.ts --port P --bytes N [--mode length|chunked]
 * [--chunk-bytes N]`. Prints one JSON line:
 * `{"ok":true,"bytes":N,"ms":T,"mibPerS":X,"status":200,"body":"N"}` (or `ok:false` and `error`).
 * The timer starts before the first byte is written and stops when the response is complete.
 * The payload buffer is allocated once and reused, so the client itself stays small.
 */
// deno-lint-ignore-file no-console
import { ResponseReader, writeAll } from "./lib/http1.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const port = Number(flag("port", "0"));
const total = Number(flag("bytes", String(1 << 30)));
const mode = flag("mode", "length");
const chunkBytes = Number(flag("chunk-bytes", String(1 << 20)));
const enc = new TextEncoder();

/** Writes the body framed for `mode`, reusing one buffer. */
async function sendBody(conn: Deno.Conn): Promise<void> {
  if (mode === "length") {
    const buf = new Uint8Array(chunkBytes);
    let left = total;
    while (left > 0) {
      const n = Math.min(left, buf.length);
      await writeAll(conn, n === buf.length ? buf : buf.subarray(0, n));
      left -= n;
    }
    return;
  }
  // chunked: size line, data and CRLF in one write per chunk
  const frame = (n: number) => {
    const head = enc.encode(`${n.toString(16)}\r\n`);
    const out = new Uint8Array(head.length + n + 2);
    out.set(head, 0);
    out[out.length - 2] = 13;
    out[out.length - 1] = 10;
    return out;
  };
  const full = frame(chunkBytes);
  let left = total;
  while (left > 0) {
    const n = Math.min(left, chunkBytes);
    await writeAll(conn, n === chunkBytes ? full : frame(n));
    left -= n;
  }
  await writeAll(conn, enc.encode("0\r\n\r\n"));
}

async function main(): Promise<Record<string, unknown>> {
  if (mode !== "length" && mode !== "chunked") throw new Error(`unknown --mode ${mode}`);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const framing = mode === "length" ? `Content-Length: ${total}` : "Transfer-Encoding: chunked";
    const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Content-Type: application/octet-stream\r\n${framing}\r\nConnection: close\r\n\r\n`;
    const reader = new ResponseReader(conn, 120_000);
    const t0 = performance.now();
    await writeAll(conn, enc.encode(head));
    // Read concurrently so that an early answer (413, 400) is seen instead of a stalled write.
    const response = reader.next("POST");
    const sent = sendBody(conn).then(() => null, (err) => err as Error);
    const res = await response;
    const ms = performance.now() - t0;
    const writeError = await sent;
    if (res === null) throw new Error("connection closed without a response");
    const body = new TextDecoder().decode(res.body);
    const ok = res.status === 200 && body === String(total) && writeError === null;
    return {
      ok,
      bytes: total,
      mode,
      ms,
      mibPerS: total / (1 << 20) / (ms / 1000),
      status: res.status,
      body: body.slice(0, 200),
      ...(writeError ? { error: `write failed: ${writeError.message}` } : {}),
    };
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

try {
  console.log(JSON.stringify(await main()));
} catch (err) {
  console.log(
    JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
}

/**
 * Test support: start lsbaws in-process on 127.0.0.1 with an app spec, and raw-socket helpers.
 *
 * Contract: `startApp(spec, overrides)` loads the app exactly as the CLI does (loader + handler
 * selection), listens on an ephemeral loopback port and returns `{port, close}`; `close()` shuts
 * the server down and resolves once every connection is gone, so Deno's resource sanitizer stays
 * happy. Log lines are captured in `logs` instead of being printed.
 *
 * Socket backend: `startApp` serves on `$LSBAWS_TEST_IO` (`libc`, `deno` or `auto`) when it is
 * set, else on the configured default (`auto`: libc where it can load); an `io` override wins.
 * `deno task test` runs the suites once per backend this way (see deno.json).
 */
import { type Config, DEFAULTS } from "../../server/config.ts";
import { createLogger } from "../../server/log.ts";
import { serve, type Server } from "../../server/serve.ts";
import { loadApp } from "../../gateway/loader.ts";
import { createHandler } from "../../gateway/handler.ts";

/** A running in-process test server. */
export interface TestServer {
  /** The port it listens on. */
  port: number;
  /** The underlying server. */
  server: Server;
  /** Captured error-log lines. */
  logs: string[];
  /** Captured access-log lines. */
  access: string[];
  /** Shuts down and waits for every connection to close. */
  close(): Promise<void>;
}

/** The socket backends a test process can exercise. */
export type TestIo = Config["io"];

/** `$LSBAWS_TEST_IO` when set (and valid), else null (the default backend). */
export function testIo(): TestIo | null {
  const v = Deno.env.get("LSBAWS_TEST_IO") ?? "";
  if (v === "") return null;
  if (v !== "libc" && v !== "deno" && v !== "auto") {
    throw new Error(`LSBAWS_TEST_IO must be libc, deno or auto, got '${v}'`);
  }
  return v;
}

/** Starts `spec` (e.g. "apps/echo.ts:app", relative to the project root) on 127.0.0.1:0. */
export async function startApp(
  spec: string,
  overrides: Partial<Config> = {},
): Promise<TestServer> {
  const io = testIo();
  const config: Config = {
    ...DEFAULTS,
    port: 0,
    logLevel: "debug",
    ...(io === null ? {} : { io }),
    ...overrides,
  };
  const logs: string[] = [];
  const access: string[] = [];
  const logger = createLogger({
    level: config.logLevel,
    accessLog: "",
    accessLogFormat: config.accessLogFormat,
    errorSink: { write: (t) => void logs.push(t) },
    accessSink: overrides.accessLog ? { write: (t) => void access.push(t) } : undefined,
  });
  const root = new URL("../../", import.meta.url).pathname;
  const loaded = await loadApp(spec, { cwd: root });
  const handler = createHandler(loaded, config, logger);
  const server = await serve(handler, config, { logger });
  const addr = server.addrs[0] as Deno.NetAddr;
  return {
    port: addr.port,
    server,
    logs,
    access,
    async close() {
      await server.shutdown(0);
      logger.close();
    },
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Options for `rawExchange`. */
export interface RawOptions {
  /** Stop reading after this many ms of silence (default 300). */
  idleMs?: number;
  /** Stop reading after this many ms in total (default 5000). */
  totalMs?: number;
  /** Half-close the write side after sending. */
  halfClose?: boolean;
}

/** Result of `rawExchange`. */
export interface RawResult {
  /** Everything received, decoded as latin-1-safe text. */
  text: string;
  /** Whether the server closed the connection (EOF seen). */
  closed: boolean;
}

/**
 * Sends `request` (string or bytes, or an array sent piecewise with 20 ms pauses) over a new TCP
 * connection and collects the reply until EOF, `idleMs` of silence or `totalMs`.
 */
export async function rawExchange(
  port: number,
  request: string | Uint8Array | Array<string | Uint8Array>,
  opts: RawOptions = {},
): Promise<RawResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const parts = Array.isArray(request) ? request : [request];
  try {
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const bytes = typeof p === "string" ? enc.encode(p) : p;
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      if (i < parts.length - 1) await new Promise((r) => setTimeout(r, 20));
    }
  } catch {
    // The server may close early (e.g. after a 4xx); keep reading what it sent.
  }
  if (opts.halfClose) await conn.closeWrite().catch(() => {});
  const chunks: Uint8Array[] = [];
  let closed = false;
  const deadline = Date.now() + (opts.totalMs ?? 5000);
  const buf = new Uint8Array(65536);
  while (Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<"idle">((r) => {
      timer = setTimeout(() => r("idle"), opts.idleMs ?? 300);
    });
    const read = conn.read(buf).catch(() => null);
    const r = await Promise.race([read, idle]);
    clearTimeout(timer);
    if (r === "idle") {
      conn.close();
      await read;
      return { text: latin1(chunks), closed: false };
    }
    if (r === null) {
      closed = true;
      break;
    }
    chunks.push(buf.slice(0, r));
  }
  try {
    conn.close();
  } catch {
    // already closed
  }
  return { text: latin1(chunks), closed };
}

function latin1(chunks: Uint8Array[]): string {
  let s = "";
  for (const c of chunks) for (let i = 0; i < c.length; i++) s += String.fromCharCode(c[i]);
  return s;
}

/** Status codes of every response found in `text`, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** UTF-8 decode helper. */
export function utf8(b: Uint8Array): string {
  return dec.decode(b);
}

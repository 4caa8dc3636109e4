/**
 * Test support: a bounded HTTP load on loopback that counts outcomes instead of timing them.
 *
 * Contract: `runLoad({url, total, concurrency})` sends exactly `total` GET requests from
 * `concurrency` sequential loops and resolves with the tally once all are done. Each request has
 * its own timeout (default 15 s). `mode: "keepalive"` uses `fetch` with a private connection pool
 * (persistent connections, like a browser or a proxy); `mode: "close"` opens a raw TCP connection
 * per request with `Connection: close`. A refused TCP connect (nobody listening) is counted as
 * `refused`, separately from `failed` (accepted but not answered, reset, timeout). `progress(n)`
 * resolves once `n` requests have finished, so a test can send a signal mid-load.
 */

/** Options for `runLoad`. */
export interface LoadOptions {
  /** Absolute http URL. */
  url: string;
  /** Number of requests. */
  total: number;
  /** Number of parallel request loops. */
  concurrency: number;
  /** Persistent connections (fetch) or one connection per request (raw). */
  mode?: "keepalive" | "close";
  /** Per-request timeout (default 15000 ms). */
  timeoutMs?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** What a load produced. */
export interface LoadResult {
  /** Requests answered (any status). */
  ok: number;
  /** Connections refused. */
  refused: number;
  /** Requests that failed otherwise (reset, closed without answer, timeout). */
  failed: number;
  /** Up to 20 error messages of failed requests. */
  errors: string[];
  /** Count per status code. */
  statuses: Map<number, number>;
  /** Count per response body. */
  bodies: Map<string, number>;
}

/** A running load. */
export interface Load {
  /** Resolves once `n` requests have finished. */
  progress(n: number): Promise<void>;
  /** Resolves with the tally when every request finished. */
  done: Promise<LoadResult>;
}

/** Starts a bounded load; see the module comment. */
export function runLoad(opts: LoadOptions): Load {
  const result: LoadResult = {
    ok: 0,
    refused: 0,
    failed: 0,
    errors: [],
    statuses: new Map(),
    bodies: new Map(),
  };
  let next = 0;
  let finished = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const client = opts.mode === "close" ? null : Deno.createHttpClient({});
  const one = async () => {
    try {
      const r = client ? await fetchOnce(client, opts) : await rawOnce(opts);
      result.ok++;
      result.statuses.set(r.status, (result.statuses.get(r.status) ?? 0) + 1);
      result.bodies.set(r.body, (result.bodies.get(r.body) ?? 0) + 1);
    } catch (e) {
      const msg = describeError(e);
      if (/refused|os error 111/i.test(msg)) result.refused++;
      else {
        result.failed++;
        if (result.errors.length < 20) result.errors.push(msg);
      }
    }
    finished++;
    for (const w of waiters) if (finished >= w.n) w.resolve();
  };
  const loop = async () => {
    while (next < opts.total) {
      next++;
      await one();
    }
  };
  const loops = Array.from({ length: opts.concurrency }, loop);
  const done = Promise.all(loops).then(() => {
    client?.close();
    for (const w of waiters) w.resolve();
    return result;
  });
  return {
    progress(n) {
      if (finished >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    done,
  };
}

async function fetchOnce(
  client: Deno.HttpClient,
  opts: LoadOptions,
): Promise<{ status: number; body: string }> {
  const res = await fetch(opts.url, {
    client,
    headers: opts.headers,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 15000),
  });
  return { status: res.status, body: await res.text() };
}

/** One `Connection: close` request over a fresh TCP connection. */
export async function rawOnce(
  opts: Pick<LoadOptions, "url" | "timeoutMs" | "headers">,
): Promise<{ status: number; body: string; head: string }> {
  const u = new URL(opts.url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  const timer = setTimeout(() => conn.close(), opts.timeoutMs ?? 15000);
  try {
    const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const req = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n${extra}` +
      `Connection: close\r\n\r\n`;
    const bytes = new TextEncoder().encode(req);
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(concat(chunks));
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (!m) throw new Error(`no response (got ${JSON.stringify(text.slice(0, 80))})`);
    const split = text.indexOf("\r\n\r\n");
    return { status: Number(m[1]), head: text.slice(0, split), body: text.slice(split + 4) };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** An error's name and message, followed by those of its causes (fetch hides the reason there). */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, depth = 0; cur !== undefined && depth < 4; depth++) {
    parts.push(cur instanceof Error ? `${cur.name}: ${cur.message}` : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(" <- ");
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Test support: a bounded HTTP load on loopback that counts outcomes instead of timing them.
 *
 * Contract: `runLoad({url, total, concurrency})` sends exactly `total` GET requests from
 * `concurrency` sequential loops and resolves with the tally once all are done. Each request has
 * its own timeout (default 15 s). Modes:
 * - `"persistent"` (default): each loop keeps one raw TCP connection and reuses it until the
 *   server answers `Connection: close` (or closes), then reconnects. New connections are opened
 *   only when needed, like a proxy's upstream pool.
 * - `"fetch"`: `fetch` with a private connection pool (hyper), which also opens connections
 *   speculatively, at any moment.
 * - `"close"`: a new raw TCP connection per request with `Connection: close`.
 * With `warmup`, each persistent loop first makes one uncounted request on its connection, so
 * its counted ones go over a connection the server has already accepted (`warmed`).
 * A refused TCP connect (nobody listening) is counted as
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
  /** How connections are used (see the module comment). */
  mode?: "persistent" | "fetch" | "close";
  /** Per-request timeout (default 15000 ms). */
  timeoutMs?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /**
   * Persistent mode only: each loop first requests this absolute URL once on its connection (not
   * counted), so its counted requests go over a connection the server has already accepted;
   * `Load.warmed` resolves once every loop did.
   */
  warmup?: string;
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
  /** Resolves once every loop made its `warmup` request (at once without one). */
  warmed: Promise<void>;
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
  const mode = opts.mode ?? "persistent";
  const client = mode === "fetch" ? Deno.createHttpClient({}) : null;
  const one = async (persistent: Persistent | null) => {
    try {
      const r = client
        ? await fetchOnce(client, opts)
        : persistent
        ? await persistent.request()
        : await rawOnce(opts);
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
  let warming = opts.warmup !== undefined && mode === "persistent" ? opts.concurrency : 0;
  const warmed = Promise.withResolvers<void>();
  if (warming === 0) warmed.resolve();
  const loop = async () => {
    const persistent = mode === "persistent" ? new Persistent(opts) : null;
    if (persistent !== null && opts.warmup !== undefined) {
      try {
        await persistent.request(opts.warmup);
      } finally {
        if (--warming === 0) warmed.resolve();
      }
    }
    while (next < opts.total) {
      next++;
      await one(persistent);
    }
    persistent?.close();
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
    warmed: warmed.promise,
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

/** One reusable raw HTTP/1.1 connection (the `"persistent"` mode). */
class Persistent {
  #conn: Deno.TcpConn | null = null;
  #buf: Uint8Array = new Uint8Array(0);
  readonly #opts: LoadOptions;
  readonly #url: URL;

  constructor(opts: LoadOptions) {
    this.#opts = opts;
    this.#url = new URL(opts.url);
  }

  /** One request for `url` (default: the load's) on the kept connection. */
  async request(url?: string): Promise<{ status: number; body: string }> {
    const u = url === undefined ? this.#url : new URL(url);
    if (this.#conn === null) {
      this.#conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
      this.#buf = new Uint8Array(0);
    }
    const conn = this.#conn;
    const timer = setTimeout(() => this.close(), this.#opts.timeoutMs ?? 15000);
    try {
      const extra = Object.entries(this.#opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      const bytes = new TextEncoder().encode(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n${extra}\r\n`,
      );
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      let headEnd: number;
      while ((headEnd = indexOf(this.#buf, "\r\n\r\n")) < 0) await this.#fill(conn);
      const head = new TextDecoder().decode(this.#buf.subarray(0, headEnd));
      this.#buf = this.#buf.subarray(headEnd + 4);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      let body: Uint8Array;
      if (length) {
        const n = Number(length[1]);
        while (this.#buf.length < n) await this.#fill(conn);
        body = this.#buf.slice(0, n);
        this.#buf = this.#buf.subarray(n);
      } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
        body = await this.#chunked(conn);
      } else {
        throw new Error(`response without a length: ${head}`);
      }
      if (/\r\nconnection: *close/i.test(head)) this.close();
      return { status, body: new TextDecoder().decode(body) };
    } catch (e) {
      this.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async #chunked(conn: Deno.TcpConn): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    while (true) {
      let eol: number;
      while ((eol = indexOf(this.#buf, "\r\n")) < 0) await this.#fill(conn);
      const size = parseInt(new TextDecoder().decode(this.#buf.subarray(0, eol)), 16);
      this.#buf = this.#buf.subarray(eol + 2);
      while (this.#buf.length < size + 2) await this.#fill(conn);
      if (size === 0) {
        this.#buf = this.#buf.subarray(2);
        return concat(parts);
      }
      parts.push(this.#buf.slice(0, size));
      this.#buf = this.#buf.subarray(size + 2);
    }
  }

  async #fill(conn: Deno.TcpConn): Promise<void> {
    const chunk = new Uint8Array(16384);
    const n = await conn.read(chunk);
    if (n === null) throw new Error("connection closed before the response was complete");
    this.#buf = concat([this.#buf, chunk.subarray(0, n)]);
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = null;
  }
}

function indexOf(buf: Uint8Array, text: string): number {
  const pat = new TextEncoder().encode(text);
  outer: for (let i = 0; i + pat.length <= buf.length; i++) {
    for (let j = 0; j < pat.length; j++) if (buf[i + j] !== pat[j]) continue outer;
    return i;
  }
  return -1;
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

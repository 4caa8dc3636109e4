/**
 * Test support for the static-file server (private to tests/server/static/): a socket-free
 * `Exchange` that records the response, and a temporary public directory.
 *
 * Contract: `fake(options)` returns an exchange whose responder records `head`/`write`/`end`;
 * `writes: "backpressure"` makes every write return a promise resolved on a timer, and
 * `abortAfter: n` aborts the client after the n-th write (later and pending writes reject like
 * the engine's). `makeTree()` builds a fixture tree in a fresh temp dir; `remove()` deletes it.
 * `openFilesUnder(dir)` counts this process's open descriptors for files below `dir` (Linux
 * `/proc/self/fd`; Deno's resource sanitizer does not track `Deno.FsFile` handles).
 */
import type { Exchange, Responder } from "../../../server/exchange.ts";
import type { RequestHead, TargetForm } from "../../../server/http/request_head.ts";

/** How the fake request and responder behave. */
export interface FakeOptions {
  /** Request method (default GET). */
  method?: string;
  /** Raw request target. */
  target: string;
  /** Target form (default: origin, or absolute for `http://…`). */
  targetForm?: TargetForm;
  /** Header fields, lowercase names. */
  headers?: Array<[string, string]>;
  /** `write()` behaviour (default sync: returns undefined). */
  writes?: "sync" | "backpressure";
  /** Abort the client after this many writes. */
  abortAfter?: number;
  /** With `abortAfter`: writes keep returning `undefined` instead of rejecting (default false). */
  quietAbort?: boolean;
}

/** What the responder saw. */
export interface Recorded {
  /** The exchange to hand to the handler. */
  ex: Exchange;
  /** Status of the last `head()`, 0 if none. */
  status: number;
  /** Headers of the last `head()`. */
  headers: Array<[string, string]>;
  /** Written chunks (writes after the abort are not recorded). */
  chunks: Uint8Array[];
  /** Every `write()` call, including those after the client went away. */
  writeCalls: number;
  /** Whether `end()` was called. */
  ended: boolean;
  /** `ex.log` lines. */
  logs: string[];
  /** A response header by case-insensitive name, or undefined. */
  header(name: string): string | undefined;
  /** The body as bytes. */
  body(): Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
}

/** Builds a fake exchange (see `FakeOptions`). */
export function fake(o: FakeOptions): Recorded {
  const controller = new AbortController();
  const head: RequestHead = {
    method: o.method ?? "GET",
    target: o.target,
    targetForm: o.targetForm ?? (o.target.startsWith("http") ? "absolute" : "origin"),
    version: "HTTP/1.1",
    minor: 1,
    headers: o.headers ?? [],
  };
  const rec: Recorded = {
    ex: undefined as unknown as Exchange,
    status: 0,
    headers: [],
    chunks: [],
    writeCalls: 0,
    ended: false,
    logs: [],
    header: (name) => rec.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1],
    body: () => {
      const out = new Uint8Array(rec.chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of rec.chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    },
    text: () => new TextDecoder().decode(rec.body()),
  };
  const gone = () => Promise.reject(new Deno.errors.BrokenPipe("fake: client went away"));
  let headSent = false;
  const res: Responder = {
    head(status, headers) {
      if (headSent) throw new Error("fake: head() after the head was sent");
      rec.status = status;
      rec.headers = headers.map(([n, v]) => [n, v]);
    },
    write(chunk) {
      if (rec.ended) throw new Error("fake: write() after end()");
      headSent = true;
      rec.writeCalls++;
      if (controller.signal.aborted) return o.quietAbort ? undefined : gone();
      rec.chunks.push(chunk.slice());
      if (o.abortAfter !== undefined && rec.chunks.length >= o.abortAfter) {
        controller.abort();
        return o.quietAbort ? undefined : gone();
      }
      if (o.writes === "backpressure") return new Promise((r) => setTimeout(r, 1));
      return undefined;
    },
    end() {
      headSent = true;
      rec.ended = true;
      return undefined;
    },
    get headSent() {
      return headSent;
    },
    get aborted() {
      return controller.signal.aborted;
    },
    signal: controller.signal,
  };
  const addr = { transport: "tcp", hostname: "127.0.0.1", port: 8080 } as const;
  rec.ex = {
    head,
    body: { contentLength: 0, read: () => Promise.resolve(null), done: true, bytesRead: 0 },
    res,
    remote: addr,
    local: addr,
    scheme: "http",
    serverName: "localhost",
    serverPort: "8080",
    requestId: "r1",
    completed: Promise.resolve(),
    log: (level, msg) => void rec.logs.push(`${level}: ${msg}`),
    takeover: () => Promise.reject(new Error("fake: no takeover")),
  };
  return rec;
}

/** A fixture tree: `root` is the public dir, `outside` a sibling dir that must never be served. */
export interface Tree {
  /** Temp dir holding everything. */
  base: string;
  /** The public directory (mount this). */
  root: string;
  /** A directory next to `root` whose name starts with root's name (`pub-evil`). */
  outside: string;
  /** Bytes of `big.bin` (300 KiB, patterned). */
  big: Uint8Array;
  /** Deletes the temp dir. */
  remove(): Promise<void>;
}

/** Builds the fixture tree (see the file list in the body). */
export async function makeTree(): Promise<Tree> {
  const base = await Deno.makeTempDir({ prefix: "lsbaws-static-" });
  const root = `${base}/pub`;
  const outside = `${base}/pub-evil`;
  const w = (p: string, s: string | Uint8Array) =>
    typeof s === "string"
      ? Deno.writeTextFile(`${root}/${p}`, s)
      : Deno.writeFile(`${root}/${p}`, s);
  for (const d of ["", "/docs", "/empty", "/.git", "/sub", "/sub/.hidden", "/idxdir/index.html"]) {
    await Deno.mkdir(root + d, { recursive: true });
  }
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${outside}/secret.txt`, "TOP SECRET\n");
  await Deno.writeTextFile(`${base}/secret.txt`, "TOP SECRET\n");
  const big = new Uint8Array(300 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  await w("hello.txt", "hello world\n");
  await w("page.html", "<h1>hi</h1>\n");
  await w("app.js", "console.log('plain');\n");
  await w("app.js.br", "BROTLI-BYTES");
  await w("app.js.gz", "GZIP-BYTES");
  await w("style.css", "body{}\n");
  await w("style.css.gz", "GZ-CSS");
  await w("big.bin", big);
  await w("noext", "x");
  await w("file.unknownext", "x");
  await w("logo.SVG", "<svg/>");
  await w("a b.txt", "space\n");
  await w("ünï.txt", "unicode\n");
  await w("empty.txt", "");
  await w("docs/index.html", "<p>docs</p>\n");
  await w(".env", "SECRET=1\n");
  await w(".git/config", "[core]\n");
  await w("sub/.hidden/x.txt", "hidden\n");
  await w("sub/ok.txt", "ok\n");
  await Deno.symlink(`${base}/secret.txt`, `${root}/link-out.txt`);
  await Deno.symlink(`${outside}/secret.txt`, `${root}/link-sibling.txt`);
  await Deno.symlink(outside, `${root}/linkdir-out`);
  await Deno.symlink(`${root}/hello.txt`, `${root}/link-in.txt`);
  await Deno.symlink("loop-b", `${root}/loop-a`);
  await Deno.symlink("loop-a", `${root}/loop-b`);
  await Deno.symlink(`${base}/secret.txt`, `${root}/sneaky.txt.br`);
  await w("sneaky.txt", "sneaky plain\n");
  const fifo = new Deno.Command("mkfifo", { args: [`${root}/pipe.txt`] });
  const { success } = await fifo.output();
  if (!success) throw new Error("mkfifo failed");
  return { base, root, outside, big, remove: () => Deno.remove(base, { recursive: true }) };
}

/** How many of this process's file descriptors point below `dir` (Linux `/proc/self/fd`). */
export async function openFilesUnder(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir("/proc/self/fd")) {
    try {
      if ((await Deno.readLink(`/proc/self/fd/${e.name}`)).startsWith(dir + "/")) n++;
    } catch {
      // Closed while we looked.
    }
  }
  return n;
}

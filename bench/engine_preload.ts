/**
 * In-process engine benchmark: the JS cost of a request with no socket underneath.
 *
 * Loaded with `--preload` in front of the unchanged `main.ts`, so any commit of lsbaws can be
 * measured the same way (a second worktree of an older commit included):
 *
 *     deno run -A --unstable-net --preload bench/engine_preload.ts main.ts -p 18999 --io deno \
 *       bench/apps/hello_gateway.ts:app
 *
 * Contract:
 * - It replaces `Deno.listen` for port `ENGINE_PORT` (18999) only (any other port binds for
 *   real) with an in-memory listener. Each phase hands the server `ENGINE_CONNS` connections
 *   (default 64); each one's `read()` returns `ENGINE_DEPTH` (16) pipelined `GET /` requests at a
 *   time, `ENGINE_ROUNDS` (600) times, then end of stream. Writes complete at once and are counted.
 *   Only the `deno` socket driver goes through `Deno.listen`, so run it with `--io deno`.
 * - After `ENGINE_WARMUP` (1) unmeasured phases it measures `ENGINE_PHASES` (5) phases and
 *   prints one line per phase (`engine <ns> ns/request ...`), then the median, and exits 0.
 *   A phase that does not finish within `ENGINE_TIMEOUT_S` (120) seconds exits 1 saying so.
 * - The figure is wall time per request on one core: parser, dispatch, app, response encoding
 *   and the driver's promise plumbing, without the kernel. This VM's speed drifts by ±15 % from
 *   minute to minute; compare two builds by running them at the same time, one per core
 *   (`taskset -c 0` / `-c 1`), and swapping the cores between pairs.
 */
// deno-lint-ignore-file no-console

const env = (name: string, fallback: number) => Number(Deno.env.get(name) ?? fallback);
const PORT = 18999;
const CONNS = env("ENGINE_CONNS", 64);
const ROUNDS = env("ENGINE_ROUNDS", 600);
const DEPTH = env("ENGINE_DEPTH", 16);
const WARMUP = env("ENGINE_WARMUP", 1);
const PHASES = env("ENGINE_PHASES", 5);
const TIMEOUT_MS = env("ENGINE_TIMEOUT_S", 120) * 1000;

const REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n";
const batch = new TextEncoder().encode(REQUEST.repeat(DEPTH));
const realListen = Deno.listen;
let writes = 0;
let written = 0;

/** One in-memory connection: `ROUNDS` batches in, then EOF; `onEnd` once at EOF. */
function memoryConn(onEnd: () => void) {
  let left = ROUNDS;
  let ended = false;
  return {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
    localAddr: { transport: "tcp", hostname: "127.0.0.1", port: PORT },
    setNoDelay() {},
    setKeepAlive() {},
    read(buf: Uint8Array): Promise<number | null> {
      if (left-- <= 0) {
        if (!ended) {
          ended = true;
          onEnd();
        }
        return Promise.resolve(null);
      }
      if (buf.length < batch.length) {
        return Promise.reject(new Error(`read buffer of ${buf.length} < batch ${batch.length}`));
      }
      buf.set(batch);
      return Promise.resolve(batch.length);
    },
    write(b: Uint8Array): Promise<number> {
      writes++;
      written += b.length;
      return Promise.resolve(b.length);
    },
    close() {},
    closeWrite: () => Promise.resolve(),
  };
}

function memoryListener() {
  const queue: unknown[] = [];
  let waiting: ((c: unknown) => void) | null = null;
  const results: number[] = [];
  let phase = 0;
  let done = 0;
  let t0 = 0;
  let watchdog: ReturnType<typeof setTimeout> | undefined;

  const hand = (c: unknown) => {
    if (waiting !== null) {
      const w = waiting;
      waiting = null;
      w(c);
    } else {
      queue.push(c);
    }
  };
  const start = () => {
    done = 0;
    writes = 0;
    written = 0;
    watchdog = setTimeout(() => {
      console.log(`engine: phase ${phase} did not finish within ${TIMEOUT_MS / 1000} s`);
      Deno.exit(1);
    }, TIMEOUT_MS);
    t0 = performance.now();
    for (let i = 0; i < CONNS; i++) hand(memoryConn(() => ++done === CONNS && end()));
  };
  const end = () => {
    const ms = performance.now() - t0;
    clearTimeout(watchdog);
    const n = CONNS * ROUNDS * DEPTH;
    if (phase >= WARMUP) {
      const ns = (ms * 1e6) / n;
      results.push(ns);
      console.log(
        `engine ${ns.toFixed(1)} ns/request (${n} requests, ${(written / n).toFixed(0)} ` +
          `bytes each, ${(writes / (CONNS * ROUNDS)).toFixed(2)} writes per batch)`,
      );
    }
    phase++;
    if (phase >= WARMUP + PHASES) {
      results.sort((a, b) => a - b);
      console.log(`engine median ${results[Math.floor((results.length - 1) / 2)].toFixed(1)} ns`);
      Deno.exit(0);
    }
    setTimeout(start, 50);
  };
  setTimeout(start, 300);
  return {
    addr: { transport: "tcp", hostname: "127.0.0.1", port: PORT },
    accept(): Promise<unknown> {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      return new Promise((resolve) => (waiting = resolve));
    },
    close() {},
    ref() {},
    unref() {},
  };
}

// deno-lint-ignore no-explicit-any
(Deno as any).listen = (opts: any) => opts?.port === PORT ? memoryListener() : realListen(opts);

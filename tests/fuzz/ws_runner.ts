/**
 * The WebSocket fuzz runner: spawns lsbaws serving the echo app (apps/websocket.ts) as a real
 * process, plays generated client frame sequences (`tests/fuzz/ws_generator.ts`) against it over
 * several concurrent loopback connections, and checks the oracles after each case and at the end.
 *
 * Contract:
 * - `runWsFuzz(options)` starts one `main.ts` process with `--io <io> -p 0`, the generator's
 *   message limit (`--websocket-max-message-bytes`), short HTTP timeouts and a 20 s WebSocket idle
 *   timeout (no server ping can fall inside a case), warms it up, records its baseline
 *   `/proc/PID/fd` count, then runs cases `0..cases-1` of `generateWsCase(seed, id)` with
 *   `concurrency` workers. It never throws for a finding: it resolves with a `WsFuzzSummary`
 *   whose `failures` lists them (and rejects only when the server cannot start or fails its
 *   warm-up). The process is stopped before it resolves.
 * - Per case (bounded by `caseTimeoutMs`, plus `CLOSE_BOUND_MS` after a half-close): the client
 *   sends the handshake, waits for the 101 (or, "eager", sends the frames with it), sends the
 *   frames whole, split or byte by byte, then: for a certain verdict waits until it is complete
 *   (every reply; the server's Close and its TCP close), for "any" does not wait; then it
 *   half-closes and reads until the server closes, or closes.
 * - `judgeWs(case, outcome)` is the oracle: a 101 head with the right `Sec-WebSocket-Accept`;
 *   every byte after it parses as server frames (this module's own parser: no RSV bits, known
 *   opcodes, unmasked, minimal lengths, control frames final and at most 125 bytes, close payloads
 *   of 0 or 2+ bytes with a sendable code and a UTF-8 reason, UTF-8 text, no stray continuation);
 *   nothing after a Close frame; the TCP close within `CLOSE_BOUND_MS` of the server's Close and
 *   of the client's half-close; no incomplete frame before the server's TCP close; and the
 *   verdict: "echo" → exactly the case's replies (echoes, pongs, the Close sent back), "close:N"
 *   → the replies owed before the violation, then a Close with code N; "any" → only the rest.
 * - Every `checkEvery` cases and at the end: the process is alive and a fresh WebSocket round trip
 *   (`roundTripCase`) passes the oracle. At the end: the fd count returns to its baseline within
 *   `fdWaitMs`, and stderr has no "uncaught" / "panic" line and no ERROR or CRITICAL log line. The
 *   run stops by itself at `timeLimitMs` (cases not started are skipped and counted) or when the
 *   server died.
 */
import { delay, type Proc, startLsbaws } from "../_support/proc.ts";
import { type Failure, fdCount, preview } from "./runner.ts";
import {
  generateWsCase,
  HANDSHAKE,
  Op,
  roundTripCase,
  type ServerFrame,
  WS_ACCEPT,
  WS_MAX_MESSAGE_BYTES,
  type WsCase,
} from "./ws_generator.ts";

/** Options for `runWsFuzz`. */
export interface WsFuzzOptions {
  /** Number of cases. */
  readonly cases: number;
  /** Run seed (printed in every failure). */
  readonly seed: number;
  /** Socket backend of the spawned server. */
  readonly io: "libc" | "deno";
  /** Concurrent client connections. */
  readonly concurrency?: number;
  /** Per-case limit in ms. */
  readonly caseTimeoutMs?: number;
  /** Overall limit in ms. */
  readonly timeLimitMs?: number;
  /** How long the fd count may take to return to its baseline. */
  readonly fdWaitMs?: number;
  /** Check the process (alive, a round trip) every this many cases. */
  readonly checkEvery?: number;
  /** Run only these case ids (reproduction). */
  readonly only?: readonly number[];
  /** Called with progress lines (the CLI prints them; tests ignore them). */
  readonly progress?: (line: string) => void;
}

/** The outcome of a WebSocket fuzz run. */
export interface WsFuzzSummary {
  /** Run seed. */
  readonly seed: number;
  /** Socket backend. */
  readonly io: string;
  /** Cases run. */
  readonly cases: number;
  /** Cases not started because the time limit passed or the server died. */
  readonly skipped: number;
  /** Cases by expected verdict. */
  readonly verdicts: Record<string, number>;
  /** Close codes the server sent, by code ("none": no Close; "3000-4999": the app range). */
  readonly closeCodes: Record<string, number>;
  /** Cases that reached the per-case limit while waiting for their verdict. */
  readonly caseTimeouts: number;
  /** Cases by first mutation. */
  readonly kinds: Record<string, number>;
  /** Cases with a certain verdict ("echo" or "close:N") that was checked. */
  readonly verdictsChecked: number;
  /** Baseline and final fd counts of the server. */
  readonly fds: ReadonlyArray<{ app: string; baseline: number; end: number }>;
  /** Wall time in ms. */
  readonly durationMs: number;
  /** Findings (empty when the run is clean). */
  readonly failures: Failure[];
}

/** The app spec served. */
export const WS_FUZZ_APP = "apps/websocket.ts";

/** How long the server may take to close TCP after its Close frame or the client's half-close. */
export const CLOSE_BOUND_MS = 2000;

const STDERR_BAD = /uncaught|panic|\[(?:ERROR|CRITICAL)\]/i;

/** What a client saw for one case; times are ms since the connection was opened (-1: never). */
export interface WsOutcome {
  /** Everything received (the 101 head, then frames). */
  readonly bytes: Uint8Array;
  /** Whether the server closed (EOF or reset) before the client did. */
  readonly closed: boolean;
  /** Whether the case reached its limit while waiting for its verdict. */
  readonly timedOut: boolean;
  /** When a complete Close frame from the server had arrived. */
  readonly closeAt: number;
  /** When the server's EOF (or reset) arrived. */
  readonly eofAt: number;
  /** When the client half-closed. */
  readonly halfCloseAt: number;
  /** When the client closed (stopped watching). */
  readonly endAt: number;
}

/** A frame as the server sent it. */
export interface ParsedServerFrame extends ServerFrame {
  /** FIN bit. */
  readonly fin: boolean;
}

/** Result of `parseServerFrames`. */
export interface ServerParse {
  /** Complete frames, in order (up to the first broken one). */
  readonly frames: ParsedServerFrame[];
  /** Bytes left after the last complete frame (an incomplete one, or what followed an error). */
  readonly partial: number;
  /** What broke the rules (null when nothing did). */
  readonly error: string | null;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function isUtf8(b: Uint8Array): boolean {
  try {
    strictUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

function sendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** Parses what a server sent after its 101 (RFC 6455 rules for server frames; see the module comment). */
export function parseServerFrames(b: Uint8Array): ServerParse {
  const frames: ParsedServerFrame[] = [];
  let at = 0;
  let fragmented = -1;
  const fail = (error: string): ServerParse => ({ frames, partial: b.length - at, error });
  while (b.length - at >= 2) {
    const b0 = b[at], b1 = b[at + 1];
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return fail(`RSV bits 0x${(b0 & 0x70).toString(16)} set`);
    if (op > 2 && (op < 8 || op > 10)) return fail(`reserved opcode 0x${op.toString(16)}`);
    if ((b1 & 0x80) !== 0) return fail("masked frame from the server");
    const control = op >= 8;
    if (control && !fin) return fail("fragmented control frame");
    let len = b1 & 0x7f;
    let head = 2;
    if (len === 126) {
      if (b.length - at < 4) break;
      len = (b[at + 2] << 8) | b[at + 3];
      head = 4;
      if (len < 126) return fail(`non-minimal 16-bit length ${len}`);
    } else if (len === 127) {
      if (b.length - at < 10) break;
      if ((b[at + 2] & 0x80) !== 0) return fail("64-bit length with the top bit set");
      const hi = ((b[at + 2] << 24) >>> 0) + (b[at + 3] << 16) + (b[at + 4] << 8) + b[at + 5];
      const lo = ((b[at + 6] << 24) >>> 0) + (b[at + 7] << 16) + (b[at + 8] << 8) + b[at + 9];
      len = hi * 0x1_0000_0000 + lo;
      head = 10;
      if (len < 0x10000) return fail(`non-minimal 64-bit length ${len}`);
    }
    if (control && len > 125) return fail(`control frame of ${len} bytes`);
    if (b.length - at < head + len) break;
    const payload = b.slice(at + head, at + head + len);
    if (op === Op.CLOSE) {
      if (len === 1) return fail("close payload of 1 byte");
      if (len >= 2 && !sendableCode((payload[0] << 8) | payload[1])) {
        return fail(`close code ${(payload[0] << 8) | payload[1]} may not be sent`);
      }
      if (len > 2 && !isUtf8(payload.subarray(2))) return fail("close reason is not UTF-8");
    } else if (op === Op.CONT) {
      if (fragmented < 0) return fail("continuation without a started message");
      if (fin) fragmented = -1;
    } else if (!control) {
      if (fragmented >= 0) return fail("new data frame inside a fragmented message");
      if (!fin) fragmented = op;
      else if (op === Op.TEXT && !isUtf8(payload)) return fail("text frame is not UTF-8");
    }
    frames.push({ opcode: op, fin, payload });
    at += head + len;
  }
  return { frames, partial: b.length - at, error: null };
}

function headEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

function closeCodeOf(f: ServerFrame): number {
  return f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
}

const OP_NAMES: Record<number, string> = { 0: "cont", 1: "text", 2: "binary", 8: "close" };

/** A short description of a frame for failure messages. */
function describe(f: ServerFrame): string {
  const name = OP_NAMES[f.opcode] ?? (f.opcode === Op.PING ? "ping" : "pong");
  if (f.opcode === Op.CLOSE) {
    return `close ${closeCodeOf(f)} ${preview(latin1(f.payload.subarray(2)), 40)}`;
  }
  return `${name}(${f.payload.length} bytes ${preview(latin1(f.payload), 40)})`;
}

function sameFrame(a: ServerFrame, b: ServerFrame): boolean {
  return a.opcode === b.opcode && a.payload.length === b.payload.length &&
    a.payload.every((x, i) => x === b.payload[i]);
}

function header(head: string, name: string): string | undefined {
  for (const line of head.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === name) return line.slice(i + 1).trim();
  }
  return undefined;
}

/** The oracle for one case: a list of problems (empty when it passed) and the Close code seen. */
export function judgeWs(c: WsCase, o: WsOutcome): { problems: string[]; closeCode: number | null } {
  const problems: string[] = [];
  const end = headEnd(o.bytes);
  const late = o.timedOut ? " (the case timed out)" : "";
  if (end < 0) {
    problems.push(
      o.bytes.length === 0
        ? `no response to the handshake${late}`
        : `incomplete handshake response ${preview(latin1(o.bytes))}`,
    );
    return { problems, closeCode: null };
  }
  const head = latin1(o.bytes.subarray(0, end));
  if (!/^HTTP\/1\.1 101 /.test(head)) {
    problems.push(`handshake answered ${preview(head.split("\r\n")[0])}, not 101`);
    return { problems, closeCode: null };
  }
  if (header(head, "upgrade")?.toLowerCase() !== "websocket") problems.push("101 without Upgrade");
  const conn = (header(head, "connection") ?? "").toLowerCase().split(",").map((t) => t.trim());
  if (!conn.includes("upgrade")) problems.push("101 without Connection: upgrade");
  if (header(head, "sec-websocket-accept") !== WS_ACCEPT) problems.push("wrong accept key");
  const p = parseServerFrames(o.bytes.subarray(end + 4));
  if (p.error !== null) problems.push(`bad server frame #${p.frames.length}: ${p.error}`);
  const ci = p.frames.findIndex((f) => f.opcode === Op.CLOSE);
  const close = ci >= 0 ? p.frames[ci] : null;
  const closeCode = close ? closeCodeOf(close) : null;
  if (close && (ci < p.frames.length - 1 || p.partial > 0)) {
    const after = p.frames.length - 1 - ci;
    problems.push(`bytes after the server's Close: ${after} frame(s) and ${p.partial} more bytes`);
  } else if (p.partial > 0 && p.error === null && o.closed) {
    problems.push(`an incomplete frame (${p.partial} bytes) before the server closed TCP`);
  }
  if (close && o.closeAt >= 0) {
    const waited = (o.eofAt >= 0 ? o.eofAt : o.endAt) - o.closeAt;
    if (waited > CLOSE_BOUND_MS || (o.eofAt < 0 && waited >= CLOSE_BOUND_MS)) {
      problems.push(
        o.eofAt < 0
          ? `no TCP close within ${waited} ms of the server's Close`
          : `TCP closed ${waited} ms after the server's Close (bound ${CLOSE_BOUND_MS} ms)`,
      );
    }
  }
  if (o.halfCloseAt >= 0 && o.eofAt < 0 && o.endAt - o.halfCloseAt >= CLOSE_BOUND_MS) {
    problems.push(`no TCP close within ${o.endAt - o.halfCloseAt} ms of the client's half-close`);
  }
  if (c.verdict === "any") return { problems, closeCode };
  const want = c.verdict === "echo" ? c.replies : [...c.replies, null];
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = p.frames[i];
    if (w === null) {
      const code = Number(c.verdict.slice(6));
      if (g === undefined) problems.push(`no Close frame (expected ${code})${late}`);
      else if (g.opcode !== Op.CLOSE) problems.push(`expected close ${code}, got ${describe(g)}`);
      else if (closeCodeOf(g) !== code) {
        problems.push(`wrong close code: expected ${code}, got ${closeCodeOf(g)}`);
      }
      break;
    }
    if (g === undefined) {
      problems.push(`missing reply #${i} of ${want.length}: ${describe(w)}${late}`);
      break;
    }
    if (!sameFrame(w, g)) {
      problems.push(`reply #${i}: expected ${describe(w)}, got ${describe(g)}`);
      break;
    }
    if (i === want.length - 1 && p.frames.length > want.length && ci !== i) {
      problems.push(`unexpected frame after the replies: ${describe(p.frames[want.length])}`);
    }
  }
  if (want.length === 0 && p.frames.length > 0) {
    problems.push(`unexpected frame: ${describe(p.frames[0])}`);
  }
  return { problems, closeCode };
}

/** Plays one case on a fresh connection; see the module comment. */
export async function playWs(port: number, c: WsCase, timeoutMs: number): Promise<WsOutcome> {
  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const deadline = t0 + timeoutMs;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  let buf = new Uint8Array(0);
  let end = -1;
  let frames = 0;
  let closeAt = -1;
  let eofAt = -1;
  let halfCloseAt = -1;
  let closed = false;
  let done = false;
  const waker: { wake: (() => void) | null } = { wake: null };
  const update = () => {
    if (end < 0) end = headEnd(buf);
    if (end < 0) return;
    const p = parseServerFrames(buf.subarray(end + 4));
    frames = p.frames.length;
    if (closeAt < 0 && p.frames.some((f) => f.opcode === Op.CLOSE)) closeAt = now();
  };
  const reading = (async () => {
    const chunk = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        update();
        waker.wake?.();
      }
    } catch {
      // A reset by the server ends the stream too.
    }
    if (!done) {
      closed = true;
      eofAt = now();
    }
    waker.wake?.();
  })();
  const waitUntil = async (pred: () => boolean, until: number) => {
    while (!pred() && !closed && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => resolve(), Math.max(1, Math.min(50, until - Date.now())));
        waker.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      waker.wake = null;
    }
  };
  const send = async (b: Uint8Array) => {
    let off = 0;
    while (off < b.length) off += await conn.write(b.subarray(off));
  };
  let timedOut = false;
  try {
    if (!c.eager) {
      await send(HANDSHAKE);
      await waitUntil(() => end >= 0, deadline);
    }
    if (c.eager || end >= 0) {
      const parts: Uint8Array[] = [];
      if (c.delivery === "whole") parts.push(c.bytes);
      else if (c.delivery === "split") {
        let at = 0;
        for (const cut of [...c.cuts, c.bytes.length]) {
          parts.push(c.bytes.subarray(at, cut));
          at = cut;
        }
      } else for (let i = 0; i < c.bytes.length; i++) parts.push(c.bytes.subarray(i, i + 1));
      if (c.eager) parts[0] = concatTwo(HANDSHAKE, parts[0]);
      for (let i = 0; i < parts.length && !closed && Date.now() < deadline; i++) {
        await send(parts[i]);
        if (i + 1 < parts.length) await delay(c.delivery === "bytewise" ? 1 : 2);
      }
    }
  } catch {
    // The server may close or reset while the client still writes (after its Close).
  }
  await waitUntil(() => end >= 0, deadline);
  const sawEnough = () =>
    closeAt >= 0 ? now() - closeAt > CLOSE_BOUND_MS : frames >= c.replies.length;
  if (c.verdict !== "any") {
    const serverCloses = c.verdict !== "echo" || c.replies.at(-1)?.opcode === Op.CLOSE;
    await waitUntil(() => (serverCloses ? closeAt >= 0 && sawEnough() : sawEnough()), deadline);
    // A short quiet period to catch frames that should not come.
    if (!serverCloses) await waitUntil(() => false, Math.min(deadline, Date.now() + 30));
    timedOut = !closed && Date.now() >= deadline;
  }
  if (!closed) {
    if (c.ending === "halfclose") {
      await conn.closeWrite().catch(() => {});
      halfCloseAt = now();
      const until = c.verdict === "any"
        ? Math.max(deadline, Date.now() + CLOSE_BOUND_MS + 100)
        : Date.now() + CLOSE_BOUND_MS + 100;
      await waitUntil(() => closeAt >= 0 && now() - closeAt > CLOSE_BOUND_MS, until);
    } else await delay(1);
  }
  done = true;
  const endAt = now();
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  await reading;
  return { bytes: buf, closed, timedOut, closeAt, eofAt, halfCloseAt, endAt };
}

function concatTwo(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A fresh WebSocket round trip (`roundTripCase`); resolves with its problems (none: healthy). */
export async function probeWs(port: number, timeoutMs = 5000): Promise<string[]> {
  const c = roundTripCase(["health", "héllo ✓ 🎉"]);
  try {
    return judgeWs(c, await playWs(port, c, timeoutMs)).problems;
  } catch (err) {
    return [`client error: ${(err as Error).message}`];
  }
}

async function startServer(io: string): Promise<Proc> {
  return await startLsbaws([
    "--io",
    io,
    "-p",
    "0",
    "--log-level",
    "warning",
    "--keep-alive-timeout-ms",
    "2000",
    "--headers-timeout-ms",
    "3000",
    "--shutdown-grace-ms",
    "1000",
    "--websocket-max-message-bytes",
    String(WS_MAX_MESSAGE_BYTES),
    "--websocket-idle-timeout-ms",
    "20000",
    "--websocket-close-timeout-ms",
    "2000",
    WS_FUZZ_APP,
  ], { env: { LSBAWS_IO: io } });
}

/** Waits until `pid`'s fd count is at most `target`; returns the last count. */
async function settleFds(pid: number, target: number, waitMs: number): Promise<number> {
  const end = Date.now() + waitMs;
  let n = fdCount(pid);
  while (n > target && Date.now() < end) {
    await delay(50);
    n = fdCount(pid);
  }
  return n;
}

async function isExited(p: Proc): Promise<boolean> {
  return await Promise.race([p.status.then(() => true), delay(0).then(() => false)]);
}

/** A case's mutations, base and transport, for failure lines. */
export function caseLabel(c: WsCase): string {
  const m = c.mutations.length > 0 ? c.mutations.join("+") : "valid";
  return `${m} on ${c.base} [${
    c.eager ? "eager/" : ""
  }${c.delivery}/${c.ending}] expect ${c.verdict}`;
}

/** Runs a WebSocket fuzz campaign; see the module comment. */
export async function runWsFuzz(opts: WsFuzzOptions): Promise<WsFuzzSummary> {
  const t0 = Date.now();
  const concurrency = opts.concurrency ?? 8;
  const caseTimeoutMs = opts.caseTimeoutMs ?? 4000;
  const timeLimitMs = opts.timeLimitMs ?? 60_000;
  const checkEvery = opts.checkEvery ?? 250;
  const fdWaitMs = opts.fdWaitMs ?? 10_000;
  const say = opts.progress ?? (() => {});
  const failures: Failure[] = [];
  const verdicts: Record<string, number> = {};
  const closeCodes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  let caseTimeouts = 0;
  let verdictsChecked = 0;
  let ran = 0;
  const proc = await startServer(opts.io);
  try {
    const port = proc.port();
    // Warm-up: a few cases of each shape so lazily opened descriptors exist before counting.
    for (let i = 0; i < 20; i++) {
      await playWs(port, generateWsCase(opts.seed ^ 0x5eed, i), caseTimeoutMs).catch(() => {});
    }
    const warm = await probeWs(port);
    if (warm.length > 0) {
      throw new Error(`the round trip failed during warm-up: ${warm.join("; ")}`);
    }
    await delay(300);
    const baseline = fdCount(proc.pid);
    say(`${WS_FUZZ_APP}: pid ${proc.pid}, port ${port}, baseline fds ${baseline}`);
    const ids = opts.only ? [...opts.only] : Array.from({ length: opts.cases }, (_, i) => i);
    let next = 0;
    let stop = false;
    const check = async (id: number) => {
      if (fdCount(proc.pid) < 0 || await isExited(proc)) {
        failures.push({ id: -1, what: "process", message: `the server died by case ${id}` });
        stop = true;
        return;
      }
      const problems = await probeWs(port);
      if (problems.length > 0) {
        failures.push({
          id: -1,
          what: "round trip",
          message: `a fresh round trip after case ${id} failed: ${problems.join("; ")}`,
        });
      }
    };
    const worker = async () => {
      while (!stop) {
        if (Date.now() - t0 > timeLimitMs) {
          stop = true;
          break;
        }
        const k = next++;
        if (k >= ids.length) break;
        const id = ids[k];
        const c = generateWsCase(opts.seed, id);
        kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
        verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
        const what = caseLabel(c);
        let o: WsOutcome;
        try {
          o = await playWs(port, c, caseTimeoutMs);
        } catch (err) {
          failures.push({ id, what, message: `client error: ${(err as Error).message}` });
          ran++;
          continue;
        }
        ran++;
        const { problems, closeCode } = judgeWs(c, o);
        const code = closeCode === null
          ? "none"
          : closeCode >= 3000 && closeCode <= 4999
          ? "3000-4999"
          : String(closeCode);
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
        if (o.timedOut) caseTimeouts++;
        if (c.verdict !== "any") verdictsChecked++;
        for (const p of problems) {
          failures.push({
            id,
            what,
            message: `${p}\n    sent: ${preview(latin1(c.bytes))}\n    got: ${
              preview(latin1(o.bytes))
            }`,
          });
        }
        if (ran % checkEvery === 0) {
          say(`${ran} cases, ${failures.length} failures, ${Date.now() - t0} ms`);
          await check(id);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const fds: Array<{ app: string; baseline: number; end: number }> = [];
    if (await isExited(proc)) {
      const st = await proc.status;
      const how = st.signal ? `signal ${st.signal}` : `code ${st.code}`;
      failures.push({
        id: -1,
        what: WS_FUZZ_APP,
        message: `process exited during the run (${how}); last stderr lines:\n${
          proc.err.slice(-15).join("\n")
        }`,
      });
      fds.push({ app: WS_FUZZ_APP, baseline, end: -1 });
    } else {
      await check(ids[ids.length - 1] ?? -1);
      const end = await settleFds(proc.pid, baseline, fdWaitMs);
      fds.push({ app: WS_FUZZ_APP, baseline, end });
      if (end > baseline) {
        failures.push({
          id: -1,
          what: WS_FUZZ_APP,
          message: `fd count ${end} still above the baseline ${baseline} after ${fdWaitMs} ms`,
        });
      }
    }
    const bad = proc.err.filter((l) => STDERR_BAD.test(l));
    if (bad.length > 0) {
      failures.push({
        id: -1,
        what: WS_FUZZ_APP,
        message: `stderr: ${bad.slice(0, 5).join("\n")}`,
      });
    }
    return {
      seed: opts.seed,
      io: opts.io,
      cases: ran,
      skipped: ids.length - ran,
      verdicts,
      closeCodes,
      caseTimeouts,
      kinds,
      verdictsChecked,
      fds,
      durationMs: Date.now() - t0,
      failures,
    };
  } finally {
    await proc.stop();
  }
}

/** The summary as text lines (what `deno task fuzz --mode websocket` prints). */
export function formatWsSummary(s: WsFuzzSummary): string {
  const list = (r: Record<string, number>) =>
    Object.entries(r).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}:${v}`)
      .join(" ") || "none";
  const first = s.failures.find((f) => f.id >= 0);
  const lines = [
    `websocket fuzz seed=${s.seed} io=${s.io}: ${s.cases} cases in ${s.durationMs} ms` +
    (s.skipped > 0 ? ` (${s.skipped} skipped at the time limit)` : ""),
    `  expected verdicts: ${list(s.verdicts)}; certain verdicts checked: ${s.verdictsChecked}`,
    `  server close codes: ${list(s.closeCodes)}; case time-outs: ${s.caseTimeouts}`,
    `  kinds: ${Object.entries(s.kinds).map(([k, v]) => `${k}:${v}`).join(" ")}`,
    ...s.fds.map((f) => `  fds ${f.app}: baseline ${f.baseline}, end ${f.end}`),
    `  failures: ${s.failures.length}`,
    // Process-level failures (id -1: a dead process, leaked fds, stderr) first: they explain the rest.
    ...[...s.failures.filter((f) => f.id < 0), ...s.failures.filter((f) => f.id >= 0)]
      .slice(0, 20).map((f) => `  #${f.id} ${f.what}\n    ${f.message}`),
    ...(s.failures.length > 20 ? [`  ... ${s.failures.length - 20} more`] : []),
    `  reproduce: deno task fuzz --mode websocket --io ${s.io} --seed ${s.seed} --cases ${s.cases}` +
    (first ? ` (one case: --only ${first.id})` : ""),
  ];
  return lines.join("\n");
}

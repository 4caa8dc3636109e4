/**
 * The WebSocket fuzz runner: plays generated client frame sequences (`tests/fuzz/ws_generator.ts`)
 * against lsbaws serving the echo app (apps/websocket.ts) and judges what came back. The campaign
 * around the cases (process, warm-up, concurrent workers, liveness and end-of-run checks) is
 * `runCampaign` of `tests/fuzz/common.ts`.
 *
 * Contract:
 * - `runWsFuzz(options)` runs that campaign with one `main.ts` process serving `WS_FUZZ_APP`, also
 *   with the generator's message limit (`--websocket-max-message-bytes`), a 20 s WebSocket idle
 *   timeout (no server ping can fall inside a case) and a 2 s close timeout, and the cases of
 *   `generateWsCase(seed, id)`. Its health check is `probeWs`: a fresh WebSocket round trip
 *   (`roundTripCase`) passes the oracle, after the warm-up, at every periodic check and at the end.
 *   It never throws for a finding: it resolves with a `WsFuzzSummary` (the common one plus cases by
 *   expected verdict and the server's close codes) whose `failures` lists them, and rejects only
 *   when the server cannot start or fails its warm-up. The process is stopped before it settles.
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
 * - `formatWsSummary` is what `deno task fuzz --mode websocket` prints.
 */
import { delay } from "../_support/proc.ts";
import { concatBytes } from "../server/http/_helpers.ts";
import {
  connectClient,
  deliveryParts,
  formatRunSummary,
  latin1,
  preview,
  runCampaign,
  sendParts,
} from "./common.ts";
import type { FuzzMode, FuzzOptions, RunSummary } from "./common.ts";
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

/** The outcome of a WebSocket fuzz run. */
export interface WsFuzzSummary extends RunSummary {
  /** Cases by expected verdict. */
  readonly verdicts: Record<string, number>;
  /** Close codes the server sent, by code ("none": no Close; "3000-4999": the app range). */
  readonly closeCodes: Record<string, number>;
}

/** The app spec served. */
export const WS_FUZZ_APP = "apps/websocket.ts";

/** How long the server may take to close TCP after its Close frame or the client's half-close. */
export const CLOSE_BOUND_MS = 2000;

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
  let buf: Uint8Array = new Uint8Array(0);
  let end = -1;
  let frames = 0;
  let closeAt = -1;
  let halfCloseAt = -1;
  const client = await connectClient(port, (chunk) => {
    buf = concatBytes(buf, chunk);
    if (end < 0) end = headEnd(buf);
    if (end < 0) return;
    const p = parseServerFrames(buf.subarray(end + 4));
    frames = p.frames.length;
    if (closeAt < 0 && p.frames.some((f) => f.opcode === Op.CLOSE)) closeAt = now();
  });
  const waitUntil = (pred: () => boolean, until: number) => client.waitUntil(pred, until, 50);
  let timedOut = false;
  try {
    if (!c.eager) {
      await client.send(HANDSHAKE);
      await waitUntil(() => end >= 0, deadline);
    }
    if (c.eager || end >= 0) {
      const parts = deliveryParts(c.bytes, c.delivery, c.cuts);
      if (c.eager) parts[0] = concatBytes(HANDSHAKE, parts[0]);
      await sendParts(client, parts, deadline);
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
    timedOut = !client.closed && Date.now() >= deadline;
  }
  if (!client.closed) {
    if (c.ending === "halfclose") {
      await client.closeWrite();
      halfCloseAt = now();
      const until = c.verdict === "any"
        ? Math.max(deadline, Date.now() + CLOSE_BOUND_MS + 100)
        : Date.now() + CLOSE_BOUND_MS + 100;
      await waitUntil(() => closeAt >= 0 && now() - closeAt > CLOSE_BOUND_MS, until);
    } else await delay(1);
  }
  const endAt = now();
  await client.finish();
  const { closed } = client;
  const eofAt = closed ? client.closedAt - t0 : -1;
  return { bytes: buf, closed, timedOut, closeAt, eofAt, halfCloseAt, endAt };
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

/** A case's mutations, base and transport, for failure lines. */
export function caseLabel(c: WsCase): string {
  const m = c.mutations.length > 0 ? c.mutations.join("+") : "valid";
  return `${m} on ${c.base} [${
    c.eager ? "eager/" : ""
  }${c.delivery}/${c.ending}] expect ${c.verdict}`;
}

/** The WebSocket mode of `runCampaign`, tallying verdicts and close codes into `summary`. */
function wsMode(
  summary: { verdicts: Record<string, number>; closeCodes: Record<string, number> },
): FuzzMode<WsCase, WsOutcome> {
  return {
    apps: [WS_FUZZ_APP],
    flags: [
      "--websocket-max-message-bytes",
      String(WS_MAX_MESSAGE_BYTES),
      "--websocket-idle-timeout-ms",
      "20000",
      "--websocket-close-timeout-ms",
      "2000",
    ],
    probeEveryCheck: true,
    generate: generateWsCase,
    started: (c) => {
      summary.verdicts[c.verdict] = (summary.verdicts[c.verdict] ?? 0) + 1;
    },
    label: (c) => caseLabel(c),
    play: playWs,
    judge: (c, o) => {
      const { problems, closeCode } = judgeWs(c, o);
      const code = closeCode === null
        ? "none"
        : closeCode >= 3000 && closeCode <= 4999
        ? "3000-4999"
        : String(closeCode);
      summary.closeCodes[code] = (summary.closeCodes[code] ?? 0) + 1;
      return { problems, checked: c.verdict !== "any" };
    },
    received: (o) => latin1(o.bytes),
    health: async (port) => {
      const problems = await probeWs(port);
      return problems.length === 0 ? null : `a fresh round trip failed: ${problems.join("; ")}`;
    },
  };
}

/** Runs a WebSocket fuzz campaign; see the module comment. */
export async function runWsFuzz(opts: FuzzOptions): Promise<WsFuzzSummary> {
  const tallies = {
    verdicts: {} as Record<string, number>,
    closeCodes: {} as Record<string, number>,
  };
  const summary = await runCampaign(opts, wsMode(tallies));
  return { ...summary, ...tallies };
}

/** The summary as text lines (what `deno task fuzz --mode websocket` prints). */
export function formatWsSummary(s: WsFuzzSummary): string {
  const list = (r: Record<string, number>) =>
    Object.entries(r).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}:${v}`)
      .join(" ") || "none";
  return formatRunSummary(s, "websocket fuzz", ["--mode", "websocket"], [
    `  expected verdicts: ${list(s.verdicts)}; certain verdicts checked: ${s.verdictsChecked}`,
    `  server close codes: ${list(s.closeCodes)}; case time-outs: ${s.caseTimeouts}`,
  ]);
}

/**
 * The supervisor ↔ worker protocol: environment variables down, control lines up.
 *
 * Contract (pure: no I/O):
 * - The supervisor starts a worker with `LSBAWS_WORKER=<id>` in its environment and, once the
 *   first worker has resolved the listen addresses (port 0 → a real port),
 *   `LSBAWS_WORKER_BIND=<JSON list of bind specs>`, which replaces `--host/--port/--bind`. When
 *   the supervisor owns the listening sockets (libc backend, or socket activation), it sets
 *   `LSBAWS_WORKER_FDS=<JSON list of {fd, bind}>` instead: the worker serves those inherited
 *   descriptors and binds nothing. With `--initgroups` the worker is started as root with
 *   `LSBAWS_WORKER_IDENTITY=<uid>:<gid>` and switches to that identity itself, first of all.
 * - A worker talks back on its stderr, which the supervisor reads anyway (it forwards the error
 *   log). A control line is `CONTROL_PREFIX` + one JSON object + "\n"; every other line is log
 *   text. Lines are short (< 512 bytes), so each is written with one `write(2)` to a pipe and
 *   never interleaves with other writers (POSIX `PIPE_BUF` atomicity).
 * - Messages: `ready` (listening; carries the bound addresses), `beat` (the event loop is alive),
 *   `stall` (the event loop has not ticked for `ms`; `req` is the last request it started),
 *   `recycle` (`--max-requests` reached: please start a replacement and then stop me), `closed`
 *   (answer to `quiesce`: my listeners are closed), `stats` (metrics values: `l` the registry
 *   layout, `d` flat [slot, value] pairs) and `scrape` (please send me the aggregate metrics, see
 *   `server/process/metrics_link.ts`).
 * - The worker's stdin is a pipe from the supervisor carrying command lines (`COMMAND_QUIESCE`:
 *   close your listeners but keep serving open connections; `COMMAND_METRICS`: the answer to a
 *   `scrape`, `metrics <id> <JSON string>`). EOF means the supervisor is gone,
 *   and the worker shuts down gracefully instead of living on as an orphan.
 */

/** Environment variable marking a worker process; its value is the worker id. */
export const WORKER_ENV = "LSBAWS_WORKER";

/** Environment variable with the JSON list of concrete bind specs a worker must listen on. */
export const WORKER_BIND_ENV = "LSBAWS_WORKER_BIND";

/** Environment variable with the inherited listening descriptors (`server/libc/inherit.ts`). */
export const WORKER_FDS_ENV = "LSBAWS_WORKER_FDS";

/**
 * Environment variable `<uid>:<gid>` telling a worker started as root (`--initgroups`) to take
 * that user's supplementary groups, then the group and the user, before it does anything else
 * (`server/process/privileges.ts`).
 */
export const WORKER_IDENTITY_ENV = "LSBAWS_WORKER_IDENTITY";

/** Start of a control line on a worker's stderr (ASCII record separator + tag). */
export const CONTROL_PREFIX = "\x1elsbaws:";

/** A message from a worker to its supervisor. */
export type ControlMessage =
  | { readonly t: "ready"; readonly addrs: readonly string[] }
  | { readonly t: "beat" }
  | { readonly t: "stall"; readonly ms: number; readonly req: string }
  | { readonly t: "recycle"; readonly requests: number }
  | { readonly t: "closed" }
  | { readonly t: "stats"; readonly l: number; readonly d: readonly number[] }
  | { readonly t: "scrape"; readonly id: number };

/** Supervisor → worker command (a line on the worker's stdin): close your listeners. */
export const COMMAND_QUIESCE = "quiesce";

/** Supervisor → worker command: the aggregate metrics text answering a `scrape`. */
export const COMMAND_METRICS = "metrics";

/** Encodes the answer to `scrape` `id` (one line, without the newline). */
export function encodeMetricsReply(id: number, text: string): string {
  return `${COMMAND_METRICS} ${id} ${JSON.stringify(text)}`;
}

/** Decodes a `COMMAND_METRICS` line; null if it is not a valid one. */
export function parseMetricsReply(line: string): { id: number; text: string } | null {
  const m = /^metrics (\d+) (".*")$/s.exec(line);
  if (m === null) return null;
  try {
    const text = JSON.parse(m[2]);
    return typeof text === "string" ? { id: Number(m[1]), text } : null;
  } catch {
    return null;
  }
}

/** Encodes a message as one control line (with the trailing newline). */
export function encodeControl(msg: ControlMessage): string {
  return CONTROL_PREFIX + JSON.stringify(msg) + "\n";
}

/** Decodes a control line (with or without its newline); null if it is not a valid one. */
export function parseControl(line: string): ControlMessage | null {
  if (!line.startsWith(CONTROL_PREFIX)) return null;
  let v: unknown;
  try {
    v = JSON.parse(line.slice(CONTROL_PREFIX.length));
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const m = v as Record<string, unknown>;
  switch (m.t) {
    case "ready":
      return Array.isArray(m.addrs) && m.addrs.every((a) => typeof a === "string")
        ? { t: "ready", addrs: m.addrs as string[] }
        : null;
    case "beat":
      return { t: "beat" };
    case "stall":
      return typeof m.ms === "number" && typeof m.req === "string"
        ? { t: "stall", ms: m.ms, req: m.req }
        : null;
    case "recycle":
      return typeof m.requests === "number" ? { t: "recycle", requests: m.requests } : null;
    case "closed":
      return { t: "closed" };
    case "stats":
      return typeof m.l === "number" && Array.isArray(m.d) && m.d.length % 2 === 0 &&
          m.d.every((x) => typeof x === "number")
        ? { t: "stats", l: m.l, d: m.d as number[] }
        : null;
    case "scrape":
      return typeof m.id === "number" ? { t: "scrape", id: m.id } : null;
    default:
      return null;
  }
}

/**
 * How often a worker reports on its event loop, from `--timeout` seconds: a quarter of the
 * timeout, between 100 ms and 1 s, so a stall is noticed well within the timeout.
 */
export function heartbeatPeriodMs(timeoutSec: number): number {
  return Math.max(100, Math.min(1000, Math.floor((timeoutSec * 1000) / 4)));
}

/**
 * Logging: the error log (levelled, stderr) and the access log (common or JSON lines).
 *
 * Contract:
 * - This is the only module that writes diagnostics; nothing else uses `console.*`.
 * - `createLogger(options)` returns a `Logger`. Error-log lines go to `options.errorSink`
 *   (default stderr) as `[ISO time] [pid] [LEVEL] message` (`errorLogFormat` "text"), or as one
 *   JSON object or one logfmt line with the keys `time`, `pid`, `level` (lower case) and
 *   `message` (`formatErrorLine`): a message of several lines (a stack trace) stays one line. Access lines are buffered and flushed
 *   at most every 100 ms, when the buffer passes 64 KiB, and on `flush()`/`close()`, so logging
 *   costs one write per batch rather than one per request.
 * - `accessAlso` (syslog) is handed each batch of access lines too, and turns access logging on
 *   by itself.
 * - A log file (the access log here; main.ts makes `--error-log` one too) follows its path
 *   through log rotation (`fileSink`): renamed or removed, it is opened anew within
 *   `FOLLOW_CHECK_MS` of the next write. Opening it at start throws.
 * - The access format is "common", "json", "logfmt", or a gunicorn-style template compiled once
 *   (`server/access_format.ts`).
 * - Access-log values are escaped: the common format quotes and backslash-escapes request
 *   fields; the JSON format uses `JSON.stringify` and logfmt quotes and escapes (`logfmtValue`),
 *   so a header cannot forge a log line.
 * - `detachedLog(logger)` is `logger.log` as a function of its own, one per logger.
 */
import { type AccessRecord, clfTime, compileAccessFormat, esc } from "./access_format.ts";

/** Error-log severity, lowest first. */
export type LogLevel = "debug" | "info" | "warning" | "error" | "critical";

const LEVEL_RANK: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warning: 30,
  error: 40,
  critical: 50,
};

/** One finished request, as recorded in the access log (defined with the formats). */
export type { AccessRecord } from "./access_format.ts";

/** The server's logger. */
export interface Logger {
  /** Writes an error-log line if `level` is at or above the configured level. */
  log(level: LogLevel, message: string): void;
  /** Whether `level` would be written (avoid building costly messages). */
  enabled(level: LogLevel): boolean;
  /** Whether access logging is on. */
  readonly accessEnabled: boolean;
  /** Records one request in the access log. */
  access(rec: AccessRecord): void;
  /** Writes buffered access lines now. */
  flush(): void;
  /** Flushes and releases files. */
  close(): void;
}

/** A logger's `log`, as a function of its own. */
export type LogFunction = (level: LogLevel, message: string) => void;

/** One detached `log` per logger (a server has one): see `detachedLog`. */
const DETACHED = new WeakMap<Logger, LogFunction>();
let lastLogger: Logger | null = null;
let lastLog: LogFunction | null = null;

/**
 * `logger.log` as a function that may be called on its own, the same function for every call
 * with the same logger, so a per-request caller (an exchange's `log`) makes no closure of its own.
 */
export function detachedLog(logger: Logger): LogFunction {
  if (logger === lastLogger) return lastLog!; // a server has one logger: no lookup per request
  let fn = DETACHED.get(logger);
  if (fn === undefined) {
    fn = (level, message) => logger.log(level, message);
    DETACHED.set(logger, fn);
  }
  lastLogger = logger;
  lastLog = fn;
  return fn;
}

/** Where log lines go (injected so tests can capture them). */
export interface LogSink {
  /** Writes the text completely. */
  write(text: string): void;
  /** Releases the sink (optional). */
  close?(): void;
}

/** Options for `createLogger`. */
export interface LoggerOptions {
  /** Lowest error-log level written. */
  level: LogLevel;
  /** Access log: "" (off), "-" (stdout) or a file path (appended). */
  accessLog: string;
  /** Access line format: "common", "json", "logfmt", or a template (`server/access_format.ts`). */
  accessLogFormat: string;
  /** Error line format (default "text"). */
  errorLogFormat?: ErrorLogFormat;
  /** Called with every error-log line written, before it is formatted (StatsD, syslog). */
  onLog?: (level: LogLevel, message: string) => void;
  /** Error-log sink (default stderr). */
  errorSink?: LogSink;
  /** Access-log sink (overrides `accessLog` destination; used by tests). */
  accessSink?: LogSink;
  /**
   * Also handed every batch of access lines as it is written (`--syslog`): access logging is on
   * when this is set, even with no `accessLog`.
   */
  accessAlso?: (lines: string) => void;
  /** Process id written in lines (default `Deno.pid`). */
  pid?: number;
}

const encoder = new TextEncoder();

/** POSIX PIPE_BUF: writes up to this size to a pipe are atomic (workers share stdout). */
const ATOMIC_WRITE_BYTES = 4096;

/**
 * A sink writing whole lines to `file` synchronously. Once the reader is gone (`BrokenPipe`, as
 * with `lsbaws --help | head -1` or a log pipe whose reader died) the sink drops further output
 * instead of throwing: losing log lines must never take the server down.
 */
export function fdSink(file: { writeSync(p: Uint8Array): number }): LogSink {
  let gone = false;
  return {
    write(text: string) {
      if (gone) return;
      const bytes = encoder.encode(text);
      // Write whole lines in pieces of at most PIPE_BUF bytes, so lines from several worker
      // processes sharing one pipe never interleave mid-line.
      let off = 0;
      while (off < bytes.length) {
        let end = Math.min(bytes.length, off + ATOMIC_WRITE_BYTES);
        if (end < bytes.length) {
          const nl = bytes.subarray(off, end).lastIndexOf(0x0a);
          if (nl >= 0) end = off + nl + 1;
          else {
            const next = bytes.indexOf(0x0a, end);
            end = next < 0 ? bytes.length : next + 1;
          }
        }
        let piece = bytes.subarray(off, end);
        try {
          while (piece.length > 0) piece = piece.subarray(file.writeSync(piece));
        } catch (err) {
          if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
          gone = true;
          return;
        }
        off = end;
      }
    },
  };
}

/** A sink writing to stderr. */
export function stderrSink(): LogSink {
  return fdSink(Deno.stderr);
}

/** A sink writing to stdout. */
export function stdoutSink(): LogSink {
  return fdSink(Deno.stdout);
}

/** How often a file sink checks that its path still names the file it writes (log rotation). */
export const FOLLOW_CHECK_MS = 1000;

/** Options for `fileSink`. */
export interface FileSinkOptions {
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
  /** Least time between two checks of the path (default `FOLLOW_CHECK_MS`). */
  checkEveryMs?: number;
  /** Told once when the path cannot be reopened (until a reopen succeeds again). */
  warn?: (message: string) => void;
}

/**
 * A sink appending to the file at `path` (created if missing) that follows the path when
 * logrotate (or anyone) renames or removes the file: before a write, at most once per
 * `checkEveryMs`, it compares the device and inode the path names with the open file's, and opens
 * the path anew when they differ or the path is gone. Lines written before that go to the old
 * file, so a rename loses none; no signal is needed (Python's `WatchedFileHandler` works the same
 * way). A reopen that fails keeps writing to the old file, is reported once through `warn` and is
 * tried again at the next check. Opening the file the first time throws: the caller reports it.
 */
export function fileSink(path: string, opts: FileSinkOptions = {}): LogSink {
  const now = opts.now ?? Date.now;
  const every = opts.checkEveryMs ?? FOLLOW_CHECK_MS;
  const open = () => Deno.openSync(path, { append: true, create: true });
  let file = open();
  let inner = fdSink(file);
  let opened = file.statSync();
  let checkedAt = now();
  let failing = false;
  const follow = () => {
    let named: Deno.FileInfo | null;
    try {
      named = Deno.statSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) return; // cannot tell: keep the open file
      named = null;
    }
    if (named !== null && named.ino === opened.ino && named.dev === opened.dev) return;
    let next: Deno.FsFile;
    try {
      next = open();
    } catch (err) {
      if (!failing) {
        opts.warn?.(
          `cannot reopen log file ${path} (${
            (err as Error).message
          }): still writing to the old file`,
        );
      }
      failing = true;
      return;
    }
    failing = false;
    file.close();
    file = next;
    inner = fdSink(file);
    opened = file.statSync();
  };
  return {
    write(text: string) {
      const t = now();
      if (t - checkedAt >= every) {
        checkedAt = t;
        follow();
      }
      inner.write(text);
    },
    close: () => file.close(),
  };
}

/** Formats an access record in the common log format plus duration, request id and pid. */
export function formatCommon(r: AccessRecord, pid: number): string {
  return `${r.remote} - - [${clfTime(r.time)}] "${esc(r.method)} ${
    esc(r.target)
  } ${r.version}" ${r.status} ${r.bytesOut} "${esc(r.referer)}" "${
    esc(r.userAgent)
  }" in=${r.bytesIn} ${r.durationMs.toFixed(3)}ms rid=${esc(r.requestId)} pid=${pid}\n`;
}

/** Formats an access record as one JSON object per line. */
export function formatJson(r: AccessRecord, pid: number): string {
  return JSON.stringify({
    time: new Date(r.time).toISOString(),
    remote: r.remote,
    method: r.method,
    target: r.target,
    version: r.version,
    status: r.status,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    duration_ms: Math.round(r.durationMs * 1000) / 1000,
    request_id: r.requestId,
    referer: r.referer,
    user_agent: r.userAgent,
    pid,
  }) + "\n";
}

/** What a quoted logfmt value escapes: `\\`, `"` and C0/C1 control characters. */
// deno-lint-ignore no-control-regex
const LOGFMT_ESCAPED = /[\\"\x00-\x1f\x7f-\x9f]/g;

/**
 * A logfmt value: bare when it is a non-empty run of printable ASCII without space, `=` or `"`;
 * otherwise double-quoted with `\\`, `"` and control characters escaped, so a request field can
 * neither end the line nor add a key.
 */
export function logfmtValue(v: string): string {
  if (/^[\x21\x23-\x3c\x3e-\x7e]+$/.test(v)) return v;
  return `"${
    v.replace(LOGFMT_ESCAPED, (c) => {
      if (c === "\\" || c === '"') return `\\${c}`;
      if (c === "\n") return "\\n";
      if (c === "\t") return "\\t";
      if (c === "\r") return "\\r";
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    })
  }"`;
}

/** Formats one access record as a logfmt line (Heroku's `key=value` format; same keys as JSON). */
export function formatLogfmt(r: AccessRecord, pid: number): string {
  return `time=${new Date(r.time).toISOString()} remote=${logfmtValue(r.remote)} ` +
    `method=${logfmtValue(r.method)} target=${logfmtValue(r.target)} version=${r.version} ` +
    `status=${r.status} bytes_in=${r.bytesIn} bytes_out=${r.bytesOut} ` +
    `duration_ms=${Math.round(r.durationMs * 1000) / 1000} ` +
    `request_id=${logfmtValue(r.requestId)} referer=${logfmtValue(r.referer)} ` +
    `user_agent=${logfmtValue(r.userAgent)} pid=${pid}\n`;
}

/** How error-log lines are written. */
export type ErrorLogFormat = "text" | "json" | "logfmt";

/** One error-log line (with its newline) in `format`; see the module comment. */
export function formatErrorLine(
  format: ErrorLogFormat,
  time: number,
  pid: number,
  level: LogLevel,
  message: string,
): string {
  const iso = new Date(time).toISOString();
  if (format === "json") return JSON.stringify({ time: iso, pid, level, message }) + "\n";
  if (format === "logfmt") {
    return `time=${iso} pid=${pid} level=${level} message=${logfmtValue(message)}\n`;
  }
  return `[${iso}] [${pid}] [${level.toUpperCase()}] ${message}\n`;
}

/** Creates a logger; see the module comment. */
export function createLogger(opts: LoggerOptions): Logger {
  const rank = LEVEL_RANK[opts.level];
  const pid = opts.pid ?? Deno.pid;
  const errorSink = opts.errorSink ?? stderrSink();
  const errorFormat = opts.errorLogFormat ?? "text";
  const writeError = (level: LogLevel, message: string) => {
    if (LEVEL_RANK[level] < rank) return;
    opts.onLog?.(level, message);
    try {
      errorSink.write(formatErrorLine(errorFormat, Date.now(), pid, level, message));
    } catch {
      // stderr closed: nothing sensible left to do.
    }
  };
  let accessSink: LogSink | null = opts.accessSink ??
    (opts.accessLog === ""
      ? null
      : opts.accessLog === "-"
      ? stdoutSink()
      : fileSink(opts.accessLog, { warn: (m) => writeError("warning", m) }));
  const format = opts.accessLogFormat === "json"
    ? formatJson
    : opts.accessLogFormat === "logfmt"
    ? formatLogfmt
    : opts.accessLogFormat === "common"
    ? formatCommon
    : compileAccessFormat(opts.accessLogFormat);
  // Asked on every request: worked out once (off for good after `close`).
  let accessOn = accessSink !== null || opts.accessAlso !== undefined;
  let buffered = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (buffered !== "") {
      const text = buffered;
      buffered = "";
      try {
        accessSink?.write(text);
      } catch {
        // A broken log destination must not take the server down.
      }
      opts.accessAlso?.(text);
    }
  };
  return {
    log: writeError,
    enabled(level) {
      return LEVEL_RANK[level] >= rank;
    },
    get accessEnabled() {
      return accessOn;
    },
    access(rec) {
      if (!accessOn) return;
      buffered += format(rec, pid);
      if (buffered.length > 65536) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, 100);
        Deno.unrefTimer(timer as unknown as number);
      }
    },
    flush,
    close() {
      flush();
      accessSink?.close?.();
      accessSink = null;
      accessOn = false;
    },
  };
}

/**
 * The error log to syslog, as gunicorn's `--log-syslog`: `--syslog` sends every error-log line
 * this process writes to a syslog daemon as well, `--syslog-addr` says where, `--syslog-tag`
 * names the program and `--syslog-facility` files it.
 *
 * Contract:
 * - `parseSyslogTarget(spec)`: `unix:///dev/log` or `unix:/dev/log` (a local datagram socket,
 *   `@name` for an abstract one), `udp://host[:port]` or `tcp://host[:port]` (port 514 by
 *   default; `[v6]` in brackets). Anything else throws a message naming `--syslog-addr`.
 * - `parseFacility(name)`: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron,
 *   authpriv, ftp and local0 to local7, as syslog(3) numbers them; anything else throws.
 * - `syslogMessage(...)` is one message in syslog(3)'s format, which rsyslog, syslog-ng and
 *   journald read: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`, PRI = facility * 8 + severity
 *   (debug 7, info 6, warning 4, error 3, critical 2), local time. The daemon adds the host name.
 *   A message of several lines (a stack trace) stays one message. A message longer than
 *   `MAX_MESSAGE_BYTES` of UTF-8 is cut at a character boundary.
 * - `openSyslog(target, options)` resolves to a `SyslogWriter`; each line is one datagram. A
 *   unix target must be a socket when it opens (else it throws: a daemon that is not there is a
 *   boot error, not lines lost in silence); later sends that fail (the daemon restarting) are
 *   dropped, because losing log lines must never stop the server. UDP sends go out
 *   unacknowledged.
 * - TCP (`tcp://`, RFC 6587): the collector must accept the connection at start (else it
 *   throws, as for unix). Each message is framed by octet counting (`LEN SP MESSAGE`, which
 *   rsyslog's imtcp and syslog-ng's `syslog()` source read), so a stack trace stays one message.
 *   Writes never block the server: messages queue in memory (at most `MAX_QUEUE_BYTES`; more are
 *   counted and dropped) and go out in order, batched, one write at a time. When the collector
 *   closes the connection or a write fails, the writer connects again on the next message, then
 *   after 1 s, doubling to 30 s while it cannot; once through, its first message says how many
 *   were dropped meanwhile. A message written just as the collector went away can be lost (TCP
 *   has no acknowledgement the sender sees). `close()` sends what is queued (for at most
 *   `CLOSE_FLUSH_MS`) before it closes.
 * - Each process sends its own lines under its own pid: a supervisor does not send what it
 *   forwards from its workers. With `--syslog-access` (on by default, as in gunicorn) a server's
 *   access lines go too, each its own message at info (`lines`), also when `--access-log` is
 *   off.
 * - `startSyslogForServer(config)` does the above from the settings; a `ConfigError` marks a
 *   value that cannot work (a usage error), other errors mean the destination cannot be used.
 * - Loaded only with `--syslog` (`main.ts`).
 */
import type { Config } from "./config.ts";
import { ConfigError } from "./config_file.ts";
import { concatBytes } from "./http/bytes.ts";
import type { LogLevel } from "./log.ts";
import { openUnixDatagram } from "./unix_datagram.ts";

/** Where messages go. */
export type SyslogTarget =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "udp" | "tcp"; readonly hostname: string; readonly port: number };

/** The longest message sent, in bytes (rsyslog's default maximum is 8 KiB). */
export const MAX_MESSAGE_BYTES = 8192;
/** Most bytes a TCP writer holds while the collector is slow or away; more are dropped. */
export const MAX_QUEUE_BYTES = 1024 * 1024;
/** How long a TCP writer's `close()` waits for its queue to go out. */
export const CLOSE_FLUSH_MS = 500;
/** A TCP writer's wait before connecting again: 1 s, doubling to this. */
const MAX_RETRY_MS = 30_000;

const FACILITIES: Readonly<Record<string, number>> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

const SEVERITY: Readonly<Record<LogLevel, number>> = {
  critical: 2,
  error: 3,
  warning: 4,
  info: 6,
  debug: 7,
};

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The target a `--syslog-addr` value names; see the module comment. */
export function parseSyslogTarget(spec: string): SyslogTarget {
  if (spec.startsWith("unix:")) {
    const path = spec.startsWith("unix://") ? spec.slice(7) : spec.slice(5);
    if (path !== "" && (path.startsWith("/") || path.startsWith("@"))) {
      return { kind: "unix", path };
    }
  } else {
    const m = /^(udp|tcp):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(spec);
    const port = m?.[3] === undefined ? 514 : Number(m[3]);
    if (m !== null && port >= 1 && port <= 65535) {
      return { kind: m[1] as "udp" | "tcp", hostname: m[2].replace(/^\[|\]$/g, ""), port };
    }
  }
  throw new Error(
    `--syslog-addr must be unix:///PATH (or unix:/PATH, unix:@NAME), udp://HOST[:PORT] or tcp://HOST[:PORT], got '${spec}'`,
  );
}

/** The syslog(3) number of a facility name; see the module comment. */
export function parseFacility(name: string): number {
  if (!Object.hasOwn(FACILITIES, name)) {
    throw new Error(
      `--syslog-facility must be one of ${Object.keys(FACILITIES).join(", ")}, got '${name}'`,
    );
  }
  return FACILITIES[name];
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** One message; see the module comment. */
export function syslogMessage(
  facility: number,
  level: LogLevel,
  time: Date,
  tag: string,
  pid: number,
  message: string,
): Uint8Array<ArrayBuffer> {
  const day = time.getDate();
  const stamp = `${MONTHS[time.getMonth()]} ${day < 10 ? ` ${day}` : day} ` +
    `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}`;
  const text = `<${facility * 8 + SEVERITY[level]}>${stamp} ${tag}[${pid}]: ${message}`;
  const out = new Uint8Array(MAX_MESSAGE_BYTES);
  const { written } = new TextEncoder().encodeInto(text, out);
  return out.slice(0, written);
}

/** Sends error-log lines to syslog. */
export interface SyslogWriter {
  /** Sends one line; never throws. */
  log(level: LogLevel, message: string): void;
  /** Sends each line of `text` (newline-separated access lines) as its own message, at info. */
  lines(text: string): void;
  /** Releases the socket (a TCP writer first sends what is queued, see the module comment). */
  close(): void | Promise<void>;
}

/** Options for `openSyslog`. */
export interface SyslogOptions {
  /** syslog(3) facility number. */
  readonly facility: number;
  /** Program name in each message. */
  readonly tag: string;
  /** Process id in each message (default `Deno.pid`). */
  readonly pid?: number;
}

/** Opens the destination; see the module comment. */
export async function openSyslog(
  target: SyslogTarget,
  options: SyslogOptions,
): Promise<SyslogWriter> {
  const pid = options.pid ?? Deno.pid;
  const message = (level: LogLevel, text: string) =>
    syslogMessage(options.facility, level, new Date(), options.tag, pid, text);
  if (target.kind === "tcp") {
    const { hostname, port } = target;
    return withLines(await TcpSyslog.open({ hostname, port }, message));
  }
  if (target.kind === "unix") {
    if (!target.path.startsWith("@")) {
      let info;
      try {
        info = Deno.statSync(target.path);
      } catch (err) {
        throw new Error(`no syslog socket at ${target.path}: ${(err as Error).message}`);
      }
      if (!info.isSocket) throw new Error(`${target.path} is not a socket`);
    }
    const socket = openUnixDatagram(target.path, "--syslog-addr");
    return withLines({
      log: (level, text) => void socket.send(message(level, text)),
      close: () => socket.close(),
    });
  }
  if (typeof Deno.listenDatagram !== "function") {
    throw new Error("udp:// needs Deno's --unstable-net (the lsbaws tasks and binary have it)");
  }
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: target.hostname.includes(":") ? "::" : "0.0.0.0",
    port: 0,
  });
  const to: Deno.NetAddr = { transport: "udp", hostname: target.hostname, port: target.port };
  let open = true;
  return withLines({
    log(level, text) {
      if (!open) return;
      conn.send(message(level, text), to).catch(() => {
        // No daemon, no route: dropped (see the module comment).
      });
    },
    close() {
      if (!open) return;
      open = false;
      // Let the last sends leave before the socket closes.
      setTimeout(() => conn.close(), 50);
    },
  });
}

/** One message framed by octet counting (RFC 6587 §3.4.1): `LEN SP MESSAGE`. */
export function octetCounted(message: Uint8Array): Uint8Array {
  return concatBytes([new TextEncoder().encode(`${message.length} `), message]);
}

/** The TCP writer; see the module comment. */
class TcpSyslog {
  readonly #addr: { hostname: string; port: number };
  readonly #message: (level: LogLevel, text: string) => Uint8Array;
  #conn: Deno.TcpConn | null;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #dropped = 0;
  /** A pump is running (set and cleared synchronously, so no message is ever left behind). */
  #pumping = false;
  /** The running (or last) pump, for `close()` to wait on. */
  #pumped: Promise<void> = Promise.resolve();
  #retryMs = 0;
  #closed = false;
  readonly #stop = new AbortController();

  private constructor(
    addr: { hostname: string; port: number },
    message: (level: LogLevel, text: string) => Uint8Array,
    conn: Deno.TcpConn,
  ) {
    this.#addr = addr;
    this.#message = message;
    this.#conn = conn;
    this.#watch(conn);
  }

  /** Connects (throwing when the collector cannot be reached) and returns the writer. */
  static async open(
    addr: { hostname: string; port: number },
    message: (level: LogLevel, text: string) => Uint8Array,
  ): Promise<TcpSyslog> {
    let conn;
    try {
      conn = await Deno.connect({ ...addr, transport: "tcp" });
    } catch (err) {
      throw new Error(`cannot connect to ${addr.hostname}:${addr.port}: ${(err as Error).message}`);
    }
    return new TcpSyslog(addr, message, conn);
  }

  log(level: LogLevel, text: string): void {
    if (this.#closed) return;
    const framed = octetCounted(this.#message(level, text));
    if (this.#queued + framed.length > MAX_QUEUE_BYTES) {
      this.#dropped++;
      return;
    }
    this.#queue.push(framed);
    this.#queued += framed.length;
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pumped = this.#pump();
    }
  }

  /** Reads until the collector closes (it sends nothing), then drops the connection. */
  #watch(conn: Deno.TcpConn): void {
    conn.unref(); // the pending read never keeps a stopping process alive
    const buf = new Uint8Array(512);
    const read = (): void => {
      conn.read(buf).then((n) => n === null ? this.#lost(conn) : read(), () => this.#lost(conn));
    };
    read();
  }

  #lost(conn: Deno.TcpConn): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  /**
   * Writes the queue out in batches, connecting again when needed (see the module comment). The
   * loop's last check of the queue and the end of `#pumping` happen in one synchronous step, so
   * a message queued after it starts a new pump.
   */
  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
        const conn = this.#conn ?? await this.#reconnect();
        if (conn === null) continue; // waited; try again (or stop)
        const count = this.#queue.length;
        const batch = concatBytes(this.#queue);
        this.#queue = [];
        this.#queued = 0;
        try {
          for (let off = 0; off < batch.length;) off += await conn.write(batch.subarray(off));
        } catch {
          this.#lost(conn); // the batch is lost with the connection: counted as dropped
          this.#dropped += count;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** One attempt to connect again, after the back-off wait; null when it failed. */
  async #reconnect(): Promise<Deno.TcpConn | null> {
    if (this.#retryMs > 0) await sleep(this.#retryMs, this.#stop.signal);
    if (this.#stop.signal.aborted) return null;
    try {
      const conn = await Deno.connect({
        ...this.#addr,
        transport: "tcp",
        signal: this.#stop.signal,
      });
      this.#retryMs = 0;
      this.#conn = conn;
      this.#watch(conn);
      if (this.#dropped > 0) {
        const note = octetCounted(this.#message(
          "warning",
          `${this.#dropped} syslog messages were dropped while ${this.#addr.hostname}:${this.#addr.port} could not be reached`,
        ));
        this.#dropped = 0;
        this.#queue.unshift(note);
        this.#queued += note.length;
      }
      return conn;
    } catch {
      this.#retryMs = Math.min(Math.max(this.#retryMs * 2, 1000), MAX_RETRY_MS);
      return null;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pumping) {
      // Past the deadline a write the collector does not take is cut off by closing the socket.
      const timer = setTimeout(() => this.#abort(), CLOSE_FLUSH_MS);
      await this.#pumped;
      clearTimeout(timer);
    }
    this.#abort();
  }

  #abort(): void {
    this.#stop.abort();
    if (this.#conn !== null) this.#lost(this.#conn);
  }
}

/** Resolves after `ms` or when `signal` aborts; never keeps the process alive. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    Deno.unrefTimer(timer);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** A writer whose `lines` sends each line through its `log`. */
function withLines(w: Omit<SyslogWriter, "lines">): SyslogWriter {
  return {
    log: (level, text) => w.log(level, text),
    close: () => w.close(),
    lines(text) {
      for (const line of text.split("\n")) if (line !== "") w.log("info", line);
    },
  };
}

/** Opens this process's syslog destination from the settings; see the module comment. */
export function startSyslogForServer(config: Config): Promise<SyslogWriter> {
  let target: SyslogTarget;
  let facility: number;
  try {
    target = parseSyslogTarget(config.syslogAddr);
    facility = parseFacility(config.syslogFacility);
    if (!/^[A-Za-z0-9._\/-]{1,48}$/.test(config.syslogTag)) {
      throw new Error(
        `--syslog-tag must be 1 to 48 letters, digits or . _ / -, got '${config.syslogTag}'`,
      );
    }
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return openSyslog(target, { facility, tag: config.syslogTag });
}

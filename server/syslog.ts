/**
 * The error log to syslog, as gunicorn's `--log-syslog`: `--syslog` sends every error-log line
 * this process writes to a syslog daemon as well, `--syslog-addr` says where, `--syslog-tag`
 * names the program and `--syslog-facility` files it.
 *
 * Contract:
 * - `parseSyslogTarget(spec)`: `unix:///dev/log` or `unix:/dev/log` (a local datagram socket,
 *   `@name` for an abstract one) or `udp://host[:port]` (port 514 by default; `[v6]` in
 *   brackets). Anything else throws a message naming `--syslog-addr`.
 * - `parseFacility(name)`: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron,
 *   authpriv, ftp and local0 to local7, as syslog(3) numbers them; anything else throws.
 * - `syslogMessage(...)` is one message in syslog(3)'s format, which rsyslog, syslog-ng and
 *   journald read: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`, PRI = facility * 8 + severity
 *   (debug 7, info 6, warning 4, error 3, critical 2), local time. The daemon adds the host name.
 *   A message of several lines (a stack trace) stays one message. A message longer than
 *   `MAX_MESSAGE_BYTES` of UTF-8 is cut at a character boundary.
 * - `openSyslog(target, options)` returns a `SyslogWriter`; each line is one datagram. A unix
 *   target must be a socket when it opens (else it throws: a daemon that is not there is a boot
 *   error, not lines lost in silence); later sends that fail (the daemon restarting) are dropped,
 *   because losing log lines must never stop the server. UDP sends go out unacknowledged.
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
import type { LogLevel } from "./log.ts";
import { openUnixDatagram } from "./unix_datagram.ts";

/** Where messages go. */
export type SyslogTarget =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "udp"; readonly hostname: string; readonly port: number };

/** The longest message sent, in bytes (rsyslog's default maximum is 8 KiB). */
export const MAX_MESSAGE_BYTES = 8192;

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
  } else if (spec.startsWith("udp://")) {
    const m = /^udp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(spec);
    const port = m?.[2] === undefined ? 514 : Number(m[2]);
    if (m !== null && port >= 1 && port <= 65535) {
      return { kind: "udp", hostname: m[1].replace(/^\[|\]$/g, ""), port };
    }
  }
  throw new Error(
    `--syslog-addr must be unix:///PATH (or unix:/PATH, unix:@NAME) or udp://HOST[:PORT], got '${spec}'`,
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
  /** Releases the socket. */
  close(): void;
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
export function openSyslog(target: SyslogTarget, options: SyslogOptions): SyslogWriter {
  const pid = options.pid ?? Deno.pid;
  const message = (level: LogLevel, text: string) =>
    syslogMessage(options.facility, level, new Date(), options.tag, pid, text);
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

/** A writer whose `lines` sends each line through its `log`. */
function withLines(w: Omit<SyslogWriter, "lines">): SyslogWriter {
  return {
    ...w,
    lines(text) {
      for (const line of text.split("\n")) if (line !== "") w.log("info", line);
    },
  };
}

/** Opens this process's syslog destination from the settings; see the module comment. */
export function startSyslogForServer(config: Config): SyslogWriter {
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

/**
 * Settings rows of the logging group (access and error logs, syslog, StatsD); spliced into the
 * table by `server/settings_app.ts`.
 *
 * Contract: data only (see `server/settings.ts` for the row format); imports nothing but types.
 */

import type { Setting } from "./setting_types.ts";

/** The logging rows, in `--help` order. */
export const LOGGING_ROWS = [
  {
    key: "accessLog",
    flag: "access-log",
    type: "string",
    default: "",
    doc: "Access log: '-' for stdout, a file path, or empty for none.",
    group: "logging",
  },
  {
    key: "accessLogFormat",
    flag: "access-log-format",
    type: "string",
    default: "common",
    doc:
      "Access log line format: common, json, logfmt, or a gunicorn template ('%(h)s \"%(r)s\" %(s)s').",
    group: "logging",
  },
  {
    key: "errorLog",
    flag: "error-log",
    type: "string",
    default: "-",
    doc: "Error log: '-' for stderr, or a file path (appended; workers' lines go there too).",
    group: "logging",
  },
  {
    key: "errorLogFormat",
    flag: "error-log-format",
    type: "enum",
    choices: ["text", "json", "logfmt"],
    default: "text",
    doc:
      "Error log line format: text ('[time] [pid] [LEVEL] message'), json or logfmt, one line each.",
    group: "logging",
  },
  {
    key: "logLevel",
    flag: "log-level",
    type: "enum",
    choices: ["debug", "info", "warning", "error", "critical"],
    default: "info",
    doc: "Lowest level written to the error log.",
    group: "logging",
  },
  {
    key: "syslog",
    flag: "syslog",
    type: "bool",
    default: false,
    doc: "Send every process's error-log lines to syslog as well (gunicorn's --log-syslog).",
    group: "logging",
  },
  {
    key: "syslogAddr",
    flag: "syslog-addr",
    type: "string",
    default: "unix:///dev/log",
    doc: "Where --syslog sends: unix:///PATH (a local datagram socket) or udp://HOST[:PORT] (514).",
    group: "logging",
  },
  {
    key: "syslogTag",
    flag: "syslog-tag",
    type: "string",
    default: "lsbaws",
    doc: "Program name in each syslog message (TAG[PID]: ...).",
    group: "logging",
  },
  {
    key: "syslogFacility",
    flag: "syslog-facility",
    type: "string",
    default: "user",
    doc: "Syslog facility: user, daemon, local0 ... local7 and the other syslog(3) names.",
    group: "logging",
  },
  {
    key: "statsdHost",
    flag: "statsd-host",
    type: "string",
    default: "",
    doc:
      "StatsD agent (host:port, UDP) to send request counts, statuses and durations to (off: empty).",
    group: "logging",
  },
  {
    key: "statsdPrefix",
    flag: "statsd-prefix",
    type: "string",
    default: "",
    doc: "Prefix of every StatsD metric name (a trailing dot is added).",
    group: "logging",
  },
  {
    key: "dogstatsdTags",
    flag: "dogstatsd-tags",
    type: "string",
    default: "",
    doc: "DogStatsD tags added to every StatsD metric (env:prod,team:web).",
    group: "logging",
  },
] as const satisfies readonly Setting[];

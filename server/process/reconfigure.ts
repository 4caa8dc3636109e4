/**
 * HUP reads the settings again (gunicorn's "reload the configuration"): what the supervisor
 * itself applies, what only a full restart can change, and what happens when the new settings do
 * not parse.
 *
 * Contract:
 * - `rereadOnHup(current, reread, log)` calls `reread()` (the command line, the environment the
 *   server started with, and the `--config` file as it is now, checked as at start). When it
 *   throws, the error is logged and null returned: the caller restarts nothing, so a mistake in
 *   the file never replaces working workers with ones that cannot start.
 * - Otherwise it returns the new settings, with the `FIXED_AT_START` ones kept at their current
 *   values (the listening sockets, the identity, the supervisor's own log and pid files stay as
 *   they are until a full restart); a changed fixed setting is named in one warning, the other
 *   changes in one info line (`--workers 2 → 4`).
 * - The caller applies `workers` only when the configured value changed, so a HUP without that
 *   change keeps TTIN/TTOU adjustments (gunicorn resets them).
 * - `supervisorTickMs(config)` is the supervisor loop's period for those settings, and
 *   `scaleWorkers` what TTIN/TTOU do to the worker count.
 * - Worker-level settings need nothing here: every new worker reads the command line and the
 *   file itself.
 */
import { type Config, SETTINGS, shownValue } from "../config.ts";
import type { Logger } from "../log.ts";
import { heartbeatPeriodMs } from "./control.ts";

/**
 * TTIN (`delta` 1) / TTOU (-1): the new worker count, never below 1 nor above `max` (logged).
 */
export function scaleWorkers(n: number, delta: 1 | -1, max: number, log: Logger): number {
  const name = delta > 0 ? "SIGTTIN" : "SIGTTOU";
  if (delta < 0 && n <= 1) {
    log.log("warning", "SIGTTOU: already at 1 worker");
    return n;
  }
  if (delta > 0 && n >= max) return n;
  log.log("info", `${name}: now ${n + delta} worker(s)`);
  return n + delta;
}

/** First wait before retrying a worker that failed to boot (doubles per failure). */
const BOOT_BACKOFF_MS = 1000;

/** The wait before retrying after the `failures`-th failed boot in a row: 1 s doubling, capped. */
export function bootBackoffMs(failures: number, maxMs: number): number {
  return Math.min(BOOT_BACKOFF_MS * 2 ** (failures - 1), maxMs);
}

/** How often the supervisor's loop checks on its workers: the heartbeat period, or 1 s. */
export function supervisorTickMs(config: Config): number {
  return config.timeout > 0 ? heartbeatPeriodMs(config.timeout) : 1000;
}

/** Settings HUP cannot change: the supervisor opened or resolved them once, at start. */
export const FIXED_AT_START: ReadonlySet<keyof Config> = new Set<keyof Config>([
  "bind",
  "host",
  "port",
  "backlog",
  "io",
  "unixSocketMode",
  "user",
  "group",
  "initgroups",
  "controlSocket",
  "pidFile",
  "errorLog",
  "errorLogFormat",
  "captureOutput",
  "syslog",
  "syslogAddr",
  "syslogTag",
  "syslogFacility",
  "logLevel",
  "metricsPath",
  "reload",
  "reloadDir",
  "reloadInclude",
  "reloadExclude",
  "chdir",
  "umask",
  "envFile",
  "config",
]);

function flagOf(key: keyof Config): string {
  return `--${SETTINGS.find((s) => s.key === key)?.flag ?? key}`;
}

function show(v: unknown): string {
  return Array.isArray(v) ? `[${v.join(", ")}]` : JSON.stringify(v);
}

function keep<K extends keyof Config>(target: Config, from: Config, key: K): void {
  target[key] = from[key];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The settings after a HUP, or null when they cannot be read; see the module comment. */
export function rereadOnHup(current: Config, reread: () => Config, log: Logger): Config | null {
  let next: Config;
  try {
    next = reread();
  } catch (err) {
    log.log(
      "error",
      `SIGHUP: the settings do not read (${err instanceof Error ? err.message : err}); ` +
        "keeping the running workers, nothing restarted",
    );
    return null;
  }
  const kept: string[] = [];
  const applied: string[] = [];
  const merged: Config = { ...next };
  for (const s of SETTINGS) {
    const key = s.key as keyof Config;
    if (same(current[key], next[key])) continue;
    if (FIXED_AT_START.has(key)) {
      kept.push(flagOf(key));
      keep(merged, current, key);
    } else {
      const [from, to] = [shownValue(s, current[key]), shownValue(s, next[key])];
      applied.push(`${flagOf(key)} ${show(from)} → ${show(to)}`);
    }
  }
  if (kept.length > 0) {
    log.log("warning", `SIGHUP: ${kept.join(", ")} changed; a full restart applies that`);
  }
  if (applied.length > 0) log.log("info", `SIGHUP: settings changed: ${applied.join(", ")}`);
  return merged;
}

/**
 * StatsD metrics (gunicorn's `--statsd-host`, `--statsd-prefix`, `--dogstatsd-tags`): every
 * process sends its own over UDP, batched.
 *
 * Contract:
 * - `parseStatsdTarget(spec)` reads `host:port` or `[v6]:port` (throws `Error` naming the
 *   problem; a port from 1 to 65535).
 * - `statsdLine(name, value, type, prefix, tags)` is one line: `<prefix><name>:<value>|<type>`
 *   plus `|#<tags>` (DogStatsD) when tags are set. `normalisePrefix` adds the trailing dot
 *   gunicorn adds.
 * - `StatsdClient` aggregates counters per name and keeps every timing; `flush()` turns them into
 *   lines and hands them to its `send` in packets of at most `MAX_PACKET_BYTES` (one line never
 *   split; lines joined by `\n`, which statsd, Telegraf and the Datadog agent all read), so a busy
 *   worker sends a few packets per flush instead of three per request as gunicorn does. Counters
 *   that did not move send nothing.
 * - `startStatsd(options)` opens an unbound UDP socket (`Deno.listenDatagram`, which needs
 *   `--unstable-net`, as every lsbaws entry point passes; without it, it throws), flushes every
 *   `FLUSH_MS` on an unref'd timer and once more at `close()`. A send that fails (no route, the
 *   agent not listening) is dropped: metrics must never take the server down.
 * - What lsbaws sends (names as gunicorn's with `lsbaws.` for `gunicorn.`): per request
 *   `lsbaws.requests` (c), `lsbaws.request.status.<code>` (c) and `lsbaws.request.duration`
 *   (ms, head parsed to exchange end); per error-log line at warning and above
 *   `lsbaws.log.<level>` (c); from the supervisor at each flush `lsbaws.workers` (g).
 * - `startStatsdForServer(config)` checks the three settings (a `ConfigError` naming the bad
 *   one), starts the client and feeds it every finished exchange (`setRequestHook`) and, in a
 *   supervisor, the live-workers gauge; other errors (no socket) propagate.
 * - `parseStatsdTags(tags)` and `parseStatsdPrefix(prefix)` check the two settings (nothing that
 *   could end a line or a field: no blanks, `|`, `#`, `:`, `@`; tags separated by commas).
 */

import type { Config } from "./config.ts";
import { ConfigError } from "./config_file.ts";
import { liveWorkerCount, setRequestHook } from "./metrics.ts";

/** Largest datagram sent (fits an Ethernet MTU with IP and UDP headers). */
export const MAX_PACKET_BYTES = 1432;

/** How often a process flushes what it gathered. */
export const FLUSH_MS = 1000;

/** Where metrics are sent. */
export interface StatsdTarget {
  /** Host name or IP address. */
  readonly hostname: string;
  /** UDP port. */
  readonly port: number;
}

/** Parses `--statsd-host`; see the module comment. */
export function parseStatsdTarget(spec: string): StatsdTarget {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new Error(`--statsd-host must be host:port or [v6]:port, got '${spec}'`);
  }
  return { hostname: m[1] ?? m[2], port };
}

const FIELD = /^[^\s|#:@,]+$/;

/** Checks `--dogstatsd-tags` (`k:v,k2:v2`; a tag may hold one `:`); throws naming the problem. */
export function parseStatsdTags(tags: string): string {
  if (tags !== "" && !tags.split(",").every((t) => /^[^\s|#@,:]+(?::[^\s|#@,:]+)?$/.test(t))) {
    throw new Error(
      `--dogstatsd-tags must be tags separated by commas (env:prod,team:web), got '${tags}'`,
    );
  }
  return tags;
}

/** Checks `--statsd-prefix` (dots allowed, nothing that could end a field); throws if not. */
export function parseStatsdPrefix(prefix: string): string {
  if (prefix !== "" && !FIELD.test(prefix)) {
    throw new Error(
      `--statsd-prefix may not hold blanks, '|', '#', ':', '@' or ',', got '${prefix}'`,
    );
  }
  return prefix;
}

/** `--statsd-prefix` with the trailing dot gunicorn adds ("" stays ""). */
export function normalisePrefix(prefix: string): string {
  return prefix === "" || prefix.endsWith(".") ? prefix : `${prefix}.`;
}

/** One StatsD line; see the module comment. */
export function statsdLine(
  name: string,
  value: number,
  type: "c" | "ms" | "g",
  prefix: string,
  tags: string,
): string {
  return `${prefix}${name}:${value}|${type}${tags === "" ? "" : `|#${tags}`}`;
}

/** Options of a client. */
export interface StatsdOptions {
  /** Prefix of every name (normalised). */
  readonly prefix: string;
  /** DogStatsD tags (`k:v,k2:v2`; "" for none). */
  readonly tags: string;
}

/** Gathers metrics and sends them in packets; see the module comment. */
export class StatsdClient {
  readonly #prefix: string;
  readonly #tags: string;
  readonly #send: (packet: string) => void;
  readonly #counters = new Map<string, number>();
  #timings: string[] = [];
  readonly #gauges = new Map<string, number>();

  /** A client that hands each packet to `send`. */
  constructor(options: StatsdOptions, send: (packet: string) => void) {
    this.#prefix = normalisePrefix(options.prefix);
    this.#tags = options.tags;
    this.#send = send;
  }

  /** Adds `n` to counter `name`. */
  increment(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }

  /** Records one timing of `ms` milliseconds. */
  timing(name: string, ms: number): void {
    this.#timings.push(
      statsdLine(name, Math.round(ms * 1000) / 1000, "ms", this.#prefix, this.#tags),
    );
  }

  /** Sets gauge `name`. */
  gauge(name: string, value: number): void {
    this.#gauges.set(name, value);
  }

  /** Counts one finished request (the per-request hook). */
  request(status: number, ms: number): void {
    this.increment("lsbaws.requests");
    this.increment(`lsbaws.request.status.${status}`);
    this.timing("lsbaws.request.duration", ms);
  }

  /** Sends everything gathered since the last flush. */
  flush(): void {
    const lines: string[] = [];
    for (const [name, n] of this.#counters) {
      lines.push(statsdLine(name, n, "c", this.#prefix, this.#tags));
    }
    for (const [name, v] of this.#gauges) {
      lines.push(statsdLine(name, v, "g", this.#prefix, this.#tags));
    }
    lines.push(...this.#timings);
    this.#counters.clear();
    this.#gauges.clear();
    this.#timings = [];
    let packet = "";
    for (const line of lines) {
      if (packet !== "" && packet.length + 1 + line.length > MAX_PACKET_BYTES) {
        this.#send(packet);
        packet = "";
      }
      packet = packet === "" ? line : `${packet}\n${line}`;
    }
    if (packet !== "") this.#send(packet);
  }
}

/** What `startStatsd` returns: the client, and how to stop it (a last flush first). */
export interface RunningStatsd {
  /** The client the hooks feed. */
  readonly client: StatsdClient;
  /** Flushes and closes the socket. */
  close(): void;
}

/** Opens the socket and the flush timer (`gauges` is read at each flush); see the module comment. */
export function startStatsd(
  target: StatsdTarget,
  options: StatsdOptions,
  gauges: () => ReadonlyArray<readonly [string, number]> = () => [],
): RunningStatsd {
  if (typeof Deno.listenDatagram !== "function") {
    throw new Error(
      "--statsd-host needs Deno's --unstable-net (the lsbaws tasks and binary have it)",
    );
  }
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: target.hostname.includes(":") ? "::" : "0.0.0.0",
    port: 0,
  });
  const to: Deno.NetAddr = { transport: "udp", hostname: target.hostname, port: target.port };
  const enc = new TextEncoder();
  let open = true;
  const client = new StatsdClient(options, (packet) => {
    if (!open) return;
    conn.send(enc.encode(packet), to).catch(() => {
      // No agent, no route: dropped (see the module comment).
    });
  });
  const flush = () => {
    for (const [name, value] of gauges()) client.gauge(name, value);
    client.flush();
  };
  const timer = setInterval(flush, FLUSH_MS);
  Deno.unrefTimer(timer);
  return {
    client,
    close() {
      if (!open) return;
      clearInterval(timer);
      flush();
      open = false;
      // Let the last sends leave before the socket closes.
      setTimeout(() => conn.close(), 50);
    },
  };
}

/** Starts this process's client from the settings; see the module comment. */
export function startStatsdForServer(config: Config): RunningStatsd {
  let target: StatsdTarget;
  try {
    target = parseStatsdTarget(config.statsdHost);
    parseStatsdPrefix(config.statsdPrefix);
    parseStatsdTags(config.dogstatsdTags);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const options = { prefix: config.statsdPrefix, tags: config.dogstatsdTags };
  const running = startStatsd(target, options, () => {
    const workers = liveWorkerCount();
    return workers === null ? [] : [["lsbaws.workers", workers]];
  });
  setRequestHook((status, ms) => running.client.request(status, ms));
  return running;
}

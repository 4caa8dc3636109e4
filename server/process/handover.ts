/**
 * Listener handover between workers: what the first worker learned about its listeners is handed
 * to every later one, and what the kernel needs for a lossless handover.
 *
 * Contract:
 * - `workerEnv(id, binds)` is the environment of worker `id`: `LSBAWS_WORKER=<id>` and, once the
 *   first worker resolved the listen addresses (port 0 → a real port), `LSBAWS_WORKER_BIND` with
 *   that list, so every later worker (replacements included) listens on the same addresses.
 * - `bannerLines(version, addrs, scheme)` is the listening banner the supervisor prints once,
 *   for the resolved bind specs.
 * - `migrateReqHint()` reads `net.ipv4.tcp_migrate_req` (Linux) and returns a log line when it is
 *   0: then a connection that reaches a retiring worker's accept queue just as its listener
 *   closes is reset by the kernel instead of moving to a sibling. Null otherwise.
 */
import { addrOf, formatAddr, parseBind } from "../address.ts";
import { WORKER_BIND_ENV, WORKER_ENV } from "./control.ts";

/** The environment a worker starts with; see the module comment. */
export function workerEnv(id: number, binds: readonly string[] | null): Record<string, string> {
  const env: Record<string, string> = { [WORKER_ENV]: String(id) };
  if (binds) env[WORKER_BIND_ENV] = JSON.stringify(binds);
  return env;
}

/** The banner lines (with newlines) for the resolved bind specs. */
export function bannerLines(version: string, addrs: readonly string[], scheme: string): string[] {
  return addrs.map((spec) =>
    `lsbaws ${version} listening on ${formatAddr(addrOf(parseBind(spec)), scheme)}\n`
  );
}

/** The Linux `net.ipv4.tcp_migrate_req` setting, or null where it cannot be read. */
export function readMigrateReq(): string | null {
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req").trim();
  } catch {
    return null;
  }
}

/** A log line explaining `tcp_migrate_req=0`, or null when it is set (or not Linux). */
export function migrateReqHint(setting: string | null = readMigrateReq()): string | null {
  if (setting !== "0") return null;
  return "net.ipv4.tcp_migrate_req=0: a connection that arrives just as a retiring worker closes " +
    "its listener is reset by the kernel; set it to 1 for lossless restarts (see the README's production section)";
}

/**
 * Listeners and workers: the supervisor's own listening sockets, which every worker inherits, or
 * (when the workers bind their own) what the first worker learned, handed to every later one; and
 * what the kernel needs for a lossless handover.
 *
 * Contract:
 * - `openSharedListeners(config, activation)` opens the supervisor's listening sockets, or returns
 *   null when the workers bind their own. With socket activation (`activation`, the descriptors
 *   `takeListenFds` read) the inherited sockets are adopted, which needs the libc backend
 *   (`ActivationError` otherwise). Else, when the libc backend serves the configured addresses,
 *   each is bound once here (`SharedListeners.bind`): HUP, TTIN/TTOU, recycling and crashed
 *   workers then never close a listening socket, and a unix path is published once (owned by
 *   `owner` when given: the `--user`/`--group` the workers run as). With the
 *   deno backend (`--io deno`, TLS, `auto` falling back) it is null: each worker binds with
 *   SO_REUSEPORT (the deno backend cannot adopt a descriptor). Bind and adoption errors throw
 *   (a boot error).
 * - `workerEnv(id, binds, sockets)` is the environment of worker `id`: `LSBAWS_WORKER=<id>`;
 *   with shared listeners, `LSBAWS_WORKER_FDS` listing them; otherwise, once the first worker
 *   resolved the listen addresses (port 0 → a real port), `LSBAWS_WORKER_BIND` with that list,
 *   so every later worker (replacements included) listens on the same addresses.
 * - `bannerLines(version, addrs, scheme)` is the listening banner the supervisor prints once,
 *   for the resolved bind specs.
 * - `migrateReqHint()` reads `net.ipv4.tcp_migrate_req` (Linux) and returns a log line when it is
 *   0: then, with workers that bind their own listeners, a connection that reaches a retiring
 *   worker's accept queue just as its listener closes is reset by the kernel instead of moving
 *   to a sibling. Null otherwise. (Shared listeners have one accept queue: nothing to migrate.)
 */
import { addrOf, type FileOwner, formatAddr, parseBind } from "../address.ts";
import type { Config } from "../config.ts";
import { chooseIo } from "../libc/backend.ts";
import {
  encodeInherited,
  type InheritedSocket,
  libcForInherited,
  SharedListeners,
} from "../libc/inherit.ts";
import { listenSpecsOf } from "../serve.ts";
import { WORKER_BIND_ENV, WORKER_ENV, WORKER_FDS_ENV } from "./control.ts";

/** The supervisor's listening sockets, or null; see the module comment. */
export async function openSharedListeners(
  config: Config,
  activation: readonly InheritedSocket[] | null,
  owner: FileOwner | null = null,
): Promise<SharedListeners | null> {
  const tls = config.certfile !== "";
  if (activation) return SharedListeners.adopt(libcForInherited(config.io, tls), activation);
  const specs = listenSpecsOf(config, owner ?? undefined);
  const io = chooseIo(config.io, tls, specs);
  return io.kind === "libc" ? await SharedListeners.bind(io.libc, specs, config.backlog) : null;
}

/** The environment a worker starts with; see the module comment. */
export function workerEnv(
  id: number,
  binds: readonly string[] | null,
  sockets: readonly InheritedSocket[] | null = null,
): Record<string, string> {
  const env: Record<string, string> = { [WORKER_ENV]: String(id) };
  if (sockets) env[WORKER_FDS_ENV] = encodeInherited(sockets);
  else if (binds) env[WORKER_BIND_ENV] = JSON.stringify(binds);
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

/**
 * systemd's readiness protocol (`sd_notify`, `Type=notify` and `Type=notify-reload` services):
 * the process systemd started tells it when the server serves, reloads and stops.
 *
 * Contract:
 * - `takeNotifySocket(env, unset)` reads `NOTIFY_SOCKET` (a socket path, or `@name` for the
 *   abstract namespace) and removes it from the environment (`unset`), so neither the workers
 *   nor the app can send on the server's behalf. Null when it is not set.
 * - `openNotifier(path)` makes a `Notifier` that sends each state as one datagram to the path
 *   (`server/unix_datagram.ts`, through the C library, loaded only here): Deno cannot send to a
 *   unix datagram path it did not bind, nor to an abstract name. It throws when
 *   the C library cannot be used (no FFI permission, not Linux). A send that fails is dropped:
 *   systemd not listening must not stop the server.
 * - `notifierFromEnv(env, unset, log)` does both for the process that takes the signals: null
 *   without the variable, and null with one warning when the notifier cannot be opened (the
 *   server still serves; systemd then times the start out).
 * - A state with `RELOADING=1` gets the `MONOTONIC_USEC=` line systemd 253+ requires.
 * - The states lsbaws sends (`NOTIFY_*`): `READY=1` once it serves (the single process once it
 *   listens; a supervisor once its first worker is ready, and again when a HUP's new generation
 *   serves or the restart was abandoned), `RELOADING=1` when a HUP starts one, `STOPPING=1` when a
 *   stop begins.
 */

import type { Logger } from "../log.ts";
import { openUnixDatagram, unixAddress } from "../unix_datagram.ts";

/** The environment variable systemd sets. */
export const NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET";
/** The server is serving (again). */
export const NOTIFY_READY = "READY=1";
/** A rolling restart began. */
export const NOTIFY_RELOADING = "RELOADING=1";
/** A stop began. */
export const NOTIFY_STOPPING = "STOPPING=1";

/** Sends states to systemd. */
export interface Notifier {
  /** Sends `state` (`KEY=value` lines); never throws. */
  notify(state: string): void;
  /** Sends `NOTIFY_READY`. */
  ready(): void;
  /** Sends `NOTIFY_STOPPING`. */
  stopping(): void;
  /** Releases the socket. */
  close(): void;
}

/** `NOTIFY_SOCKET`, removed from the environment; see the module comment. */
export function takeNotifySocket(
  env: Record<string, string>,
  unset: (name: string) => void,
): string | null {
  const path = env[NOTIFY_SOCKET_ENV];
  if (path === undefined || path === "") return null;
  unset(NOTIFY_SOCKET_ENV);
  return path;
}

const CLOCK_MONOTONIC = 1;

/** `struct sockaddr_un` for `path` (`@name`: the abstract namespace); throws when too long. */
export function notifyAddress(path: string): Uint8Array<ArrayBuffer> {
  return unixAddress(path, "NOTIFY_SOCKET");
}

/** Opens the notifier; see the module comment. */
export function openNotifier(path: string): Notifier {
  const socket = openUnixDatagram(path, "NOTIFY_SOCKET");
  let clock;
  try {
    clock = Deno.dlopen(Deno.build.os === "linux" ? "libc.so.6" : "libc.dylib", {
      clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
    });
  } catch (err) {
    socket.close();
    throw err;
  }
  const monotonicUsec = (): bigint => {
    const ts = new BigInt64Array(2);
    clock.symbols.clock_gettime(CLOCK_MONOTONIC, ts);
    return ts[0] * 1_000_000n + ts[1] / 1000n;
  };
  let open = true;
  return {
    ready() {
      this.notify(NOTIFY_READY);
    },
    stopping() {
      this.notify(NOTIFY_STOPPING);
    },
    notify(state) {
      if (!open) return;
      const text = state.includes(NOTIFY_RELOADING)
        ? `${state}\nMONOTONIC_USEC=${monotonicUsec()}`
        : state;
      socket.send(new TextEncoder().encode(text));
    },
    close() {
      if (!open) return;
      open = false;
      socket.close();
      clock.close();
    },
  };
}

/** `takeNotifySocket` and `openNotifier` for a server process; see the module comment. */
export function notifierFromEnv(
  env: Record<string, string>,
  unset: (name: string) => void,
  log: Logger,
): Notifier | null {
  const path = takeNotifySocket(env, unset);
  if (path === null) return null;
  try {
    return openNotifier(path);
  } catch (err) {
    log.log(
      "warning",
      `NOTIFY_SOCKET=${path} is set but cannot be used: ${(err as Error).message}`,
    );
    return null;
  }
}

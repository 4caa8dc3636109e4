/**
 * SIGUSR1 must not open a debugger. Since 2.9.2, Deno answers SIGUSR1 by starting its V8
 * inspector on 127.0.0.1:9229, as Node does. An inspector has no authentication: any local user
 * who can connect to that port can run code inside the server. Operators send USR1 by habit,
 * because gunicorn reopens its log files on it and many logrotate recipes do so. lsbaws's log
 * files follow rotation without a signal (`server/log.ts`), so every lsbaws process ignores it.
 *
 * Contract:
 * - `ignoreSigusr1(io)` makes the kernel discard SIGUSR1 for this process and resolves to null;
 *   else it resolves to the reason it could not, and the process keeps Deno's behaviour:
 *   - not Linux (signal numbers differ elsewhere);
 *   - FFI not permitted;
 *   - the C library's `signal` could not be called.
 *   The order matters and is checked by `tests/server/process/inspector_signal_test.ts`. Deno
 *   installs its own OS-level handler for a signal the first time anything subscribes to it, and
 *   never again; the inspector subscribes only after a 500 ms grace period. So a no-op
 *   `Deno.addSignalListener("SIGUSR1")` comes first: it installs that handler now. Only then
 *   does `signal(SIGUSR1, SIG_IGN)` replace the disposition, which Deno's later subscription
 *   does not touch. Called the other way round, the inspector's subscription would install the
 *   handler over SIG_IGN. The listener stays for the life of the process.
 * - `io` abstracts the process (tests pass fakes). Two real ones: `LIBC_SIGNAL_IO` calls `signal`
 *   through the libc backend's bindings (for processes that serve with that backend: they load
 *   them anyway), `PROCESS_SIGNAL_IO` through a handle of its own (for the `deno` backend).
 */

import { loadLibc, signalOnce } from "../libc/ffi.ts";

/** SIGUSR1 on Linux (x86-64 and AArch64). */
const SIGUSR1 = 10;
/** `SIG_IGN`. */
const SIG_IGN = 1n;
/** `SIG_ERR`: `(void (*)(int)) -1`. */
const SIG_ERR = 0xffff_ffff_ffff_ffffn;

/** What `ignoreSigusr1` needs from the process. */
export interface SignalIo {
  /** `Deno.build.os`. */
  readonly os: string;
  /** The FFI permission's state. */
  ffiPermission(): Deno.PermissionState;
  /** Subscribes a listener to SIGUSR1 (it is never removed). */
  listen(): void;
  /** Calls the C library's `signal(SIGUSR1, SIG_IGN)`; resolves to the previous disposition. */
  ignore(): Promise<bigint>;
}

/** The real process, calling `signal` through `call`. */
function processIo(call: () => Promise<bigint>): SignalIo {
  return {
    os: Deno.build.os,
    ffiPermission: () => Deno.permissions.querySync({ name: "ffi" }).state,
    listen: () => Deno.addSignalListener("SIGUSR1", () => {}),
    ignore: call,
  };
}

/**
 * The real process, through the libc backend's bindings (`loadLibc`, loaded once per process):
 * for a process that serves with that backend, this adds one symbol to a library it loads anyway.
 */
export const LIBC_SIGNAL_IO: SignalIo = processIo(() => {
  const loaded = loadLibc();
  if (!loaded.ok) return Promise.reject(new Error(loaded.reason));
  const signal = loaded.libc.sym.signal;
  if (signal === null) return Promise.reject(new Error("the C library has no signal()"));
  return Promise.resolve(BigInt(signal(SIGUSR1, SIG_IGN)));
});

/**
 * The real process, through a handle of its own (`signalOnce`): for a process on the `deno`
 * backend, which would otherwise not load the backend's bindings at all.
 */
export const PROCESS_SIGNAL_IO: SignalIo = processIo(() => signalOnce(SIGUSR1, SIG_IGN));

/** Makes this process ignore SIGUSR1 (see the module comment); null, or why it could not. */
export async function ignoreSigusr1(io: SignalIo = PROCESS_SIGNAL_IO): Promise<string | null> {
  if (io.os !== "linux") return `not Linux (${io.os})`;
  let state: Deno.PermissionState;
  try {
    state = io.ffiPermission();
  } catch (err) {
    return `cannot query the FFI permission: ${String(err)}`;
  }
  if (state !== "granted") return "FFI not permitted";
  try {
    io.listen();
    const previous = await io.ignore();
    if (previous === SIG_ERR) return "signal(SIGUSR1, SIG_IGN) failed";
  } catch (err) {
    return `cannot call signal(): ${err instanceof Error ? err.message : String(err)}`;
  }
  return null;
}

/**
 * `--initgroups`: a worker started as root switches itself to the workers' identity, taking the
 * user's supplementary groups on the way (gunicorn's `--initgroups`, which calls
 * `os.initgroups` in the forked worker). Deno's process API starts a child under a uid and gid
 * but clears its supplementary groups, so this is the only way to keep them.
 *
 * Contract:
 * - `parseWorkerIdentity(value)` reads `LSBAWS_WORKER_IDENTITY` (`<uid>:<gid>`, decimal ids);
 *   anything else is null.
 * - `takeIdentity({uid, gid})` runs in the worker before it reads the app, binds or opens a log:
 *   it looks the user's name up by uid (`getpwuid(3)`, so NSS sources such as LDAP count),
 *   calls `initgroups(3)` with that name and `gid`, then `setgid(2)` and `setuid(2)`, all through
 *   glibc, whose wrappers apply each change to every thread of the process (Deno's runtime and
 *   V8 run several). It then checks that the real and effective ids are the new ones and that
 *   root cannot be taken back (`setuid(0)` fails).
 * - Every failure throws `PrivilegeError` with a message naming the call and its errno; the
 *   worker then exits with the boot error code before serving anything. It needs Linux and glibc.
 */

import { LibcError } from "../libc/ffi.ts";
import { MAX_ID } from "./identity.ts";

/** Why the worker could not switch identity; the message names the call that failed. */
export class PrivilegeError extends Error {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "PrivilegeError";
  }
}

/** The identity a worker takes: numeric user and group ids. */
export interface WorkerIdentity {
  /** User id. */
  readonly uid: number;
  /** Primary group id. */
  readonly gid: number;
}

/** Parses `LSBAWS_WORKER_IDENTITY`; see the module comment. */
export function parseWorkerIdentity(value: string | undefined): WorkerIdentity | null {
  const m = /^([0-9]{1,10}):([0-9]{1,10})$/.exec(value ?? "");
  if (m === null) return null;
  const uid = Number(m[1]);
  const gid = Number(m[2]);
  return uid <= MAX_ID && gid <= MAX_ID ? { uid, gid } : null;
}

const SYMBOLS = {
  getpwuid: { parameters: ["u32"], result: "pointer" },
  initgroups: { parameters: ["buffer", "u32"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  getegid: { parameters: [], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** Switches this process to `id` with the user's groups; see the module comment. */
export function takeIdentity(id: WorkerIdentity): void {
  if (Deno.build.os !== "linux") throw new PrivilegeError("--initgroups needs Linux");
  let lib;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (err) {
    throw new PrivilegeError(`--initgroups needs glibc: ${(err as Error).message}`);
  }
  const c = lib.symbols;
  /** `call` failed: its errno, in `LibcError`'s words. */
  const failed = (call: string, detail: string): PrivilegeError => {
    const loc = c.__errno_location();
    const errno = loc === null ? 0 : new Deno.UnsafePointerView(loc).getInt32();
    return new PrivilegeError(new LibcError(call, errno, detail).message);
  };
  try {
    // struct passwd begins with `char *pw_name`.
    const pw = c.getpwuid(id.uid);
    const namePtr = pw === null ? null : new Deno.UnsafePointerView(pw).getPointer(0);
    if (namePtr === null) {
      throw new PrivilegeError(
        `uid ${id.uid} has no entry in the user database, so it has no groups to look up by name`,
      );
    }
    const user = Deno.UnsafePointerView.getCString(namePtr);
    const name = new TextEncoder().encode(user + "\0");
    if (c.initgroups(name, id.gid) !== 0) throw failed("initgroups", `${user}, gid ${id.gid}`);
    if (c.setgid(id.gid) !== 0) throw failed("setgid", `gid ${id.gid}`);
    if (c.setuid(id.uid) !== 0) throw failed("setuid", `uid ${id.uid}`);
    const now = [c.getuid(), c.geteuid(), c.getgid(), c.getegid()];
    if (now.join() !== [id.uid, id.uid, id.gid, id.gid].join()) {
      throw new PrivilegeError(
        `the ids are ${now.join(", ")} after the switch, not ${id.uid}/${id.gid}`,
      );
    }
    if (id.uid !== 0 && c.setuid(0) === 0) {
      throw new PrivilegeError("setuid(0) still succeeds after the switch");
    }
  } finally {
    lib.close();
  }
}

/**
 * Inherited listening sockets: the supervisor's own listeners, which its workers inherit, systemd
 * socket activation (the `sd_listen_fds` protocol), descriptors named by `--bind fd://N`, and the
 * descriptor list a worker is given.
 *
 * Contract:
 * - An `InheritedSocket` (declared in `server/libc/listen.ts`, which serves them) is a listening
 *   descriptor a process serves instead of binding, with the bind spec it reports (absent: the
 *   socket's own address).
 * - `takeListenFds(env, pid, unset)` reads socket activation as `sd_listen_fds` does: when
 *   `LISTEN_PID` equals `pid` and `LISTEN_FDS` is N, the descriptors are 3..3+N-1, named by the
 *   colon-separated `LISTEN_FDNAMES` when given. Null when the variables are absent or meant for
 *   another process. A malformed `LISTEN_FDS` (or `LISTEN_PID`) throws `ActivationError`. Whenever
 *   any of the three variables is present, `unset` is called for each of them (as
 *   `sd_listen_fds(1)` unsets them), so child processes never see them.
 * - `libcForInherited(io, tls)` is the libc bindings an inherited socket is served with: the
 *   deno backend cannot adopt a descriptor (`Deno.listen` only binds), so `--io deno`, TLS (served
 *   by the deno backend) or libc being unavailable throws `ActivationError` naming the reason.
 * - `encodeInherited` / `decodeInherited` carry a socket list in one environment variable (JSON);
 *   decoding anything else yields null.
 * - `SharedListeners` are the supervisor's listening sockets, opened once for the life of the
 *   supervisor: `bind(libc, specs, backlog)` binds every address through libc without
 *   close-on-exec (so `Deno.Command` children inherit each one under the same number; a unix
 *   path is published under a private name and renamed over the path, as
 *   `server/libc/listen.ts` does), or `adopt(libc, fds)` takes over socket-activated descriptors.
 *   `sockets` lists them for the workers. `close()` closes the supervisor's own descriptors
 *   (idempotent; a socket stays open while a worker holds it); `release()` closes them and
 *   removes every unix path `bind` created, if it still names that socket.
 * - The supervisor never accepts on these sockets.
 */
import { bindSpecOf, type ListenAddr } from "../address.ts";
import { chooseIo, type IoSetting } from "./backend.ts";
import { type Libc, toIoError } from "./ffi.ts";
import { type InheritedSocket, publishUnixSocket } from "./listen.ts";
import { removeUnixPathIfOurs } from "../unix_path.ts";
export type { InheritedSocket } from "./listen.ts";
import { adoptListenSocket, closeSocket, listenSocket } from "./socket.ts";

/** The first descriptor systemd passes (`SD_LISTEN_FDS_START`). */
export const SD_LISTEN_FDS_START = 3;

/** The socket activation variables, unset once read. */
export const ACTIVATION_ENV = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] as const;

/** Inherited sockets (socket activation, `--bind fd://N`) cannot be served; the message says why. */
export class ActivationError extends Error {
  /** Creates the error for `reason`, which `what` (default "socket activation") prefixes. */
  constructor(reason: string, what: string | null = "socket activation") {
    super(what === null ? reason : `${what}: ${reason}`);
    this.name = "ActivationError";
  }
}

/** Reads (and unsets) the socket activation variables; see the module comment. */
export function takeListenFds(
  env: Readonly<Record<string, string>>,
  pid: number,
  unset: (name: string) => void,
): InheritedSocket[] | null {
  const pidText = env.LISTEN_PID;
  const fdsText = env.LISTEN_FDS;
  const namesText = env.LISTEN_FDNAMES;
  if (pidText === undefined && fdsText === undefined && namesText === undefined) return null;
  for (const name of ACTIVATION_ENV) unset(name);
  if (pidText === undefined || fdsText === undefined) return null;
  if (!/^[1-9][0-9]*$/.test(pidText)) throw new ActivationError(`invalid LISTEN_PID '${pidText}'`);
  if (Number(pidText) !== pid) return null;
  if (!/^[0-9]+$/.test(fdsText) || Number(fdsText) > 1024) {
    throw new ActivationError(`invalid LISTEN_FDS '${fdsText}'`);
  }
  const n = Number(fdsText);
  if (n === 0) throw new ActivationError("LISTEN_FDS=0: no socket was passed");
  const names = namesText === undefined ? [] : namesText.split(":");
  const out: InheritedSocket[] = [];
  for (let i = 0; i < n; i++) {
    const name = names[i];
    out.push(name ? { fd: SD_LISTEN_FDS_START + i, name } : { fd: SD_LISTEN_FDS_START + i });
  }
  return out;
}

/** The libc bindings to serve inherited sockets with; see the module comment. */
export function libcForInherited(io: IoSetting, tls: boolean): Libc {
  let choice;
  try {
    choice = chooseIo(io, tls, []);
  } catch (err) {
    throw new ActivationError(
      `inherited sockets need the libc backend: ${err instanceof Error ? err.message : err}`,
      null,
    );
  }
  if (choice.kind === "libc") return choice.libc;
  throw new ActivationError(
    "inherited sockets need the libc backend (the deno backend cannot adopt a descriptor: " +
      `Deno.listen only binds), but ${choice.why ?? "--io deno is set"}`,
    null,
  );
}

/** The JSON form of a socket list (one environment variable). */
export function encodeInherited(sockets: readonly InheritedSocket[]): string {
  return JSON.stringify(sockets.map((s) => (s.bind === undefined ? { fd: s.fd } : s)));
}

/** Parses `encodeInherited`'s output; null for anything else. */
export function decodeInherited(text: string | undefined): InheritedSocket[] | null {
  if (!text) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return null;
  const out: InheritedSocket[] = [];
  for (const v of parsed) {
    if (typeof v !== "object" || v === null) return null;
    const { fd, bind } = v as { fd?: unknown; bind?: unknown };
    if (!Number.isSafeInteger(fd) || (fd as number) < 0) return null;
    if (bind !== undefined && typeof bind !== "string") return null;
    out.push(bind === undefined ? { fd: fd as number } : { fd: fd as number, bind });
  }
  return out;
}

/** The supervisor's listening sockets; see the module comment. */
export class SharedListeners {
  /** The sockets, in order, as workers get them. */
  readonly sockets: readonly InheritedSocket[];
  readonly #libc: Libc;
  /** Unix paths `bind` published, with the inode each names. */
  readonly #paths: readonly { path: string; inode: number | null }[];
  #open = true;

  private constructor(
    libc: Libc,
    sockets: InheritedSocket[],
    paths: { path: string; inode: number | null }[],
  ) {
    this.#libc = libc;
    this.sockets = sockets;
    this.#paths = paths;
  }

  /**
   * Binds every address (inheritable, nonblocking); if one fails, the ones already bound are
   * closed (and their unix paths removed) and the error propagates as a `Deno.errors` class.
   */
  static async bind(
    libc: Libc,
    specs: readonly ListenAddr[],
    backlog: number,
  ): Promise<SharedListeners> {
    const opts = { backlog, inheritable: true };
    const sockets: InheritedSocket[] = [];
    const paths: { path: string; inode: number | null }[] = [];
    try {
      for (const spec of specs) {
        if (spec.transport === "unix") {
          const { fd, inode } = await publishUnixSocket(
            libc,
            spec.path,
            opts,
            spec.mode,
            spec.owner,
          );
          sockets.push({ fd, bind: `unix:${spec.path}` });
          paths.push({ path: spec.path, inode });
        } else {
          const { fd, addr } = listenSocket(libc, spec, opts);
          sockets.push({ fd, bind: bindSpecOf(addr) });
        }
      }
    } catch (err) {
      new SharedListeners(libc, sockets, paths).release();
      throw toIoError(err);
    }
    return new SharedListeners(libc, sockets, paths);
  }

  /**
   * Takes over socket-activated descriptors (kept inheritable); throws `InheritedSocketError`
   * naming the first one that is not a listening stream socket.
   */
  static adopt(libc: Libc, fds: readonly InheritedSocket[]): SharedListeners {
    const sockets = fds.map((s) => {
      const bind = bindSpecOf(adoptListenSocket(libc, s.fd, false));
      return s.name === undefined ? { fd: s.fd, bind } : { fd: s.fd, bind, name: s.name };
    });
    return new SharedListeners(libc, sockets, []);
  }

  /** Closes the supervisor's descriptors (idempotent). */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const s of this.sockets) closeSocket(this.#libc, s.fd);
  }

  /** Closes the descriptors and removes the unix paths `bind` published (idempotent). */
  release(): void {
    this.close();
    for (const p of this.#paths) removeUnixPathIfOurs(p.path, p.inode);
  }
}

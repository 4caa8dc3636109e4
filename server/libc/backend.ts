/**
 * Choosing the socket backend (`--io auto|libc|deno`).
 *
 * Contract:
 * - `chooseIo(io, tls, specs)` returns `{ kind: "libc", libc }` or `{ kind: "deno", why }`:
 *   - `deno`: always the Deno backend (`why` null).
 *   - `auto`: libc when it can serve every listen address: Linux, FFI permitted, libc loads, no
 *     TLS (`--certfile` is served by the Deno backend) and only IP-literal hosts (the libc backend
 *     does not resolve names). Otherwise Deno, with `why` saying why (the caller logs it once).
 *   - `libc`: as `auto`, but a reason to fall back throws `IoBackendError` naming it (the CLI
 *     reports it as a boot error).
 */
import { type Libc, loadLibc, type LoadResult } from "./ffi.ts";
import { encodeSockaddr, SockaddrError, type SockaddrSpec } from "./sockaddr.ts";

/** The `--io` values. */
export type IoSetting = "auto" | "libc" | "deno";

/** What `chooseIo` picked. */
export type IoChoice = { kind: "libc"; libc: Libc } | { kind: "deno"; why: string | null };

/** `--io libc` cannot be honoured; the message names the reason. */
export class IoBackendError extends Error {
  /** Creates the error for `reason`. */
  constructor(reason: string) {
    super(`--io libc: ${reason}`);
    this.name = "IoBackendError";
  }
}

/** Picks the backend; see the module comment. `load` is injectable for tests. */
export function chooseIo(
  io: IoSetting,
  tls: boolean,
  specs: readonly SockaddrSpec[],
  load: () => LoadResult = loadLibc,
): IoChoice {
  if (io === "deno") return { kind: "deno", why: null };
  let reason: string | null = tls ? "TLS (--certfile) is served by the deno backend" : null;
  let libc: Libc | null = null;
  if (reason === null) {
    const r = load();
    if (r.ok) libc = r.libc;
    else reason = r.reason;
  }
  if (reason === null) {
    for (const spec of specs) {
      try {
        encodeSockaddr(spec);
      } catch (err) {
        if (!(err instanceof SockaddrError)) throw err;
        reason = err.message;
        break;
      }
    }
  }
  if (reason === null && libc !== null) return { kind: "libc", libc };
  if (io === "libc") throw new IoBackendError(reason ?? "unavailable");
  return { kind: "deno", why: reason };
}

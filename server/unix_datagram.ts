/**
 * Datagrams to a unix socket path that this process did not bind: systemd's notification socket
 * and the local syslog socket (`/dev/log`). Deno can send on a unix datagram socket only from a
 * path it bound itself and cannot reach the abstract namespace, so this goes through the C
 * library (FFI): `socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC)` and `sendto` with `MSG_NOSIGNAL` and
 * `MSG_DONTWAIT`.
 *
 * Contract:
 * - `unixAddress(path, what)` is the `struct sockaddr_un` for `path`; `@name` is the abstract
 *   namespace (a NUL, then the name, no NUL after). Longer than 107 bytes throws, naming `what`.
 * - `openUnixDatagram(path, what)` opens one unbound socket and returns a sender; it throws when
 *   the C library cannot be used (no FFI permission, not Linux or macOS) or the socket cannot be
 *   made. `send` never throws and never waits: it returns whether the kernel took the datagram (a
 *   reader that is gone, or a full queue, as when a syslog daemon is stuck, loses it; the caller
 *   decides whether that matters), so a reader that stopped reading cannot stall the server. The
 *   socket is close-on-exec, so workers do not inherit it.
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;

/** `struct sockaddr_un` for `path`; see the module comment. */
export function unixAddress(path: string, what: string): Uint8Array<ArrayBuffer> {
  const abstract = path.startsWith("@");
  const name = new TextEncoder().encode(abstract ? path.slice(1) : path);
  if (name.length > 107) throw new Error(`${what} is too long for a unix socket: ${path}`);
  // family (2 bytes, little-endian), then the path (abstract: a NUL, then the name, no NUL after).
  const out = new Uint8Array(2 + (abstract ? 1 : 0) + name.length + (abstract ? 0 : 1));
  out[0] = AF_UNIX;
  out.set(name, abstract ? 3 : 2);
  return out;
}

/** Sends datagrams to one unix socket path. */
export interface UnixDatagram {
  /** Sends `bytes` as one datagram; whether the kernel took it. Never throws. */
  send(bytes: Uint8Array<ArrayBuffer>): boolean;
  /** Closes the socket (idempotent). */
  close(): void;
}

/** Opens a sender to `path`; see the module comment. */
export function openUnixDatagram(path: string, what: string): UnixDatagram {
  const address = unixAddress(path, what);
  const lib = Deno.dlopen(Deno.build.os === "linux" ? "libc.so.6" : "libc.dylib", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    sendto: {
      parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
      result: "isize",
    },
    close: { parameters: ["i32"], result: "i32" },
  });
  const fd = lib.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    lib.close();
    throw new Error(`cannot create a unix datagram socket for ${what}`);
  }
  let open = true;
  return {
    send(bytes) {
      if (!open) return false;
      const n = lib.symbols.sendto(
        fd,
        bytes,
        BigInt(bytes.length),
        MSG_NOSIGNAL | MSG_DONTWAIT,
        address,
        address.length,
      );
      return n >= 0;
    },
    close() {
      if (!open) return;
      open = false;
      lib.symbols.close(fd);
      lib.close();
    },
  };
}

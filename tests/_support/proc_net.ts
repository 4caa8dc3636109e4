/**
 * Test support: the TCP sockets of the whole machine, as `/proc/net/tcp` and `/proc/net/tcp6`
 * list them (tcp6 is skipped where the kernel has no IPv6).
 *
 * Contract: `tcpSockets()` returns one entry per line: the local port and whether the socket is
 * listening (state `0A`).
 */

/** One socket of `/proc/net/tcp{,6}`. */
export interface TcpSocket {
  /** Local port. */
  readonly localPort: number;
  /** State `0A` (LISTEN). */
  readonly listening: boolean;
}

/** Every TCP socket on the machine; see the module comment. */
export function tcpSockets(): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      out.push({ localPort: parseInt(f[1].split(":").pop()!, 16), listening: f[3] === "0A" });
    }
  }
  return out;
}

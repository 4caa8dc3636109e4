/**
 * Test support: a TCP syslog collector on loopback that reads RFC 6587 octet-counted frames
 * (`LEN SP MESSAGE`), as rsyslog's imtcp does.
 *
 * Contract: `startTcpCollector()` listens on 127.0.0.1 (port 0) and accepts any number of
 * connections; `messages` holds every frame received, decoded as UTF-8, in arrival order;
 * `connections` counts the connections accepted; `dropConnections()` closes the accepted ones
 * (the collector restarting); `stop()` closes the listener and the connections. A frame whose
 * length prefix is not decimal digits followed by one space records an entry in `errors`, never
 * a message.
 */

/** A running collector. */
export interface TcpCollector {
  /** The port it listens on. */
  readonly port: number;
  /** Frames received, in order. */
  readonly messages: string[];
  /** Framing errors seen (should stay empty). */
  readonly errors: string[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Closes the connections accepted so far (the listener stays). */
  dropConnections(): void;
  /** Closes everything. */
  stop(): void;
}

/** Starts a collector on `port` (0: any free one); see the module comment. */
export function startTcpCollector(port = 0): TcpCollector {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const messages: string[] = [];
  const errors: string[] = [];
  const open = new Set<Deno.Conn>();
  let connections = 0;
  const serve = async (conn: Deno.Conn) => {
    let pending = new Uint8Array(0);
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        const next = new Uint8Array(pending.length + n);
        next.set(pending);
        next.set(buf.subarray(0, n), pending.length);
        pending = next;
        for (;;) {
          const sp = pending.indexOf(0x20);
          if (sp < 0) break;
          const digits = new TextDecoder().decode(pending.subarray(0, sp));
          if (!/^[1-9]\d*$/.test(digits)) {
            errors.push(`bad length prefix ${JSON.stringify(digits)}`);
            return;
          }
          const len = Number(digits);
          if (pending.length < sp + 1 + len) break;
          messages.push(new TextDecoder().decode(pending.subarray(sp + 1, sp + 1 + len)));
          pending = pending.slice(sp + 1 + len);
        }
      }
    } catch {
      // closed by dropConnections or stop
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  (async () => {
    try {
      for await (const conn of listener) {
        connections++;
        open.add(conn);
        serve(conn);
      }
    } catch {
      // listener closed
    }
  })();
  const dropConnections = () => {
    for (const c of open) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    open.clear();
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    messages,
    errors,
    get connections() {
      return connections;
    },
    dropConnections,
    stop() {
      try {
        listener.close();
      } catch {
        // already closed
      }
      dropConnections();
    },
  };
}

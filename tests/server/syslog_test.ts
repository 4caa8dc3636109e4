/**
 * `--syslog` (gunicorn's `--log-syslog`): the address and facility grammar, the message format
 * (PRI, the syslog(3) time stamp, TAG[PID], cutting), and real processes: `-w 2` sending to a UDP
 * socket the test binds on loopback, where the supervisor and each worker send their own lines
 * under their own pids, an app error arrives at severity 3 with its stack in one message and each
 * access line is a message of its own (none with `--no-syslog-access`); a single process sending
 * to a unix datagram socket, its access line too although `--access-log` is off; a daemon that
 * stops reading; and the errors: a
 * bad value is exit 2, a unix path with no socket exit 3.
 */
import assert from "node:assert/strict";
import {
  MAX_MESSAGE_BYTES,
  MAX_QUEUE_BYTES,
  octetCounted,
  openSyslog,
  parseFacility,
  parseSyslogTarget,
  syslogMessage,
} from "../../server/syslog.ts";
import { collectDatagrams } from "../_support/datagrams.ts";
import { startTcpCollector, type TcpCollector } from "../_support/syslog_tcp.ts";
import { type Proc, startLsbaws } from "../_support/proc.ts";

Deno.test("--syslog-addr: unix paths (abstract too), udp and tcp hosts with the default port 514", () => {
  assert.deepEqual(parseSyslogTarget("unix:///dev/log"), { kind: "unix", path: "/dev/log" });
  assert.deepEqual(parseSyslogTarget("unix:/run/log"), { kind: "unix", path: "/run/log" });
  assert.deepEqual(parseSyslogTarget("unix:@syslog"), { kind: "unix", path: "@syslog" });
  assert.deepEqual(parseSyslogTarget("udp://logs.internal"), {
    kind: "udp",
    hostname: "logs.internal",
    port: 514,
  });
  assert.deepEqual(parseSyslogTarget("udp://127.0.0.1:5514"), {
    kind: "udp",
    hostname: "127.0.0.1",
    port: 5514,
  });
  assert.deepEqual(parseSyslogTarget("udp://[::1]:10514"), {
    kind: "udp",
    hostname: "::1",
    port: 10514,
  });
  assert.deepEqual(parseSyslogTarget("tcp://logs.internal"), {
    kind: "tcp",
    hostname: "logs.internal",
    port: 514,
  });
  assert.deepEqual(parseSyslogTarget("tcp://[::1]:6514"), {
    kind: "tcp",
    hostname: "::1",
    port: 6514,
  });
  for (
    const bad of [
      "",
      "/dev/log",
      "unix:",
      "unix:relative",
      "tcp://",
      "tcp://h:0",
      "tls://h:6514",
      "udp://",
      "udp://h:0",
      "udp://h:70000",
      "udp://a b",
    ]
  ) {
    assert.throws(
      () => parseSyslogTarget(bad),
      /^Error: --syslog-addr must be unix:\/\/\/PATH/,
      bad,
    );
  }
});

Deno.test("--syslog-facility: syslog(3)'s names and numbers", () => {
  assert.equal(parseFacility("user"), 1);
  assert.equal(parseFacility("daemon"), 3);
  assert.equal(parseFacility("local0"), 16);
  assert.equal(parseFacility("local7"), 23);
  for (const bad of ["", "USER", "local8", "constructor", "toString"]) {
    assert.throws(() => parseFacility(bad), /--syslog-facility must be one of kern, user/, bad);
  }
});

Deno.test("a message: <PRI>Mmm dd hh:mm:ss TAG[PID]: text, cut at a character boundary", () => {
  const at = new Date(2026, 11, 7, 9, 5, 3); // local time, as syslog(3) writes it
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(
    text(syslogMessage(1, "info", at, "lsbaws", 42, "hi")),
    "<14>Dec  7 09:05:03 lsbaws[42]: hi",
  );
  assert.equal(
    text(syslogMessage(19, "error", new Date(2026, 0, 17, 23, 59, 59), "shop", 7, "a\n  at b")),
    "<155>Jan 17 23:59:59 shop[7]: a\n  at b",
    "local3 * 8 + 3; a stack stays one message",
  );
  assert.match(text(syslogMessage(0, "critical", at, "t", 1, "")), /^<2>/);
  assert.match(text(syslogMessage(23, "debug", at, "t", 1, "")), /^<191>/);
  assert.match(text(syslogMessage(1, "warning", at, "t", 1, "")), /^<12>/);
  const long = syslogMessage(1, "info", at, "t", 1, "é".repeat(MAX_MESSAGE_BYTES));
  assert.ok(long.length <= MAX_MESSAGE_BYTES && long.length >= MAX_MESSAGE_BYTES - 1);
  assert.ok(text(long).endsWith("é"), "no half character at the end");
});

const MESSAGE = /^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([\w.\/-]+)\[(\d+)\]: ([^]*)$/;

/**
 * Collects what a server sends to `transport` on loopback until `stopped` resolves; `live` fills
 * as messages arrive.
 */
function loopbackCollector(
  transport: "udp" | "tcp",
  stopped: Promise<void>,
): { port: number; live: readonly string[]; received: Promise<string[]> } {
  if (transport === "udp") {
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const live: string[] = [];
    const received = collectDatagrams(sock, stopped, live);
    return { port: (sock.addr as Deno.NetAddr).port, live, received };
  }
  const tcp = startTcpCollector();
  const received = stopped.then(async () => {
    await new Promise((r) => setTimeout(r, 300)); // late sends of a stopping process
    tcp.stop();
    assert.deepEqual(tcp.errors, [], "every frame octet-counted");
    return tcp.messages;
  });
  return { port: tcp.port, live: tcp.messages, received };
}

for (
  const [transport, access] of [["udp", true], ["udp", false], ["tcp", true]] as const
) {
  Deno.test(`-w 2 --syslog over ${transport.toUpperCase()}${access ? "" : " --no-syslog-access"}: each process sends its own lines; errors at severity 3; access lines ${access ? "at 6" : "kept out"}`, async () => {
    const stopped = Promise.withResolvers<void>();
    const { port, live, received } = loopbackCollector(transport, stopped.promise);
    const p = await startLsbaws([
      "-w",
      "2",
      "-p",
      "0",
      "--access-log",
      "-",
      "--syslog",
      "--syslog-addr",
      `${transport}://127.0.0.1:${port}`,
      "--syslog-facility",
      "local3",
      "--syslog-tag",
      "shop",
      ...(access ? [] : ["--no-syslog-access"]),
      "apps/error.ts:app",
    ]);
    let workers: number[] = [];
    let requests = 0;
    try {
      await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length === 2, "2 workers");
      workers = p.workers();
      // New connections go to whichever worker accepts first, so one may take a run of them:
      // requests go on (in sixes, up to 60) until both workers have logged an error.
      const served = () => new Set(live.map((m) => MESSAGE.exec(m)?.[3]).map(Number));
      while (requests < 6 || (!workers.every((w) => served().has(w)) && requests < 60)) {
        for (let i = 0; i < 6; i++, requests++) {
          const res = await fetch(`http://127.0.0.1:${p.port()}/before`, {
            headers: { Connection: "close" },
          });
          await res.body?.cancel();
          assert.equal(res.status, 500);
        }
        await new Promise((r) => setTimeout(r, 50)); // the workers' messages on their way
      }
    } finally {
      assert.equal((await p.stop()).code, 0);
      stopped.resolve();
    }
    const parsed = (await received).map((m) => {
      const hit = MESSAGE.exec(m);
      assert.ok(hit, `not a syslog message: ${JSON.stringify(m)}`);
      return { pri: Number(hit[1]), tag: hit[2], pid: Number(hit[3]), text: hit[4] };
    });
    assert.ok(parsed.every((m) => m.tag === "shop"));
    const from = (pid: number) => parsed.filter((m) => m.pid === pid);
    assert.ok(
      from(p.pid).some((m) => m.pri === 19 * 8 + 6 && /is ready/.test(m.text)),
      "the supervisor's own info lines, under its pid",
    );
    const errors = parsed.filter((m) => m.pri === 19 * 8 + 3);
    assert.equal(errors.length, requests, "one error message per failed request");
    assert.ok(errors.every((m) => workers.includes(m.pid)), "sent by the workers themselves");
    assert.ok(
      errors.every((m) => /boom before startResponse[^]*\n\s+at /.test(m.text)),
      "with the stack",
    );
    for (const w of workers) assert.ok(from(w).length > 0, `worker ${w} sent`);
    const accessLines = parsed.filter((m) => /"GET \/before HTTP\/1\.1" 500/.test(m.text));
    if (access) {
      assert.equal(accessLines.length, requests, "one access message per request");
      assert.ok(accessLines.every((m) => m.pri === 19 * 8 + 6 && workers.includes(m.pid)));
      assert.ok(accessLines.every((m) => !m.text.includes("\n")), "one line each");
    } else assert.deepEqual(accessLines, [], "no access lines");
    assert.ok(
      p.out.some((l) => /"GET \/before HTTP\/1\.1" 500/.test(l)),
      "the access log still on stdout",
    );
  });
}

/** A single process logging to the unix datagram socket at `path`; its `/before` throws. */
function syslogServer(path: string): Promise<Proc> {
  return startLsbaws(["-p", "0", "--syslog", "--syslog-addr", `unix://${path}`, ERROR_APP]);
}

const ERROR_APP = "apps/error.ts:app";

Deno.test("--syslog to a unix datagram socket: a single process's lines arrive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-syslog-" });
  const path = `${dir}/log`;
  const sock = Deno.listenDatagram({ transport: "unixpacket", path });
  const stopped = Promise.withResolvers<void>();
  const received = collectDatagrams(sock, stopped.promise);
  const p = await syslogServer(path);
  try {
    const res = await fetch(`http://127.0.0.1:${p.port()}/before`);
    await res.body?.cancel();
  } finally {
    assert.equal((await p.stop()).code, 0);
    stopped.resolve();
  }
  const messages = await received;
  await Deno.remove(dir, { recursive: true });
  const pri = (m: string) => Number(MESSAGE.exec(m)?.[1]);
  assert.ok(
    messages.every((m) =>
      MESSAGE.exec(m)?.[2] === "lsbaws" && MESSAGE.exec(m)?.[3] === String(p.pid)
    ),
  );
  assert.ok(
    messages.some((m) => pri(m) === 8 + 6 && /shutting down gracefully/.test(m)),
    "user.info",
  );
  assert.ok(
    messages.some((m) => pri(m) === 8 + 3 && /boom before startResponse/.test(m)),
    "user.err",
  );
  assert.equal(
    messages.filter((m) => pri(m) === 8 + 6 && /"GET \/before HTTP\/1\.1" 500/.test(m)).length,
    1,
    "the access line, although --access-log is off (as in gunicorn)",
  );
});

Deno.test("a bad --syslog-* value is exit 2; a unix path with no socket or a TCP collector that refuses is exit 3", async () => {
  const cases: [string[], number, RegExp][] = [
    [["--syslog-addr", "tls://127.0.0.1:514"], 2, /lsbaws: error: --syslog-addr must be/],
    [["--syslog-facility", "local9"], 2, /lsbaws: error: --syslog-facility must be one of/],
    [["--syslog-tag", "two words"], 2, /lsbaws: error: --syslog-tag must be/],
    [
      ["--syslog-addr", "unix:///nonexistent/log"],
      3,
      /lsbaws: cannot send to syslog: no syslog socket at \/nonexistent\/log/,
    ],
    [
      ["--syslog-addr", "unix:///etc/hostname"],
      3,
      /lsbaws: cannot send to syslog: \/etc\/hostname is not a socket/,
    ],
    [
      ["--syslog-addr", `tcp://127.0.0.1:${await closedPort()}`],
      3,
      /lsbaws: cannot send to syslog: cannot connect to 127\.0\.0\.1:\d+: /,
    ],
  ];
  for (const [flags, code, message] of cases) {
    const p = await startLsbaws(["--syslog", ...flags, "-p", "0", "apps/hello.ts:app"], {
      waitListening: false,
    });
    const status = await p.status;
    await p.stop();
    assert.equal(status.code, code, `${flags.join(" ")}: ${p.err.join("\n")}`);
    assert.match(p.err.join("\n"), message);
  }
});

Deno.test("a syslog daemon that stops reading cannot stall the server: messages are dropped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lsbaws-syslog-" });
  const path = `${dir}/log`;
  // Bound and never read: its queue fills after net.unix.max_dgram_qlen (10) messages.
  const stuck = Deno.listenDatagram({ transport: "unixpacket", path });
  const p = await syslogServer(path);
  try {
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`http://127.0.0.1:${p.port()}/before`, {
        signal: AbortSignal.timeout(10_000),
      });
      await res.body?.cancel();
      assert.equal(res.status, 500, `request ${i + 1}`);
    }
  } finally {
    assert.equal((await p.stop()).code, 0);
    stuck.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return Promise.resolve(port);
}

/** Waits until `check` holds (polling every 10 ms), failing after `ms`. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const TCP_OPTIONS = { facility: 1, tag: "t", pid: 9 };

/** Opens a TCP writer to `c`. */
function tcpWriter(c: TcpCollector) {
  return openSyslog({ kind: "tcp", hostname: "127.0.0.1", port: c.port }, TCP_OPTIONS);
}

Deno.test("octet counting: the byte length, a space, the message", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(text(octetCounted(new TextEncoder().encode("<14>hi"))), "6 <14>hi");
  assert.equal(text(octetCounted(new TextEncoder().encode("é\nx"))), "4 é\nx", "bytes, not chars");
});

Deno.test("--syslog over TCP: frames arrive in order, a stack stays one, close() sends the queue", async () => {
  const c = startTcpCollector();
  try {
    const w = await tcpWriter(c);
    w.log("error", "boom\n    at f (x.ts:1:1)");
    for (let i = 0; i < 200; i++) w.log("info", `line ${i}`);
    w.lines("access a\naccess b\n");
    await w.close(); // right away: what is queued still goes out
    await until(() => c.messages.length === 203, "203 frames");
    assert.deepEqual(c.errors, []);
    assert.match(c.messages[0], /^<11>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d t\[9\]: boom\n {4}at f/);
    for (let i = 0; i < 200; i++) {
      assert.match(c.messages[1 + i], new RegExp(`^<14>.*: line ${i}$`));
    }
    assert.match(c.messages[201], /: access a$/);
    assert.match(c.messages[202], /: access b$/);
    w.log("info", "after close");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.messages.length, 203, "nothing is sent after close()");
    assert.equal(c.connections, 1);
  } finally {
    c.stop();
  }
});

Deno.test("--syslog over TCP: when the collector closes the connection, the next message connects again", async () => {
  const c = startTcpCollector();
  try {
    const w = await tcpWriter(c);
    w.log("info", "first");
    await until(() => c.messages.length === 1, "the first frame");
    c.dropConnections(); // the collector restarts its connections
    await new Promise((r) => setTimeout(r, 100)); // the writer sees the end of its connection
    w.log("info", "second");
    await until(() => c.messages.length === 2, "the second frame, on a new connection");
    assert.equal(c.connections, 2);
    assert.match(c.messages[1], /: second$/);
    await w.close();
  } finally {
    c.stop();
  }
});

Deno.test("--syslog over TCP: while the collector is away the queue is bounded; the drops are reported once it is back", async () => {
  let c = startTcpCollector();
  const port = c.port;
  const w = await tcpWriter(c);
  try {
    c.stop(); // listener and connection gone
    await new Promise((r) => setTimeout(r, 100));
    const big = "x".repeat(MAX_MESSAGE_BYTES - 100);
    const total = 300; // ~2.3 MiB framed: more than MAX_QUEUE_BYTES
    for (let i = 0; i < total; i++) w.log("info", `${i} ${big}`);
    c = startTcpCollector(port); // back; the writer's retry (after 1 s) finds it
    await until(() => c.messages.length > 0, "the writer to connect again", 15_000);
    const note = /(\d+) syslog messages were dropped while 127\.0\.0\.1:\d+ could not be reached$/
      .exec(c.messages[0]);
    assert.ok(note, `the first message reports the drops: ${c.messages[0].slice(0, 120)}`);
    assert.match(c.messages[0], /^<12>/, "at warning");
    const dropped = Number(note[1]);
    const sent = total - dropped;
    assert.ok(dropped > 0 && sent * MAX_MESSAGE_BYTES > MAX_QUEUE_BYTES / 2, `dropped ${dropped}`);
    assert.ok(sent * (MAX_MESSAGE_BYTES - 100) <= MAX_QUEUE_BYTES, `at most the bound queued`);
    await until(() => c.messages.length === 1 + sent, `${sent} queued frames`);
    for (let i = 0; i < sent; i++) {
      assert.ok(c.messages[1 + i].includes(`: ${i} xxx`), `frame ${i} in order`);
    }
    assert.deepEqual(c.errors, []);
  } finally {
    await w.close();
    c.stop();
  }
});

Deno.test("--syslog over TCP: a collector that is not there at start is an error", async () => {
  const port = await closedPort();
  await assert.rejects(
    openSyslog({ kind: "tcp", hostname: "127.0.0.1", port }, TCP_OPTIONS),
    new RegExp(`^Error: cannot connect to 127\\.0\\.0\\.1:${port}: `),
  );
});

Deno.test("--syslog over TCP: a collector that stops reading cannot stall the server or its stop", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) accepted.push(c); // accepted, never read
  })().catch(() => {});
  const w = await openSyslog(
    { kind: "tcp", hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
    TCP_OPTIONS,
  );
  try {
    const big = "y".repeat(MAX_MESSAGE_BYTES - 100);
    // 32 MiB, far more than the kernel buffers between the two ends hold: writes stop being
    // taken, the queue fills and later messages are dropped, while log() returns at once.
    for (let i = 0; i < 4096; i++) {
      w.log("info", big);
      if (i % 64 === 63) await new Promise((r) => setTimeout(r, 0));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("close() did not return")), 10_000);
    });
    try {
      await Promise.race([w.close(), hung]); // gives up on the stuck write after CLOSE_FLUSH_MS
    } finally {
      clearTimeout(timer);
    }
  } finally {
    listener.close();
    for (const c of accepted) c.close();
    await accepting;
  }
});

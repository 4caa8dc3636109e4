/**
 * StatsD (`--statsd-host`, `--statsd-prefix`, `--dogstatsd-tags`, as in gunicorn): the target,
 * prefix and tag checks, the line format, a client that aggregates counters and packs lines into
 * datagrams without splitting one, and real processes: `-w 2` sending to a UDP socket the test
 * listens on (loopback), whose datagrams must add up to exactly the requests made, by status,
 * with one duration per request, the error-log counter and the supervisor's worker gauge; a bad
 * value is exit 2.
 */
import assert from "node:assert/strict";
import { collectDatagrams } from "../_support/datagrams.ts";
import { startLsbaws } from "../_support/proc.ts";
import {
  MAX_PACKET_BYTES,
  normalisePrefix,
  parseStatsdPrefix,
  parseStatsdTags,
  parseStatsdTarget,
  StatsdClient,
  statsdLine,
} from "../../server/statsd.ts";

Deno.test("statsd settings: targets, prefixes and tags are checked", () => {
  assert.deepEqual(parseStatsdTarget("127.0.0.1:8125"), { hostname: "127.0.0.1", port: 8125 });
  assert.deepEqual(parseStatsdTarget("[::1]:9125"), { hostname: "::1", port: 9125 });
  assert.deepEqual(parseStatsdTarget("statsd.internal:8125"), {
    hostname: "statsd.internal",
    port: 8125,
  });
  for (const bad of ["8125", "host", "host:0", "host:65536", "[::1]", "a b:1", "::1:8125"]) {
    assert.throws(() => parseStatsdTarget(bad), /--statsd-host must be host:port/, bad);
  }
  assert.equal(parseStatsdTags("env:prod,team:web,canary"), "env:prod,team:web,canary");
  for (const bad of ["env:prod|x", "a b", "a,,b", "x#y", "a:b:c"]) {
    assert.throws(() => parseStatsdTags(bad), /--dogstatsd-tags/, bad);
  }
  assert.equal(parseStatsdPrefix("myapp.web"), "myapp.web");
  for (const bad of ["my app", "a:b", "a|b", "a\nb"]) {
    assert.throws(() => parseStatsdPrefix(bad), /--statsd-prefix/, bad);
  }
  assert.equal(normalisePrefix(""), "");
  assert.equal(normalisePrefix("app"), "app.");
  assert.equal(normalisePrefix("app."), "app.");
  assert.equal(statsdLine("a.b", 3, "c", "p.", ""), "p.a.b:3|c");
  assert.equal(statsdLine("t", 1.5, "ms", "", "env:x,k"), "t:1.5|ms|#env:x,k");
});

Deno.test("client: counters add up per flush, lines are packed whole into datagrams", () => {
  const packets: string[] = [];
  const c = new StatsdClient({ prefix: "app", tags: "" }, (p) => packets.push(p));
  for (let i = 0; i < 500; i++) c.request(i % 5 === 0 ? 500 : 200, i / 7);
  c.increment("lsbaws.log.error", 2);
  c.gauge("lsbaws.workers", 3);
  c.flush();
  assert.ok(packets.length > 1, "more than one datagram for 500 timings");
  for (const p of packets) assert.ok(new TextEncoder().encode(p).length <= MAX_PACKET_BYTES);
  const lines = packets.flatMap((p) => p.split("\n"));
  assert.ok(lines.every((l) => /^app\.lsbaws\.[a-z.0-9]+:[\d.]+\|(c|ms|g)$/.test(l)), lines[0]);
  assert.ok(lines.includes("app.lsbaws.requests:500|c"));
  assert.ok(lines.includes("app.lsbaws.request.status.200:400|c"));
  assert.ok(lines.includes("app.lsbaws.request.status.500:100|c"));
  assert.ok(lines.includes("app.lsbaws.log.error:2|c"));
  assert.ok(lines.includes("app.lsbaws.workers:3|g"));
  assert.equal(lines.filter((l) => l.endsWith("|ms")).length, 500);
  packets.length = 0;
  c.flush();
  assert.deepEqual(packets, [], "nothing moved, nothing sent");
});

function sum(lines: string[], name: string, type: string): number {
  let n = 0;
  for (const l of lines) {
    const m = /^([^:]+):([\d.]+)\|(\w+)/.exec(l);
    if (m && m[1] === name && m[3] === type) n += Number(m[2]);
  }
  return n;
}

Deno.test("-w 2 with --statsd-host: the datagrams add up to the requests made", async () => {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (sock.addr as Deno.NetAddr).port;
  const stopped = Promise.withResolvers<void>();
  const received = collectDatagrams(sock, stopped.promise).then((d) =>
    d.flatMap((t) => t.split("\n"))
  );
  const p = await startLsbaws([
    "-w",
    "2",
    "-p",
    "0",
    "--statsd-host",
    `127.0.0.1:${port}`,
    "--statsd-prefix",
    "web",
    "--dogstatsd-tags",
    "env:test",
    "apps/error.ts:app",
  ]);
  try {
    await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length === 2, "2 workers");
    for (let i = 0; i < 40; i++) {
      const path = i % 4 === 0 ? "/before" : "/";
      const res = await fetch(`http://127.0.0.1:${p.port()}${path}`);
      await res.body?.cancel();
      assert.equal(res.status, path === "/" ? 200 : 500);
    }
    await new Promise((r) => setTimeout(r, 1500)); // a periodic flush with the gauge
  } finally {
    assert.equal((await p.stop()).code, 0);
    stopped.resolve();
  }
  const lines = await received;
  assert.ok(lines.every((l) => l.startsWith("web.lsbaws.") && l.endsWith("|#env:test")), lines[0]);
  assert.equal(sum(lines, "web.lsbaws.requests", "c"), 40);
  assert.equal(sum(lines, "web.lsbaws.request.status.200", "c"), 30);
  assert.equal(sum(lines, "web.lsbaws.request.status.500", "c"), 10);
  assert.equal(lines.filter((l) => l.startsWith("web.lsbaws.request.duration:")).length, 40);
  assert.ok(sum(lines, "web.lsbaws.log.error", "c") >= 10, "the app errors were counted");
  assert.ok(lines.some((l) => l.startsWith("web.lsbaws.workers:2|g")), "the supervisor's gauge");
});

Deno.test("a bad --statsd-host is a usage error (exit 2)", async () => {
  const p = await startLsbaws(["--statsd-host", "nowhere", "apps/hello.ts:app"], {
    waitListening: false,
  });
  const status = await p.status;
  await p.stop();
  assert.equal(status.code, 2);
  assert.match(p.err.join("\n"), /--statsd-host must be host:port/);
});

/**
 * Tests of the fixed-rate load (`bench/lib/rate.ts`, `bench/rate_client.ts`): hey's per-worker
 * `-q`, parsing hey's summary, the 5 % validity rule, and the Deno client actually holding the
 * offered rate on keep-alive connections against a local server.
 */
import assert from "node:assert/strict";
import {
  heyArgs,
  parseHeyOutput,
  type RateOptions,
  rateProblem,
  type RateResult,
  runRate,
} from "../../bench/lib/rate.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

const HEY_OK = `
Summary:
  Total:	2.0077 secs
  Slowest:	0.0170 secs
  Fastest:	0.0001 secs
  Average:	0.0012 secs
  Requests/sec:	1972.3969
  
  Total data:	55440 bytes
  Size/request:	14 bytes

Response time histogram:
  0.000 [1]	|
  0.002 [3471]	|■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■■

Latency distribution:
  10% in 0.0004 secs
  99% in 0.0054 secs

Details (average, fastest, slowest):
  DNS+dialup:	0.0000 secs, 0.0001 secs, 0.0170 secs

Status code distribution:
  [200]	3950 responses
  [503]	10 responses

Error distribution:
  [4]	Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused

`;

const base: RateOptions = {
  client: "hey",
  port: 8080,
  rate: 2000,
  connections: 20,
  durationS: 10,
  cpu: null,
  cwd: ROOT,
  deno: Deno.execPath(),
};

Deno.test("heyArgs: -q is per worker, so the total is rate / connections each", () => {
  assert.deepEqual(heyArgs(base), [
    "-z",
    "10s",
    "-c",
    "20",
    "-q",
    "100",
    "-t",
    "10",
    "http://127.0.0.1:8080/",
  ]);
  assert.equal(heyArgs({ ...base, rate: 1000, connections: 3 })[5], "333.333");
});

Deno.test("parseHeyOutput counts 2xx, other statuses and errors", () => {
  const r = parseHeyOutput(HEY_OK);
  assert.equal(r.client, "hey");
  assert.equal(r.ok, 3950);
  assert.equal(r.failed, 14);
  assert.equal(r.elapsedS, 2.0077);
  assert.equal(r.achievedRps, 3950 / 2.0077);
  assert.equal(r.errors.length, 2);
  assert.match(r.errors[0], /status 503/);
  assert.match(r.errors[1], /^4× Get .*connection refused/);
  assert.throws(() => parseHeyOutput("hey: nothing"), /no summary/);
});

Deno.test("rateProblem: valid within ±5 % and without failures, invalid otherwise", () => {
  const r = (ok: number, failed = 0): RateResult => ({
    client: "deno",
    ok,
    failed,
    elapsedS: 10,
    achievedRps: ok / 10,
    errors: failed ? ["boom"] : [],
  });
  assert.equal(rateProblem(r(20_000), 2000), null);
  assert.equal(rateProblem(r(19_000), 2000), null); // exactly -5 %
  assert.match(rateProblem(r(18_990), 2000)!, /achieved 1899 req\/s, -5\.0% away/);
  assert.match(rateProblem(r(21_100), 2000)!, /\+?5\.5% away/);
  assert.match(rateProblem(r(20_000, 3), 2000)!, /3 failed requests \(boom\)/);
  assert.match(rateProblem(r(0), 2000)!, /achieved 0 req\/s/);
});

Deno.test("bench/rate_client.ts offers the rate on keep-alive connections", async () => {
  const connections = new Set<string>();
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (_req, info) => {
    requests++;
    connections.add(`${info.remoteAddr.hostname}:${info.remoteAddr.port}`);
    return new Response("hi");
  });
  try {
    const r = await runRate({
      ...base,
      client: "deno",
      port: server.addr.port,
      rate: 200,
      connections: 4,
      durationS: 1,
    });
    assert.equal(r.client, "deno");
    assert.equal(r.failed, 0, r.errors.join("; "));
    assert.equal(r.ok, requests);
    // Never more than the schedule (200 slots), and close to it: a slot is only lost when a
    // response takes longer than the 20 ms between a connection's requests (a busy machine).
    assert(r.ok <= 201, `${r.ok} requests in a 1 s schedule at 200/s`);
    assert(r.ok >= 160, `${r.ok} requests in a 1 s schedule at 200/s`);
    assert(r.elapsedS >= 0.999 && r.elapsedS < 1.5, `elapsed ${r.elapsedS}`);
    assert.equal(connections.size, 4, "one keep-alive connection per worker");
  } finally {
    await server.shutdown();
  }
});

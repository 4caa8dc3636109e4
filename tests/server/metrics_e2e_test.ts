/**
 * `--metrics-path` with real processes: the single-process numbers after ordinary requests, a
 * 404, a malformed request and a WebSocket session; with `-w 2` one scrape sums both workers and
 * carries the supervisor's counters; with `--max-requests` the counters survive worker
 * recycling. Every scrape is also checked by `promtool check metrics` when it is installed.
 */
import assert from "node:assert/strict";
import { rawOnce } from "../_support/load.ts";
import { delay, type Proc, reachEachWorker, startLsbaws } from "../_support/proc.ts";
import { promtoolCheck, samples } from "./metrics_support.ts";

const APP = "tests/server/metrics_app.ts";
const OPS = "tests/fixtures/apps/ops.ts:app";
const MEDIA = "text/plain; version=0.0.4; charset=utf-8";

/** One scrape on a fresh connection. */
async function scrape(port: number): Promise<{ text: string; type: string }> {
  const res = await rawOnce({ url: `http://127.0.0.1:${port}/metrics` });
  assert.equal(res.status, 200, res.body);
  const type = /^content-type: (.*)$/im.exec(res.head)?.[1] ?? "";
  return { text: res.body, type };
}

/** Validates `text` with promtool; prints why when promtool is missing. */
async function validate(text: string): Promise<void> {
  const r = await promtoolCheck(text);
  if (r === null) {
    const why = "promtool not installed (Debian package `prometheus`): skipping its check\n";
    Deno.stderr.writeSync(new TextEncoder().encode(why));
    return;
  }
  assert.ok(r.ok, `promtool check metrics failed:\n${r.out}\n${text}`);
  assert.equal(r.out.trim(), "", `promtool lint findings:\n${r.out}`);
}

/** Sends raw bytes on a fresh connection and returns everything the server sent back. */
async function raw(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(text));
    const buf = new Uint8Array(4096);
    let out = "";
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
    return out;
  } finally {
    conn.close();
  }
}

/** Scrapes until `pred` holds on the samples (bounded by `timeoutMs`); returns the last text. */
async function scrapeUntil(
  port: number,
  pred: (s: Map<string, number>) => boolean,
  timeoutMs = 8000,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const { text } = await scrape(port);
    if (pred(samples(text))) return text;
    if (Date.now() > end) throw new Error(`metrics never matched:\n${text}`);
    await delay(200);
  }
}

function at(s: Map<string, number>, key: string): number {
  return s.get(key) ?? 0;
}

Deno.test("metrics: requests, a 404, a protocol error and a WebSocket session (-w 1)", async () => {
  const p = await startLsbaws(["-p", "0", "--metrics-path", "/metrics", APP]);
  try {
    const port = p.port();
    const url = `http://127.0.0.1:${port}`;
    assert.equal((await rawOnce({ url: `${url}/` })).status, 200);
    assert.equal((await rawOnce({ url: `${url}/` })).status, 200);
    assert.equal((await rawOnce({ url: `${url}/missing` })).status, 404);
    const bad = await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    assert.match(bad, /^HTTP\/1\.1 400 /);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const echoed = new Promise<string>((resolve, reject) => {
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("websocket failed"));
    });
    await new Promise((r) => (ws.onopen = r));
    ws.send("hi");
    assert.equal(await echoed, "hi");
    const during = samples((await scrape(port)).text);
    assert.equal(at(during, "lsbaws_websocket_sessions_open"), 1);
    const closed = new Promise((r) => (ws.onclose = r));
    ws.close();
    await closed;

    const { text, type } = await scrape(port);
    assert.equal(type, MEDIA);
    const s = samples(text);
    assert.equal(at(s, 'lsbaws_http_requests_total{method="GET",status="2xx"}'), 3, text);
    assert.equal(at(s, 'lsbaws_http_requests_total{method="GET",status="4xx"}'), 1);
    assert.equal(at(s, 'lsbaws_http_requests_total{method="GET",status="1xx"}'), 1, "the upgrade");
    assert.equal(at(s, 'lsbaws_http_protocol_errors_total{code="400"}'), 1);
    assert.equal(at(s, "lsbaws_websocket_sessions_total"), 1);
    assert.equal(at(s, "lsbaws_http_request_duration_seconds_count"), 5);
    assert.equal(
      at(s, 'lsbaws_http_request_duration_seconds_bucket{le="+Inf"}'),
      at(s, "lsbaws_http_request_duration_seconds_count"),
    );
    assert.equal(at(s, "lsbaws_http_requests_in_flight"), 1, "the scrape itself");
    assert.equal(at(s, "lsbaws_connections_total"), 7);
    assert.ok(at(s, "lsbaws_received_bytes_total") > 150);
    assert.ok(at(s, "lsbaws_http_response_bytes_total") > 100);
    assert.ok(!text.includes("lsbaws_worker_"), "no supervisor families without one");

    const head = await raw(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.ok(head.toLowerCase().includes(`content-type: ${MEDIA}\r\n`), head);
    assert.ok(head.endsWith("\r\n\r\n"), "no body for HEAD");
    const post = await raw(
      port,
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    );
    assert.match(post, /^HTTP\/1\.1 405 /);
    await validate(text);
  } finally {
    await p.stop();
  }
});

/** Waits for `n` ready workers. */
async function ready(p: Proc, n: number): Promise<void> {
  await p.waitFor(() => p.err.filter((l) => / is ready/.test(l)).length >= n, `${n} workers`);
}

Deno.test("metrics: with -w 2 one scrape returns the totals of both workers", async () => {
  const p = await startLsbaws(["-w", "2", "-p", "0", "--metrics-path", "/metrics", OPS]);
  try {
    await ready(p, 2);
    const port = p.port();
    const request =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    const { pids, sent: N } = await reachEachWorker(p.workers(), async () => {
      const conn = await raw(port, request);
      assert.match(conn, /^HTTP\/1\.1 200 /);
      return Number(/ok (\d+)/.exec(conn)![1]);
    }, 20);
    assert.equal(pids.size, 2, "the requests reached both workers");
    const key = 'lsbaws_http_requests_total{method="POST",status="2xx"}';
    const text = await scrapeUntil(port, (s) => at(s, key) === N);
    const s = samples(text);
    assert.ok(at(s, "lsbaws_received_bytes_total") >= request.length * N);
    assert.equal(at(s, "lsbaws_worker_boots_total"), 2);
    assert.equal(at(s, "lsbaws_workers"), 2);
    assert.equal(at(s, "lsbaws_worker_recycles_total"), 0);
    await validate(text);
  } finally {
    await p.stop();
  }
});

Deno.test("metrics: counters keep counting across --max-requests recycling", async () => {
  const p = await startLsbaws([
    "-w",
    "1",
    "--max-requests",
    "8",
    "-p",
    "0",
    "--metrics-path",
    "/metrics",
    OPS,
  ]);
  try {
    await ready(p, 1);
    const port = p.port();
    const N = 20;
    for (let i = 0; i < N; i++) {
      const res = await raw(port, "PUT / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assert.match(res, /^HTTP\/1\.1 200 /);
    }
    const key = 'lsbaws_http_requests_total{method="PUT",status="2xx"}';
    let last = 0;
    const text = await scrapeUntil(port, (s) => {
      assert.ok(at(s, key) >= last, "a counter went backwards");
      last = at(s, key);
      return at(s, key) === N && at(s, 'lsbaws_worker_exits_total{reason="retired"}') >= 2;
    }, 15000);
    const s = samples(text);
    assert.ok(at(s, "lsbaws_worker_recycles_total") >= 2, text);
    assert.ok(at(s, "lsbaws_worker_boots_total") >= 3, text);
    await validate(text);
  } finally {
    await p.stop();
  }
});

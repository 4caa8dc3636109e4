/**
 * Metrics units: the exposition renderer (format, escaping, histogram buckets), the lsbaws
 * registry's hooks (method and status normalisation), the gatekeeper's metrics path, the
 * `--metrics-path` setting, the control messages and the supervisor's aggregation (counters
 * never go backwards across worker exits; gauges count live workers only).
 */
import assert from "node:assert/strict";
import {
  escapeHelp,
  escapeLabel,
  formatValue,
  observe,
  Registry,
} from "../../server/metrics_registry.ts";
import {
  countProtocolError,
  enableMetrics,
  METRICS,
  recordExchange,
  renderLocal,
  startTime,
} from "../../server/metrics.ts";
import { createGatekeeper, type PolicyTarget } from "../../server/policy.ts";
import type { Responder } from "../../server/exchange.ts";
import type { RequestHead } from "../../server/http/request_head.ts";
import { ConfigError, parseCli } from "../../server/config.ts";
import {
  encodeControl,
  encodeMetricsReply,
  parseControl,
  parseMetricsReply,
} from "../../server/process/control.ts";
import { encodeReport, exitReason, MetricsAggregate } from "../../server/process/metrics_link.ts";
import { createLogger } from "../../server/log.ts";
import { samples } from "./metrics_support.ts";

Deno.test("renderer: HELP, TYPE, labels, unlabelled zero series, labelled zero series left out", () => {
  const r = new Registry();
  const c = r.counter("t_requests_total", "Requests.", ["method"]);
  const get = c.series("GET");
  c.series("POST");
  const g = r.gauge("t_open", "Open things.").series();
  const idle = r.counter("t_idle_total", "Never used.", ["x"]);
  idle.series("a");
  r.seal();
  r.values[get] = 3;
  r.values[g] = 0;
  assert.equal(
    r.render(),
    "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n" +
      't_requests_total{method="GET"} 3\n' +
      "# HELP t_open Open things.\n# TYPE t_open gauge\nt_open 0\n",
  );
});

Deno.test("renderer: label values and HELP text are escaped", () => {
  assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
  const r = new Registry();
  const f = r.counter("t_total", "Line one\nline two \\ end.", ["path"]);
  const s = f.series('/"q"\\\n');
  r.seal();
  r.values[s] = 1;
  const text = r.render();
  assert.match(text, /^# HELP t_total Line one\\nline two \\\\ end\.\n/);
  assert.ok(text.includes('t_total{path="/\\"q\\"\\\\\\n"} 1\n'), text);
});

Deno.test("renderer: histogram buckets are cumulative, end with +Inf, then _sum and _count", () => {
  const r = new Registry();
  const h = r.histogram("t_seconds", "Durations.", [0.1, 1, 2.5]);
  const slot = h.series();
  r.seal();
  for (const v of [0.05, 0.1, 0.5, 3, 100]) observe(r.values, slot, h.buckets, v);
  assert.equal(
    r.render(),
    "# HELP t_seconds Durations.\n# TYPE t_seconds histogram\n" +
      't_seconds_bucket{le="0.1"} 2\n' +
      't_seconds_bucket{le="1"} 3\n' +
      't_seconds_bucket{le="2.5"} 3\n' +
      't_seconds_bucket{le="+Inf"} 5\n' +
      "t_seconds_sum 103.65\n" +
      "t_seconds_count 5\n",
  );
});

Deno.test("renderer: labelled histograms put le last; special values are spelled out", () => {
  const r = new Registry();
  const h = r.histogram("t_bytes", "Sizes.", [10], ["kind"]);
  const a = h.series("a");
  h.series("b");
  r.seal();
  observe(r.values, a, h.buckets, 4);
  const text = r.render();
  assert.ok(text.includes('t_bytes_bucket{kind="a",le="10"} 1\n'), text);
  assert.ok(text.includes('t_bytes_bucket{kind="a",le="+Inf"} 1\nt_bytes_sum{kind="a"} 4\n'));
  assert.ok(!text.includes('kind="b"'), "an empty labelled series is left out");
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(42), "42");
});

Deno.test("registry: series resolve once; layout ids differ with the layout; sealing is final", () => {
  const make = (extra: boolean) => {
    const r = new Registry();
    const c = r.counter("t_total", "T.", ["k"]);
    assert.equal(c.series("x"), c.series("x"));
    if (extra) c.series("y");
    return r.seal();
  };
  assert.equal(make(false).layoutId, make(false).layoutId);
  assert.notEqual(make(false).layoutId, make(true).layoutId);
  assert.throws(() => make(false).counter("late_total", "Late."));
  assert.throws(() => new Registry().counter("t_total", "T.", ["a"]).series());
  assert.throws(() => new Registry().histogram("t", "T.", [1, 1]));
});

Deno.test("hooks: unknown methods count as other; statuses by class; durations observed", () => {
  enableMetrics();
  const before = samples(renderLocal());
  const at = (m: Map<string, number>, k: string) => m.get(k) ?? 0;
  recordExchange("GET", 204, startTime(), 0, 10);
  recordExchange("BREW", 418, startTime(), 5, 20);
  recordExchange("PROPFIND", 500, startTime(), 0, 30);
  countProtocolError(431);
  countProtocolError(431);
  const after = samples(renderLocal());
  const delta = (k: string) => at(after, k) - at(before, k);
  assert.equal(delta('lsbaws_http_requests_total{method="GET",status="2xx"}'), 1);
  assert.equal(delta('lsbaws_http_requests_total{method="other",status="4xx"}'), 1);
  assert.equal(delta('lsbaws_http_requests_total{method="other",status="5xx"}'), 1);
  assert.equal(delta("lsbaws_http_request_duration_seconds_count"), 3);
  assert.equal(delta("lsbaws_http_request_body_bytes_total"), 5);
  assert.equal(delta("lsbaws_http_response_bytes_total"), 60);
  assert.equal(delta('lsbaws_http_protocol_errors_total{code="431"}'), 2);
  assert.ok(!renderLocal().includes("lsbaws_worker_"), "supervisor families need the supervisor");
});

function fakeTarget(method: string, target: string) {
  const sent = { status: 0, headers: [] as Array<readonly [string, string]>, body: "" };
  const dec = new TextDecoder();
  const res = {
    head(status: number, headers: ReadonlyArray<readonly [string, string]>) {
      sent.status = status;
      sent.headers = [...headers];
    },
    write(chunk: Uint8Array) {
      sent.body += dec.decode(chunk);
      return undefined;
    },
    end() {
      return undefined;
    },
  } as unknown as Responder;
  const t = {
    head: { method, target, headers: [] } as unknown as RequestHead,
    res,
    closeAfterResponse() {},
  } as unknown as PolicyTarget;
  return { t, sent };
}

Deno.test("gatekeeper: the metrics path answers GET and HEAD with the text format, 405 otherwise", () => {
  const state = { shuttingDown: false, inflight: 1, requests: 1 };
  const gate = createGatekeeper(
    { limitConcurrency: 0, healthPath: "", metricsPath: "/metrics" },
    state,
  );
  const get = fakeTarget("GET", "/metrics?x=1");
  assert.equal(gate(get.t), true);
  assert.equal(get.sent.status, 200);
  const type = get.sent.headers.find(([n]) => n === "content-type")?.[1];
  assert.equal(type, "text/plain; version=0.0.4; charset=utf-8");
  assert.match(get.sent.body, /^# HELP lsbaws_http_requests_total /);
  const post = fakeTarget("POST", "/metrics");
  assert.equal(gate(post.t), true);
  assert.equal(post.sent.status, 405);
  assert.equal(post.sent.headers.find(([n]) => n === "allow")?.[1], "GET, HEAD");
  assert.equal(gate(fakeTarget("GET", "/metricsx").t), false, "other paths reach the app");
  const off = createGatekeeper({ limitConcurrency: 0, healthPath: "", metricsPath: "" }, state);
  assert.equal(off(fakeTarget("GET", "/metrics").t), false, "off by default");
});

Deno.test("--metrics-path: defaults to off, must start with '/' and differ from --health-path", () => {
  const parsed = parseCli(["app.ts"], {});
  assert.equal(parsed.kind === "run" && parsed.config.metricsPath, "");
  const on = parseCli(["--metrics-path", "/m", "app.ts"], {});
  assert.equal(on.kind === "run" && on.config.metricsPath, "/m");
  assert.throws(() => parseCli(["--metrics-path", "m", "app.ts"], {}), ConfigError);
  assert.throws(
    () => parseCli(["--metrics-path", "/h", "--health-path", "/h", "app.ts"], {}),
    ConfigError,
  );
});

Deno.test("control: stats, scrape and metrics replies round-trip; bad ones are refused", () => {
  const stats = { t: "stats", l: 7, d: [1, 2, 3, 4.5] } as const;
  assert.deepEqual(parseControl(encodeControl(stats)), stats);
  assert.deepEqual(parseControl(encodeControl({ t: "scrape", id: 3 })), { t: "scrape", id: 3 });
  assert.equal(parseControl(encodeControl({ t: "stats", l: 7, d: [1] } as never)), null);
  assert.equal(parseControl(encodeControl({ t: "stats", l: 7, d: ["x", 1] } as never)), null);
  const text = '# HELP a b\na{x="\\n"} 1\n';
  const line = encodeMetricsReply(12, text);
  assert.ok(!line.includes("\n"), "one line");
  assert.deepEqual(parseMetricsReply(line), { id: 12, text });
  assert.equal(parseMetricsReply("quiesce"), null);
  assert.equal(parseMetricsReply("metrics 1 {"), null);
});

Deno.test("reports: absolute nonzero and gauge slots, each control line under 512 bytes", () => {
  const values = new Float64Array(300);
  for (let i = 0; i < 300; i += 2) values[i] = 1e12 + i;
  const parts = encodeReport(values, new Set([1]), 99);
  assert.ok(parts.length > 1);
  const seen = new Map<number, number>();
  for (const p of parts) {
    assert.ok(new TextEncoder().encode(encodeControl(p)).length < 512);
    for (let i = 0; i < p.d.length; i += 2) seen.set(p.d[i], p.d[i + 1]);
  }
  assert.equal(seen.size, 151, "150 nonzero slots and the zero gauge");
  assert.equal(seen.get(1), 0);
  assert.equal(seen.get(298), 1e12 + 298);
  assert.equal(encodeReport(new Float64Array(4), new Set(), 1).length, 1, "always one message");
});

Deno.test("aggregate: counters survive worker exits, gauges count live workers only", () => {
  const logger = createLogger({
    level: "critical",
    accessLog: "",
    accessLogFormat: "common",
    errorSink: { write() {} },
  });
  const agg = new MetricsAggregate(logger);
  const slotOf = (name: string) => {
    const values = new Float64Array(METRICS.size);
    const text = () => samples(METRICS.render(values)).get(name) ?? 0;
    for (let s = 0; s < values.length; s++) {
      values[s] = 1;
      if (text() === 1) return s;
      values[s] = 0;
    }
    throw new Error(`no slot for ${name}`);
  };
  const conns = slotOf("lsbaws_connections_total");
  const open = slotOf("lsbaws_connections_open");
  const total = () => samples(agg.render());
  const report = (id: number, pairs: number[]) =>
    agg.report(id, { t: "stats", l: METRICS.layoutId, d: pairs });
  report(1, [conns, 5, open, 2]);
  report(2, [conns, 7, open, 1]);
  assert.equal(total().get("lsbaws_connections_total"), 12);
  assert.equal(total().get("lsbaws_connections_open"), 3);
  agg.exited(1);
  assert.equal(total().get("lsbaws_connections_total"), 12, "an exit keeps its counters");
  assert.equal(total().get("lsbaws_connections_open"), 1, "and drops its gauges");
  report(3, [conns, 1, open, 1]);
  report(2, [conns, 9, open, 0]);
  assert.equal(total().get("lsbaws_connections_total"), 15);
  agg.report(4, { t: "stats", l: METRICS.layoutId + 1, d: [conns, 100] });
  assert.equal(total().get("lsbaws_connections_total"), 15, "another layout is ignored");
  assert.match(agg.reply(5), /^metrics 5 "/);
});

Deno.test("exit reasons: timeout, boot timeout, retired, crashed, boot failure", () => {
  const w = (
    reason: null | "retire" | "timeout" | "boot-timeout",
    ready: boolean,
    retiring = false,
  ) => ({
    id: 1,
    ready,
    retiring,
    reason,
  });
  assert.equal(exitReason(w("timeout", true, true), false), "timeout");
  assert.equal(exitReason(w("boot-timeout", false, true), false), "boot_timeout");
  assert.equal(exitReason(w("retire", true, true), false), "retired");
  assert.equal(exitReason(w(null, true), true), "retired");
  assert.equal(exitReason(w(null, true), false), "crashed");
  assert.equal(exitReason(w(null, false), false), "boot_failed");
});

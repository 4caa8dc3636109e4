-- Used by bench/run.ts for the keep-alive and Connection: close scenarios.
-- Defines only done(), so wrk keeps its static-request fast path (no per-request Lua); done()
-- prints wrk's exact summary as one JSON line for the harness to parse.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%.1f,"p75":%.1f,"p90":%.1f,"p99":%.1f,"max":%.1f,"mean":%.1f,"stdev":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, latency.stdev))
end

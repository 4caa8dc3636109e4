-- HTTP/1.1 pipelining for wrk, as wrk's own scripts/pipeline.lua: every write carries DEPTH
-- requests (wrk ... -s bench/wrk/pipeline.lua URL -- DEPTH; default 16) and wrk waits for all
-- DEPTH responses before the next write. done() prints the summary as one JSON line.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end

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

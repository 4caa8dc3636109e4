-- wrk script for bench/run.ts (keep-alive and Connection: close scenarios; pipeline.lua loads
-- it too). It defines only done(), so wrk keeps its static-request fast path with no Lua per
-- request. done() prints two lines for the harness:
--   BENCH_JSON {...}    wrk's summary, its errors and its own latency percentiles;
--   BENCH_HIST v:c,...  the latency histogram (microseconds:count) exactly as wrk holds it when
--                       done() runs, read through LuaJIT's FFI (wrk 4.x `stats` layout, checked
--                       against latency.min/max before use; "BENCH_HIST unavailable" otherwise).
-- Why the histogram: before done() wrk applies a "coordinated omission" correction
-- (stats_correct) that adds synthetic samples. With pipelining it is badly wrong (one sample per
-- batch but an interval computed per response, so percentiles come out as 0), and in every
-- scenario it reports latencies that were never measured. bench/lib/wrk.ts undoes the
-- correction exactly (it is deterministic) to get the latencies that were actually observed.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99)))

  local ok, ffi = pcall(require, "ffi")
  if not ok then
    io.write("BENCH_HIST unavailable\n")
    return
  end
  if not pcall(ffi.typeof, "bench_wrk_stats_t") then
    ffi.cdef [[
      typedef struct {
        uint64_t count; uint64_t limit; uint64_t min; uint64_t max; uint64_t data[?];
      } bench_wrk_stats_t;
    ]]
  end
  local s = ffi.cast("bench_wrk_stats_t **", latency)[0]
  local max = tonumber(s.max)
  if latency.max == 0 or tonumber(s.min) ~= latency.min or max ~= latency.max
    or tonumber(s.limit) <= max then
    io.write("BENCH_HIST unavailable\n")
    return
  end
  local parts = {}
  for v = 0, max do
    local c = tonumber(s.data[v])
    if c > 0 then
      parts[#parts + 1] = v .. ":" .. c
    end
  end
  io.write("BENCH_HIST " .. table.concat(parts, ",") .. "\n")
end

-- HTTP/1.1 pipelining for wrk, as wrk's own scripts/pipeline.lua: every write carries DEPTH
-- requests (wrk ... -s bench/wrk/pipeline.lua URL -- DEPTH; default 16), and wrk waits for all
-- DEPTH responses before the next write. done() comes from report.lua next to this file.
-- Note: wrk records one latency sample per batch (write to last response of the batch).
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
dofile(here .. "report.lua")

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

-- wrk script for the nearby benchmark: cycles through query paths, one per line, from the file
-- given after `--`, and prints its figures in the benchmark's one-figure-a-line format.
local paths = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  i = math.random(#paths)
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk_p50_ms: %.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("wrk_p99_ms: %.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("wrk_requests_per_s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("wrk_errors: %d\n", e.connect + e.read + e.write + e.status + e.timeout))
end

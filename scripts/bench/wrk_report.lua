-- wrk_report.lua: makes wrk end with one JSON line of exact counts and latency percentiles (µs).
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
		'"p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f, "err_connect": %d, ' ..
		'"err_read": %d, "err_write": %d, "err_status": %d, "err_timeout": %d}\n',
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
		e.connect, e.read, e.write, e.status, e.timeout))
end

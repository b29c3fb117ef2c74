-- 001_init.sql: httplat schema version 1 (requests, per-minute rollup, alerts, daemon health).
-- Applied after 000_prepare.sql when @schema@.httplat_schema lacks version 1; the functions are
-- in functions.sql. Idempotent. All times are UTC; daily partitions start at 00:00 UTC.
-- @schema@ is httplat's schema (see 000_prepare.sql).

CREATE TABLE IF NOT EXISTS @schema@.httplat_schema (
	version integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now(),
	description text NOT NULL
);

-- One row per HTTP request. Column names are a contract (dashboards, alerts, users' SQL).
-- path is the target as sent without the query string; query holds what followed '?'
-- ('' when none). Text is valid UTF-8: invalid bytes are replaced by U+FFFD and
-- flags has RECORD_F_PATH_INVALID (1<<17) set; see docs/postgres.md.
-- Requests that got no response have status 0 and NULL duration_ms/ttfb_ms, so that
-- every AVG() and percentile ignores them.
CREATE TABLE IF NOT EXISTS @schema@.http_requests (
	ts timestamptz NOT NULL,
	host text NOT NULL,
	api text NOT NULL,
	method text NOT NULL,
	route text NOT NULL,
	path text NOT NULL,
	query text NOT NULL DEFAULT '',
	status smallint NOT NULL,
	duration_ms double precision,
	ttfb_ms double precision,
	bytes_in bigint NOT NULL,
	bytes_out bigint NOT NULL,
	pid integer NOT NULL,
	flags integer NOT NULL DEFAULT 0
) PARTITION BY RANGE (ts);

-- Indexes: time ranges ("last N minutes per api", "this route today") prune to the day's
-- partition, then BRIN on ts narrows to the minutes asked for; rows arrive in time order, so
-- the BRIN stays tight and costs almost nothing to maintain. A btree such as (api, ts) would
-- halve ingest speed (docs/postgres.md has the numbers); long ranges per api or route are
-- answered by http_requests_1m and its (api, minute) and (route, minute) indexes instead.
CREATE INDEX IF NOT EXISTS http_requests_ts_brin ON @schema@.http_requests USING brin (ts)
	WITH (pages_per_range = 32, autosummarize = on); -- summarized as pages fill, not at VACUUM

-- Per-minute rollup per (host, api, route, status); kept longer than raw rows.
-- hist is user/hist.h's layout: hist[k] counts bucket k-1 (SQL arrays start at 1),
-- trailing zero buckets trimmed. sum_ms, max_ms and hist are NULL for status 0.
CREATE TABLE IF NOT EXISTS @schema@.http_requests_1m (
	minute timestamptz NOT NULL,
	host text NOT NULL,
	api text NOT NULL,
	route text NOT NULL,
	status smallint NOT NULL,
	count bigint NOT NULL,
	sum_ms double precision,
	max_ms double precision,
	hist bigint[],
	PRIMARY KEY (minute, host, api, route, status)
);
CREATE INDEX IF NOT EXISTS http_requests_1m_api_minute ON @schema@.http_requests_1m (api, minute);
CREATE INDEX IF NOT EXISTS http_requests_1m_route_minute ON @schema@.http_requests_1m (route, minute);

-- Alert state changes (user/alert_row.h).
CREATE TABLE IF NOT EXISTS @schema@.alerts (
	ts timestamptz NOT NULL,
	host text NOT NULL,
	rule text NOT NULL,
	api text NOT NULL,
	route text NOT NULL DEFAULT '',
	severity text NOT NULL,
	state text NOT NULL,
	value double precision,
	threshold double precision,
	delivered smallint NOT NULL, -- 1 Slack accepted, 0 not delivered, -1 no webhook
	message text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS alerts_ts ON @schema@.alerts (ts);
CREATE INDEX IF NOT EXISTS alerts_api_ts ON @schema@.alerts (api, ts);

-- Daemon health, one row per host every ~10 s. Counters are cumulative since `started`
-- (use the difference between rows for rates; they restart at 0 with the daemon).
CREATE TABLE IF NOT EXISTS @schema@.httplat_health (
	ts timestamptz NOT NULL,
	host text NOT NULL,
	started timestamptz NOT NULL,
	daemon_pid integer NOT NULL,
	targets integer NOT NULL,          -- processes traced now
	events bigint NOT NULL,            -- ring-buffer records read
	requests bigint NOT NULL,          -- requests decoded
	decode_errors bigint NOT NULL,
	drop_ringbuf_full bigint NOT NULL, -- kernel: event lost, ring buffer full
	drop_conn_full bigint NOT NULL,    -- kernel: connection state not stored
	drop_inflight_full bigint NOT NULL,
	drop_pipe_full bigint NOT NULL,
	parse_giveup bigint NOT NULL,      -- kernel oddities, not losses
	non_http bigint NOT NULL,
	orphan_response bigint NOT NULL,
	kernel_dropped bigint NOT NULL,    -- sum of the kernel loss counters
	rows_written bigint NOT NULL,      -- request rows committed
	rows_queued bigint NOT NULL,       -- in memory now
	rows_spooled bigint NOT NULL,      -- in spool files now
	rows_dropped bigint NOT NULL,      -- lost: memory and spool full
	rows_rejected bigint NOT NULL,     -- refused by the database one by one (data errors)
	spool_bytes bigint NOT NULL,
	db_errors bigint NOT NULL,         -- failed batches (connection or data)
	alerts_sent bigint NOT NULL,
	alerts_failed bigint NOT NULL,
	last_error text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS httplat_health_host_ts ON @schema@.httplat_health (host, ts);

-- Batches already committed, so a batch retried after an ambiguous failure (connection lost
-- around COMMIT) is not stored twice. Pruned by httplat_retention().
CREATE TABLE IF NOT EXISTS @schema@.httplat_batches (
	host text NOT NULL,
	writer bigint NOT NULL, -- random per daemon start
	seq bigint NOT NULL,
	sub bigint NOT NULL DEFAULT 0, -- 0 = whole batch; else one piece of a batch split on a bad row
	rows integer NOT NULL,
	ts timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (host, writer, seq, sub)
);

INSERT INTO @schema@.httplat_schema (version, description)
VALUES (1, 'http_requests, http_requests_1m, alerts, httplat_health, httplat_batches')
ON CONFLICT (version) DO NOTHING;

-- pg_v1_schema.sql: httplat's schema version 1 as it shipped (schema/001_init.sql before issue 16),
-- applied into public: the layout test_pg_schema.py migrates from. Do not edit.
-- 001_init.sql: httplat schema version 1 (requests, per-minute rollup, alerts, daemon health).
-- Idempotent: `httplat run` applies it at start when httplat_schema lacks version 1, and it is
-- safe to run again by hand (psql -f). All times are UTC; daily partitions start at 00:00 UTC.

CREATE TABLE IF NOT EXISTS httplat_schema (
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
CREATE TABLE IF NOT EXISTS http_requests (
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
CREATE INDEX IF NOT EXISTS http_requests_ts_brin ON http_requests USING brin (ts)
	WITH (pages_per_range = 32, autosummarize = on); -- summarized as pages fill, not at VACUUM

-- Per-minute rollup per (host, api, route, status); kept longer than raw rows.
-- hist is user/hist.h's layout: hist[k] counts bucket k-1 (SQL arrays start at 1),
-- trailing zero buckets trimmed. sum_ms, max_ms and hist are NULL for status 0.
CREATE TABLE IF NOT EXISTS http_requests_1m (
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
CREATE INDEX IF NOT EXISTS http_requests_1m_api_minute ON http_requests_1m (api, minute);
CREATE INDEX IF NOT EXISTS http_requests_1m_route_minute ON http_requests_1m (route, minute);

-- Alert state changes (user/alert_row.h).
CREATE TABLE IF NOT EXISTS alerts (
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
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
CREATE INDEX IF NOT EXISTS alerts_api_ts ON alerts (api, ts);

-- Daemon health, one row per host every ~10 s. Counters are cumulative since `started`
-- (use the difference between rows for rates; they restart at 0 with the daemon).
CREATE TABLE IF NOT EXISTS httplat_health (
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
CREATE INDEX IF NOT EXISTS httplat_health_host_ts ON httplat_health (host, ts);

-- Batches already committed, so a batch retried after an ambiguous failure (connection lost
-- around COMMIT) is not stored twice. Pruned by httplat_retention().
CREATE TABLE IF NOT EXISTS httplat_batches (
	host text NOT NULL,
	writer bigint NOT NULL, -- random per daemon start
	seq bigint NOT NULL,
	sub bigint NOT NULL DEFAULT 0, -- 0 = whole batch; else one piece of a batch split on a bad row
	rows integer NOT NULL,
	ts timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (host, writer, seq, sub)
);

-- Histogram bucket of a latency, exactly as hist__bucket() in user/hist.c (0-based).
CREATE OR REPLACE FUNCTION httplat_hist_bucket(ms double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN ms IS NULL OR ms = 'NaN' OR ms < 0.1 THEN 0
		ELSE least(199, 1 + floor(8 * log(2.0, (ms / 0.1)::numeric)))::integer END
$$;

-- Element-wise sum of two histograms of any length (NULL = empty).
CREATE OR REPLACE FUNCTION httplat_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE
		(SELECT array_agg(coalesce(a[i], 0) + coalesce(b[i], 0) ORDER BY i)
		   FROM generate_series(1, greatest(cardinality(a), cardinality(b))) AS i) END
$$;

-- httplat_hist_sum(hist): merges the histograms of many rollup rows (e.g. over a day).
CREATE OR REPLACE AGGREGATE httplat_hist_sum(bigint[]) (sfunc = httplat_hist_add, stype = bigint[]);

-- Quantile q in [0,1] of a histogram, as hist__quantile(): nearest rank, read at the bucket's
-- geometric middle (within 4.4 %), clamped to max_ms when given. NULL when empty.
CREATE OR REPLACE FUNCTION httplat_quantile(hist bigint[], q double precision,
					    max_ms double precision DEFAULT NULL)
RETURNS double precision LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	total bigint := 0;
	rank bigint;
	seen bigint := 0;
	v double precision;
BEGIN
	IF hist IS NULL THEN
		RETURN NULL;
	END IF;
	FOR k IN 1 .. coalesce(cardinality(hist), 0) LOOP
		total := total + coalesce(hist[k], 0);
	END LOOP;
	IF total = 0 THEN
		RETURN NULL;
	END IF;
	IF q >= 1 AND max_ms IS NOT NULL THEN
		RETURN max_ms;
	END IF;
	rank := greatest(1, ceil(greatest(q, 0) * total)::bigint);
	FOR k IN 1 .. cardinality(hist) LOOP
		seen := seen + coalesce(hist[k], 0);
		IF seen >= rank THEN
			IF k = 1 THEN
				v := 0.05;
			ELSIF k = 200 AND max_ms IS NOT NULL THEN
				v := max_ms;
			ELSE
				v := 0.1 * power(2.0, (2 * (k - 1) - 1) / 16.0);
			END IF;
			RETURN CASE WHEN max_ms IS NOT NULL AND v > max_ms THEN max_ms ELSE v END;
		END IF;
	END LOOP;
	RETURN max_ms;
END
$$;

-- Histogram from parallel arrays of 0-based buckets and counts (for httplat_reroll).
CREATE OR REPLACE FUNCTION httplat_hist_from(buckets integer[], counts bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	h bigint[];
	n integer := 0;
BEGIN
	FOR k IN 1 .. coalesce(cardinality(buckets), 0) LOOP
		IF buckets[k] IS NOT NULL THEN
			n := greatest(n, buckets[k] + 1);
		END IF;
	END LOOP;
	IF n = 0 THEN
		RETURN NULL;
	END IF;
	h := array_fill(0::bigint, ARRAY[n]);
	FOR k IN 1 .. cardinality(buckets) LOOP
		IF buckets[k] IS NOT NULL THEN
			h[buckets[k] + 1] := h[buckets[k] + 1] + counts[k];
		END IF;
	END LOOP;
	RETURN h;
END
$$;

-- Creates the daily partitions of http_requests for [from_day, from_day + days).
-- SECURITY DEFINER so that the least-privilege writer role can call it.
CREATE OR REPLACE FUNCTION httplat_ensure_partitions(from_day date, days integer DEFAULT 1)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	d date;
	name text;
	made integer := 0;
BEGIN
	IF days < 1 OR days > 62 THEN
		RAISE EXCEPTION 'httplat_ensure_partitions: days % out of range 1..62', days;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('httplat_partitions'));
	FOR i IN 0 .. days - 1 LOOP
		d := from_day + i;
		name := 'http_requests_p' || to_char(d, 'YYYYMMDD');
		IF to_regclass(name) IS NULL THEN
			EXECUTE format('CREATE TABLE %I PARTITION OF http_requests FOR VALUES FROM (%L) TO (%L)',
				       name, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
			made := made + 1;
		END IF;
	END LOOP;
	RETURN made;
END
$$;

-- Retention: drops whole daily partitions that ended more than raw_days ago, and deletes
-- rollup, alert, health and batch rows older than rollup_days. Returns partitions dropped.
CREATE OR REPLACE FUNCTION httplat_retention(raw_days integer, rollup_days integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	r record;
	cutoff date := (now() AT TIME ZONE 'UTC')::date - raw_days;
	dropped integer := 0;
BEGIN
	IF raw_days < 1 OR rollup_days < 1 THEN
		RAISE EXCEPTION 'httplat_retention: retention must be at least one day';
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('httplat_partitions'));
	FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		  WHERE i.inhparent = 'http_requests'::regclass
		    AND c.relname ~ '^http_requests_p[0-9]{8}$' LOOP
		IF to_date(substr(r.relname, 16), 'YYYYMMDD') < cutoff THEN
			EXECUTE format('DROP TABLE %I', r.relname);
			dropped := dropped + 1;
		END IF;
	END LOOP;
	DELETE FROM http_requests_1m WHERE minute < now() - make_interval(days => rollup_days);
	DELETE FROM alerts WHERE ts < now() - make_interval(days => rollup_days);
	DELETE FROM httplat_health WHERE ts < now() - make_interval(days => rollup_days);
	DELETE FROM httplat_batches WHERE ts < now() - make_interval(days => least(rollup_days, 7));
	RETURN dropped;
END
$$;

-- Recomputes the rollup rows of one host for minutes in [from_ts, to_ts) from the raw rows.
-- The writer calls it after a batch had to be split (rejected rows are then not counted).
-- Minutes before the oldest raw partition are left alone: their raw rows are gone.
CREATE OR REPLACE FUNCTION httplat_reroll(p_host text, from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	nrows integer;
	oldest timestamptz;
BEGIN
	SELECT min(to_date(substr(c.relname, 16), 'YYYYMMDD'))::timestamp AT TIME ZONE 'UTC'
	  INTO oldest
	  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	 WHERE i.inhparent = 'http_requests'::regclass
	   AND c.relname ~ '^http_requests_p[0-9]{8}$';
	IF oldest IS NULL THEN
		RETURN 0;
	END IF;
	from_ts := greatest(date_trunc('minute', from_ts), oldest);
	DELETE FROM http_requests_1m WHERE host = p_host AND minute >= from_ts AND minute < to_ts;
	INSERT INTO http_requests_1m (minute, host, api, route, status, count, sum_ms, max_ms, hist)
	SELECT minute, p_host, api, route, status, sum(n), sum(s), max(m),
	       httplat_hist_from(array_agg(b), array_agg(n))
	  FROM (SELECT date_trunc('minute', ts) AS minute, api, route, status,
		       CASE WHEN status = 0 THEN NULL ELSE httplat_hist_bucket(duration_ms) END AS b,
		       count(*) AS n, sum(duration_ms) AS s, max(duration_ms) AS m
		  FROM http_requests
		 WHERE host = p_host AND ts >= from_ts AND ts < to_ts
		 GROUP BY 1, 2, 3, 4, 5) AS g
	 GROUP BY minute, api, route, status;
	GET DIAGNOSTICS nrows = ROW_COUNT;
	RETURN nrows;
END
$$;

-- The SECURITY DEFINER functions run as the schema owner: only roles granted them may call them
-- (scripts/pg-roles.sh grants them to httplat_writer).
REVOKE EXECUTE ON FUNCTION httplat_ensure_partitions(date, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION httplat_retention(integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION httplat_reroll(text, timestamptz, timestamptz) FROM PUBLIC;

INSERT INTO httplat_schema (version, description)
VALUES (1, 'http_requests, http_requests_1m, alerts, httplat_health, httplat_batches')
ON CONFLICT (version) DO NOTHING;

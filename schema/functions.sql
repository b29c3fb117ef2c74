-- functions.sql: httplat's SQL functions, (re)created with every migration (same transaction).
-- Idempotent. @schema@ is httplat's schema (000_prepare.sql); every name is qualified with it.
-- Read helpers, for anyone with USAGE on the schema: httplat_hist_bucket, httplat_hist_add,
-- httplat_hist_sum, httplat_hist_count, httplat_quantile, httplat_hist_from, httplat_wait_ms.
-- The writer's (SECURITY DEFINER, run as the schema owner, search_path pinned; EXECUTE revoked
-- from PUBLIC, granted by scripts/pg-roles.sh): httplat_ensure_partitions, httplat_retention,
-- httplat_reroll, httplat_health_columns.

-- Histogram bucket of a latency, exactly as hist__bucket() in user/core/hist.c (0-based).
CREATE OR REPLACE FUNCTION @schema@.httplat_hist_bucket(ms double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN ms IS NULL OR ms = 'NaN' OR ms < 0.1 THEN 0
		ELSE least(199, 1 + floor(8 * log(2.0, (ms / 0.1)::numeric)))::integer END
$$;

-- Element-wise sum of two histograms of any length (NULL = empty).
CREATE OR REPLACE FUNCTION @schema@.httplat_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE
		(SELECT array_agg(coalesce(a[i], 0) + coalesce(b[i], 0) ORDER BY i)
		   FROM generate_series(1, greatest(cardinality(a), cardinality(b))) AS i) END
$$;

-- httplat_hist_sum(hist): merges the histograms of many rollup rows (e.g. over a day).
CREATE OR REPLACE AGGREGATE @schema@.httplat_hist_sum(bigint[]) (
	sfunc = @schema@.httplat_hist_add, stype = bigint[]);

-- How many values a histogram holds (0 for NULL).
CREATE OR REPLACE FUNCTION @schema@.httplat_hist_count(hist bigint[]) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT coalesce(sum(x), 0)::bigint FROM unnest(hist) AS x
$$;

-- Quantile q in [0,1] of a histogram, as hist__quantile(): nearest rank, read at the bucket's
-- geometric middle (within 4.4 %), clamped to max_ms when given. NULL when empty.
CREATE OR REPLACE FUNCTION @schema@.httplat_quantile(hist bigint[], q double precision,
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
CREATE OR REPLACE FUNCTION @schema@.httplat_hist_from(buckets integer[], counts bigint[])
RETURNS bigint[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
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

-- The time a request waited before the app read it (queue_ms + wait_ms), as the rollup's
-- wait_hist counts it: a NULL part is 0 when the other is known; NULL when both are unknown.
CREATE OR REPLACE FUNCTION @schema@.httplat_wait_ms(queue_ms double precision,
						wait_ms double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN queue_ms IS NULL AND wait_ms IS NULL THEN NULL
		ELSE coalesce(queue_ms, 0) + coalesce(wait_ms, 0) END
$$;

-- Creates the daily partitions of http_requests for [from_day, from_day + days). Several
-- daemons may call it at once: one at a time (advisory lock), each day checked inside the lock.
CREATE OR REPLACE FUNCTION @schema@.httplat_ensure_partitions(from_day date, days integer DEFAULT 1)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	d date;
	name text;
	made integer := 0;
BEGIN
	IF days < 1 OR days > 62 THEN
		RAISE EXCEPTION 'httplat_ensure_partitions: days % out of range 1..62', days;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('httplat partitions @schema@'));
	FOR i IN 0 .. days - 1 LOOP
		d := from_day + i;
		name := 'http_requests_p' || to_char(d, 'YYYYMMDD');
		IF to_regclass(format('@schema@.%I', name)) IS NULL THEN
			EXECUTE format('CREATE TABLE @schema@.%I PARTITION OF @schema@.http_requests '
				       'FOR VALUES FROM (%L) TO (%L)', name,
				       d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
			made := made + 1;
		END IF;
	END LOOP;
	RETURN made;
END
$$;

-- Retention: drops whole daily partitions that ended more than raw_days ago, and deletes
-- rollup, alert, health and batch rows older than rollup_days. Returns partitions dropped.
-- One run at a time (the partitions' advisory lock): daemons may run it concurrently.
CREATE OR REPLACE FUNCTION @schema@.httplat_retention(raw_days integer, rollup_days integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
	cutoff date := (now() AT TIME ZONE 'UTC')::date - raw_days;
	dropped integer := 0;
BEGIN
	IF raw_days < 1 OR rollup_days < 1 THEN
		RAISE EXCEPTION 'httplat_retention: retention must be at least one day';
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('httplat partitions @schema@'));
	FOR r IN SELECT n.nspname, c.relname
		   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		   JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE i.inhparent = '@schema@.http_requests'::regclass
		    AND c.relname ~ '^http_requests_p[0-9]{8}$' LOOP
		IF to_date(substr(r.relname, 16), 'YYYYMMDD') < cutoff THEN
			EXECUTE format('DROP TABLE %I.%I', r.nspname, r.relname);
			dropped := dropped + 1;
		END IF;
	END LOOP;
	DELETE FROM @schema@.http_requests_1m WHERE minute < now() - make_interval(days => rollup_days);
	DELETE FROM @schema@.alerts WHERE ts < now() - make_interval(days => rollup_days);
	DELETE FROM @schema@.httplat_health WHERE ts < now() - make_interval(days => rollup_days);
	DELETE FROM @schema@.httplat_batches
	 WHERE ts < now() - make_interval(days => least(rollup_days, 7));
	RETURN dropped;
END
$$;

-- Recomputes the rollup rows of one host for minutes in [from_ts, to_ts) from the raw rows.
-- The writer calls it after a batch had to be split (rejected rows are then not counted).
-- Minutes before the oldest raw partition are left alone: their raw rows are gone.
CREATE OR REPLACE FUNCTION @schema@.httplat_reroll(p_host text, from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	nrows integer;
	oldest timestamptz;
BEGIN
	SELECT min(to_date(substr(c.relname, 16), 'YYYYMMDD'))::timestamp AT TIME ZONE 'UTC'
	  INTO oldest
	  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	 WHERE i.inhparent = '@schema@.http_requests'::regclass
	   AND c.relname ~ '^http_requests_p[0-9]{8}$';
	IF oldest IS NULL THEN
		RETURN 0;
	END IF;
	from_ts := greatest(date_trunc('minute', from_ts), oldest);
	DELETE FROM @schema@.http_requests_1m
	 WHERE host = p_host AND minute >= from_ts AND minute < to_ts;
	WITH raw AS (
		SELECT date_trunc('minute', ts) AS minute, api, route, status, tls,
		       CASE WHEN status = 0 THEN NULL ELSE duration_ms END AS d,
		       @schema@.httplat_wait_ms(queue_ms, wait_ms) AS w
		  FROM @schema@.http_requests
		 WHERE host = p_host AND ts >= from_ts AND ts < to_ts),
	g AS (
		SELECT minute, api, route, status, tls, count(*) AS n, sum(d) AS s, max(d) AS m,
		       sum(w) AS ws, max(w) AS wm
		  FROM raw GROUP BY 1, 2, 3, 4, 5),
	dh AS (
		SELECT minute, api, route, status, tls,
		       @schema@.httplat_hist_from(array_agg(b), array_agg(n)) AS h
		  FROM (SELECT minute, api, route, status, tls, @schema@.httplat_hist_bucket(d) AS b,
			       count(*) AS n
			  FROM raw WHERE status <> 0 GROUP BY 1, 2, 3, 4, 5, 6) AS x
		 GROUP BY 1, 2, 3, 4, 5),
	wh AS (
		SELECT minute, api, route, status, tls,
		       @schema@.httplat_hist_from(array_agg(b), array_agg(n)) AS h
		  FROM (SELECT minute, api, route, status, tls, @schema@.httplat_hist_bucket(w) AS b,
			       count(*) AS n
			  FROM raw WHERE w IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS x
		 GROUP BY 1, 2, 3, 4, 5)
	INSERT INTO @schema@.http_requests_1m (minute, host, api, route, status, tls, count, sum_ms,
					       max_ms, hist, wait_hist, wait_sum_ms, wait_max_ms)
	SELECT g.minute, p_host, g.api, g.route, g.status, g.tls, g.n, g.s, g.m, dh.h, wh.h, g.ws,
	       g.wm
	  FROM g LEFT JOIN dh USING (minute, api, route, status, tls)
		 LEFT JOIN wh USING (minute, api, route, status, tls);
	GET DIAGNOSTICS nrows = ROW_COUNT;
	RETURN nrows;
END
$$;

-- Adds the kernel_<counter> bigint columns httplat_health lacks (a counter added to
-- HTTPLAT_COUNTERS since the table was made). NULL in older rows. Returns columns added.
CREATE OR REPLACE FUNCTION @schema@.httplat_health_columns(names text[])
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c text;
	added integer := 0;
BEGIN
	FOREACH c IN ARRAY coalesce(names, '{}') LOOP
		IF c !~ '^kernel_[a-z0-9_]{1,50}$' THEN
			RAISE EXCEPTION 'httplat_health_columns: % is not a kernel counter column', c
				USING ERRCODE = '22023';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_attribute
				WHERE attrelid = '@schema@.httplat_health'::regclass AND attname = c
				  AND NOT attisdropped) THEN
			EXECUTE format('ALTER TABLE @schema@.httplat_health ADD COLUMN IF NOT EXISTS %I bigint', c);
			added := added + 1;
		END IF;
	END LOOP;
	RETURN added;
END
$$;

REVOKE EXECUTE ON FUNCTION @schema@.httplat_ensure_partitions(date, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @schema@.httplat_retention(integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @schema@.httplat_reroll(text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @schema@.httplat_health_columns(text[]) FROM PUBLIC;

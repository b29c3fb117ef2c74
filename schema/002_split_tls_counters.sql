-- 002_split_tls_counters.sql: httplat schema version 2. Columns added in place (nullable or with
-- a default, so no table is rewritten) and renamed; rows kept.
-- - http_requests: the latency split (queue_ms, wait_ms: NULL when unknown) and tls.
-- - http_requests_1m: tls in the key (minute, host, api, route, status, tls), so a TLS filter
--   works on the rollup too; a histogram of the wait (queue_ms + wait_ms, a NULL part counted
--   as 0 when the other is known) in hist's layout, its sum and maximum: a p95 of the wait.
-- - httplat_health: the kernel counters named kernel_<column> after HTTPLAT_COUNTERS
--   (bpf/httplat.h), nullable (a counter that leaves the table keeps its column for old rows).
--   Counters added later get their column from httplat_health_columns(), which the writer
--   calls at connect with the list it was built with.

ALTER TABLE @schema@.http_requests
	ADD COLUMN IF NOT EXISTS queue_ms double precision, -- accept-queue wait, first request of a connection
	ADD COLUMN IF NOT EXISTS wait_ms double precision,  -- first byte arrived -> the app read it
	ADD COLUMN IF NOT EXISTS tls boolean NOT NULL DEFAULT false;

ALTER TABLE @schema@.http_requests_1m
	ADD COLUMN IF NOT EXISTS tls boolean NOT NULL DEFAULT false,
	ADD COLUMN IF NOT EXISTS wait_hist bigint[],
	ADD COLUMN IF NOT EXISTS wait_sum_ms double precision,
	ADD COLUMN IF NOT EXISTS wait_max_ms double precision;

DO $key$
DECLARE
	pk text;
BEGIN
	SELECT conname INTO pk FROM pg_constraint
	 WHERE conrelid = '@schema@.http_requests_1m'::regclass AND contype = 'p';
	IF pk IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM pg_constraint c JOIN pg_attribute a
		    ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
		 WHERE c.conrelid = '@schema@.http_requests_1m'::regclass AND c.contype = 'p'
		   AND a.attname = 'tls') THEN
		EXECUTE format('ALTER TABLE @schema@.http_requests_1m DROP CONSTRAINT %I, '
			       'ADD PRIMARY KEY (minute, host, api, route, status, tls)', pk);
	END IF;
END
$key$;

DO $rename$
DECLARE
	renames constant text[][] := ARRAY[
		['drop_ringbuf_full', 'kernel_ringbuf_full'],
		['drop_conn_full', 'kernel_conn_table_full'],
		['drop_inflight_full', 'kernel_inflight_full'],
		['drop_pipe_full', 'kernel_pipeline_full'],
		['parse_giveup', 'kernel_parse_giveup'],
		['non_http', 'kernel_non_http_reads'],
		['orphan_response', 'kernel_orphan_responses']];
	c name;
BEGIN
	FOR i IN 1 .. array_length(renames, 1) LOOP
		IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '@schema@.httplat_health'::regclass
			     AND attname = renames[i][1] AND NOT attisdropped)
		   AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '@schema@.httplat_health'::regclass
				 AND attname = renames[i][2] AND NOT attisdropped) THEN
			EXECUTE format('ALTER TABLE @schema@.httplat_health RENAME COLUMN %I TO %I',
				       renames[i][1], renames[i][2]);
		END IF;
	END LOOP;
	-- a counter can leave the table (inflight_full did): its column stays for the old rows,
	-- NULL in new ones, so no kernel_<counter> column may be NOT NULL
	FOR c IN SELECT attname FROM pg_attribute
		  WHERE attrelid = '@schema@.httplat_health'::regclass AND attnotnull
		    AND attname LIKE 'kernel\_%' AND attname <> 'kernel_dropped' LOOP
		EXECUTE format('ALTER TABLE @schema@.httplat_health ALTER COLUMN %I DROP NOT NULL', c);
	END LOOP;
END
$rename$;

INSERT INTO @schema@.httplat_schema (version, description)
VALUES (2, 'own schema; queue_ms, wait_ms, tls; tls and a wait histogram in the rollup; kernel_* health columns')
ON CONFLICT (version) DO NOTHING;

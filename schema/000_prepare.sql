-- 000_prepare.sql: httplat's own schema, before the migrations. @schema@ is the schema's name
-- (`httplat` unless --schema / [database] schema says otherwise), put in by `httplat run` and
-- scripts/pg-roles.sh. Nothing outside @schema@ is created, altered or read, except httplat's own
-- version-1 tables in public (the layout before schemas), which are moved here.
--
-- - A table with one of httplat's names in @schema@ that httplat did not create (no
--   @schema@.httplat_schema): refused with SQLSTATE 42P07, nothing touched.
-- - httplat's version-1 layout in public (public.httplat_schema records version 1): its tables
--   that have httplat's columns, the daily partitions and the functions are moved with
--   ALTER ... SET SCHEMA, in this one transaction; rows, indexes, owners and grants are kept.
--   A public table of the same name without httplat's columns is the app's: left alone.
-- Idempotent: does nothing once @schema@.httplat_schema exists.

CREATE SCHEMA IF NOT EXISTS @schema@;

DO $prepare$
DECLARE
	v1 constant text[][] := ARRAY[
		['httplat_schema', 'version,applied_at,description'],
		['http_requests', 'ts,host,api,method,route,path,query,status,duration_ms,ttfb_ms,bytes_in,bytes_out,pid,flags'],
		['http_requests_1m', 'minute,host,api,route,status,count,sum_ms,max_ms,hist'],
		['alerts', 'ts,host,rule,api,route,severity,state,value,threshold,delivered,message'],
		['httplat_health', 'ts,host,started,daemon_pid,targets,events,requests,decode_errors,drop_ringbuf_full,drop_conn_full,drop_inflight_full,drop_pipe_full,parse_giveup,non_http,orphan_response,kernel_dropped,rows_written,rows_queued,rows_spooled,rows_dropped,rows_rejected,spool_bytes,db_errors,alerts_sent,alerts_failed,last_error'],
		['httplat_batches', 'host,writer,seq,sub,rows,ts']];
	v1_functions constant text[] := ARRAY[
		'httplat_hist_bucket(double precision)', 'httplat_hist_add(bigint[], bigint[])',
		'httplat_quantile(bigint[], double precision, double precision)',
		'httplat_hist_from(integer[], bigint[])', 'httplat_ensure_partitions(date, integer)',
		'httplat_retention(integer, integer)',
		'httplat_reroll(text, timestamp with time zone, timestamp with time zone)'];
	t text;
	p text;
	cols text[];
	tables integer := 0;
	parts integer := 0;
	nrows bigint := 0;
	found boolean;
BEGIN
	IF to_regclass('@schema@.httplat_schema') IS NOT NULL THEN
		RETURN;
	END IF;
	SELECT c.relname INTO t FROM pg_class c
	 WHERE c.relnamespace = '@schema@'::regnamespace
	   AND c.relname IN (SELECT v1[i][1] FROM generate_subscripts(v1, 1) AS i)
	 ORDER BY c.relname LIMIT 1;
	IF t IS NOT NULL THEN
		RAISE EXCEPTION 'httplat: table @schema@.% exists but was not created by httplat (there is no @schema@.httplat_schema)', t
			USING ERRCODE = '42P07',
			      HINT = 'rename or drop @schema@.' || t || ', or give httplat a schema of its own (--schema NAME, or schema = NAME in the [database] section of the config file)';
	END IF;
	IF '@schema@' = 'public' OR to_regclass('public.httplat_schema') IS NULL
	   OR (SELECT count(*) FROM pg_attribute
		WHERE attrelid = to_regclass('public.httplat_schema') AND attnum > 0
		  AND NOT attisdropped AND attname IN ('version', 'applied_at', 'description')) <> 3 THEN
		RETURN;
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT 1 FROM public.httplat_schema WHERE version = 1)' INTO found;
	IF NOT found THEN
		RETURN; -- not httplat's version table, or not version 1
	END IF;
	-- the version-1 layout, recognised by its tables' columns; anything else in public is the app's
	FOR i IN 1 .. array_length(v1, 1) LOOP
		t := v1[i][1];
		cols := string_to_array(v1[i][2], ',');
		IF to_regclass('public.' || t) IS NULL
		   OR (SELECT count(*) FROM pg_attribute
		        WHERE attrelid = to_regclass('public.' || t) AND attnum > 0 AND NOT attisdropped
		          AND attname = ANY (cols)) <> cardinality(cols)
		   OR (t = 'http_requests' AND (SELECT relkind FROM pg_class
						 WHERE oid = to_regclass('public.http_requests')) <> 'p') THEN
			CONTINUE;
		END IF;
		EXECUTE format('ALTER TABLE public.%I SET SCHEMA @schema@', t);
		tables := tables + 1;
		IF t = 'http_requests' THEN
			FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				  WHERE i.inhparent = '@schema@.http_requests'::regclass
				    AND c.relnamespace = 'public'::regnamespace LOOP
				EXECUTE format('ALTER TABLE public.%I SET SCHEMA @schema@', p);
				parts := parts + 1;
			END LOOP;
			SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint INTO nrows
			  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			 WHERE i.inhparent = '@schema@.http_requests'::regclass;
			IF nrows = 0 THEN -- never analyzed, so not large: count them
				SELECT count(*) INTO nrows FROM @schema@.http_requests;
			END IF;
		END IF;
	END LOOP;
	FOREACH t IN ARRAY v1_functions LOOP
		IF to_regprocedure('public.' || t) IS NOT NULL THEN
			EXECUTE format('ALTER FUNCTION public.%s SET SCHEMA @schema@', t);
		END IF;
	END LOOP;
	IF to_regprocedure('public.httplat_hist_sum(bigint[])') IS NOT NULL THEN
		ALTER AGGREGATE public.httplat_hist_sum(bigint[]) SET SCHEMA @schema@;
	END IF;
	RAISE NOTICE 'httplat: moved httplat''s version-1 tables from public to schema @schema@ (% tables, % daily partitions, about % request rows kept)',
		tables, parts, nrows;
END
$prepare$;

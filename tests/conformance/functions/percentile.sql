-- PERCENTILE: the exact percentile, interpolated as Flink interpolates,
-- in a window aggregation, in an updating aggregation (with FILTER, over a
-- DOUBLE argument), and with a frequency.
CREATE TABLE requests (ts TIMESTAMP(3), endpoint STRING, status INT, latency_ms INT, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/requests.json', 'format' = 'json');
SELECT window_start, endpoint, COUNT(*) AS requests, PERCENTILE(latency_ms, 0.5) AS p50, PERCENTILE(latency_ms, 0.95) AS p95 FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, endpoint;
SELECT endpoint, PERCENTILE(latency_ms, 0.9) AS p90, PERCENTILE(CAST(latency_ms AS DOUBLE), 0.25) AS p25, PERCENTILE(latency_ms, 0.5) FILTER (WHERE status < 500) AS p50_ok FROM requests GROUP BY endpoint;
SELECT PERCENTILE(col, 0.3) AS p, PERCENTILE(col, 0.5, freq) AS weighted FROM (VALUES (0, 1), (10, 3), (10, 0), (20, 1)) AS tab(col, freq);

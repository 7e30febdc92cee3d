-- Sessionization: group each user's clicks into sessions that end after
-- 5 minutes without a click (the SESSION window table-valued function,
-- partitioned by user), and print one row per session when it closes.
--
-- Run from the repository root:  eddy -f queries/sessionization.sql
-- Input: queries/data/clicks.csv (user, page, time; bounded, so the job
-- ends and the last sessions close). What Apache Flink 2.3 prints for it:
-- queries/sessionization.out (recorded by queries/record.sh;
-- tests/queries.rs checks that Eddy prints the same rows).

CREATE TABLE clicks (
  user_id STRING,
  page STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE
) WITH (
  'connector' = 'filesystem',
  'path' = 'queries/data/clicks.csv',
  'format' = 'csv'
);

CREATE TABLE sessions (
  user_id STRING,
  session_start TIMESTAMP(3),
  session_end TIMESTAMP(3),
  clicks BIGINT,
  pages BIGINT,
  checked_out BOOLEAN
) WITH ('connector' = 'print');

INSERT INTO sessions
SELECT
  user_id,
  window_start,
  window_end,
  COUNT(*),
  COUNT(DISTINCT page),
  COUNT(*) FILTER (WHERE page = '/checkout') > 0
FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' MINUTE))
GROUP BY window_start, window_end, user_id;

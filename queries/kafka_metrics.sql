-- Metrics over Kafka: read API request events from the topic `requests`
-- and write per-minute metrics per endpoint to the topic `request_metrics`
-- (a TUMBLE window aggregate): request and error counts, min/avg/max
-- latency, and the 50th, 95th and 99th latency percentiles (PERCENTILE:
-- exact, interpolated as Flink does).
--
-- Input topic:  requests <- queries/data/requests.json (a record per line)
-- Output topic: request_metrics
--
-- Run from the repository root, with a Kafka broker at localhost:9092:
--   1. create both topics (one partition each) and write the data file
--      into `requests`, e.g.
--        kafka-console-producer.sh --bootstrap-server localhost:9092 \
--          --topic requests < queries/data/requests.json
--   2. eddy -f queries/kafka_metrics.sql
-- The source is bounded ('scan.bounded.mode' = 'latest-offset': it reads
-- what the topic holds when the job starts; then the job ends and the last
-- windows close); without that option the job keeps running. The records
-- Apache Flink 2.3 wrote to `request_metrics` for the same input are in
-- queries/kafka_metrics.out (recorded by queries/record.sh).
-- tests/queries.rs runs this against a test broker, its address in place
-- of localhost:9092, and compares what lands in `request_metrics`.

CREATE TABLE requests (
  ts TIMESTAMP(3),
  endpoint STRING,
  status INT,
  latency_ms INT,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'requests',
  'properties.bootstrap.servers' = 'localhost:9092',
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
  'format' = 'json'
);

CREATE TABLE request_metrics (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  endpoint STRING,
  requests BIGINT,
  errors BIGINT,
  min_latency_ms INT,
  avg_latency_ms DOUBLE,
  max_latency_ms INT,
  p50_latency_ms DOUBLE,
  p95_latency_ms DOUBLE,
  p99_latency_ms DOUBLE
) WITH (
  'connector' = 'kafka',
  'topic' = 'request_metrics',
  'properties.bootstrap.servers' = 'localhost:9092',
  'format' = 'json'
);

INSERT INTO request_metrics
SELECT
  window_start,
  window_end,
  endpoint,
  COUNT(*),
  COUNT(*) FILTER (WHERE status >= 500),
  MIN(latency_ms),
  AVG(CAST(latency_ms AS DOUBLE)),
  MAX(latency_ms),
  PERCENTILE(latency_ms, 0.5),
  PERCENTILE(latency_ms, 0.95),
  PERCENTILE(latency_ms, 0.99)
FROM TABLE(TUMBLE(TABLE requests, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, endpoint;

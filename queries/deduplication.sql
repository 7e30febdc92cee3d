-- Deduplication: a payment provider delivers some events more than once
-- (retries); keep only the first event of each payment_id, as Flink's
-- ROW_NUMBER() ... WHERE rn = 1 deduplication does (ordered by event time,
-- ascending: the first delivery wins).
--
-- Run from the repository root:  eddy -f queries/deduplication.sql
-- Input: queries/data/payments.csv (payment_id, user, amount, time;
-- bounded). What Apache Flink 2.3 prints for it:
-- queries/deduplication.out (recorded by queries/record.sh;
-- tests/queries.rs checks that Eddy prints the same rows).

CREATE TABLE payments (
  payment_id STRING,
  user_name STRING,
  amount DECIMAL(10, 2),
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'queries/data/payments.csv',
  'format' = 'csv'
);

CREATE TABLE unique_payments (
  payment_id STRING,
  user_name STRING,
  amount DECIMAL(10, 2),
  ts TIMESTAMP(3)
) WITH ('connector' = 'print');

INSERT INTO unique_payments
SELECT payment_id, user_name, amount, ts
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY payment_id ORDER BY ts ASC) AS rn
  FROM payments
)
WHERE rn = 1;

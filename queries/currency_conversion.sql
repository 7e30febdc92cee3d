-- Currency conversion: convert each order to EUR with the exchange rate
-- that was valid at the order's time, an event-time temporal join
-- (FOR SYSTEM_TIME AS OF) against a versioned table of rates (primary key
-- and watermark). A rate change applies only to later orders; an order
-- placed before its currency has any rate (o-1) or in a currency without
-- rates (o-8) has no match and is left out, as in an inner join.
--
-- Run from the repository root:  eddy -f queries/currency_conversion.sql
-- Input: queries/data/orders.csv and queries/data/rates.csv (bounded).
-- What Apache Flink 2.3 prints for it: queries/currency_conversion.out
-- (recorded by queries/record.sh; tests/queries.rs checks that Eddy
-- prints the same rows).

CREATE TABLE orders (
  order_id STRING,
  currency STRING,
  amount DECIMAL(10, 2),
  order_time TIMESTAMP(3),
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'queries/data/orders.csv',
  'format' = 'csv'
);

CREATE TABLE rates (
  currency STRING,
  rate_to_eur DECIMAL(10, 4),
  valid_from TIMESTAMP(3),
  PRIMARY KEY (currency) NOT ENFORCED,
  WATERMARK FOR valid_from AS valid_from - INTERVAL '5' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'queries/data/rates.csv',
  'format' = 'csv'
);

CREATE TABLE orders_in_eur (
  order_id STRING,
  order_time TIMESTAMP(3),
  amount DECIMAL(10, 2),
  currency STRING,
  rate_to_eur DECIMAL(10, 4),
  amount_eur DECIMAL(12, 2)
) WITH ('connector' = 'print');

INSERT INTO orders_in_eur
SELECT
  o.order_id,
  o.order_time,
  o.amount,
  o.currency,
  r.rate_to_eur,
  CAST(o.amount * r.rate_to_eur AS DECIMAL(12, 2))
FROM orders AS o
JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r
  ON o.currency = r.currency;

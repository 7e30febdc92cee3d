-- NULL-padded rows that the left join retracts once a match arrives must be retracted from the aggregate too.
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
SELECT c.region, COUNT(*) AS rows_, COUNT(o.oid) AS orders, SUM(o.amount) AS total FROM customers c LEFT JOIN orders o ON c.cid = o.cid GROUP BY c.region;

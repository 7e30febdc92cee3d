CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
SELECT c.region, COUNT(*) AS orders, SUM(o.amount) AS total, MAX(o.amount) AS biggest FROM orders o JOIN customers c ON o.cid = c.cid GROUP BY c.region;

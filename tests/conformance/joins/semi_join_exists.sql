-- Correlated EXISTS: each customer at most once, however many orders match.
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
SELECT c.cid, c.name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.cid = c.cid AND o.amount < 40);

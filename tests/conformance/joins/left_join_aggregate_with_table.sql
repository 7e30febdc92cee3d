-- An updating left side (per-customer totals, including the NULL-cid group) left-joined with an append-only table.
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
SELECT t.cid, t.total, t.n, c.name FROM (SELECT cid, SUM(amount) AS total, COUNT(*) AS n FROM orders GROUP BY cid) t LEFT JOIN customers c ON t.cid = c.cid;

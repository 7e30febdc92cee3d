-- The amount condition is part of ON: customers whose orders all fail it are padded with NULLs, not dropped.
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
SELECT c.name, o.oid, o.amount FROM customers c LEFT JOIN orders o ON c.cid = o.cid AND o.amount >= 40;

-- The key is BIGINT on one side and INT on the other.
CREATE TABLE orders (oid INT, cid BIGINT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
SELECT o.oid, o.cid, c.cid, c.name FROM orders o JOIN customers c ON o.cid = c.cid;

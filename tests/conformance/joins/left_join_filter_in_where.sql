-- Unlike the same condition in ON (left_join_residual_in_on), a WHERE filters after the join: carol, whose orders all fail it, is dropped, not padded.
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
SELECT c.name, o.oid, o.amount FROM customers c LEFT JOIN orders o ON c.cid = o.cid WHERE o.amount >= 40 OR o.oid IS NULL;

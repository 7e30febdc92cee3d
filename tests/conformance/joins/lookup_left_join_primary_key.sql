-- A LEFT lookup join against a filesystem table with a primary key: of rows sharing a key, the
-- last in the file is the table's row; a residual condition on the looked-up row, and orders
-- without a rate padded. lookup_left_join_primary_key.flink gives the same rows in Flink
-- (the join with the table's last row per key).
CREATE TABLE fx_orders (oid INT, currency STRING, amount INT, ts TIMESTAMP(3), proc AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/fx_orders.csv', 'format' = 'csv');
CREATE TABLE rates (currency STRING, rate INT, ts TIMESTAMP(3), PRIMARY KEY (currency) NOT ENFORCED) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/rates.csv', 'format' = 'csv', 'lookup.cache' = 'NONE');
SELECT o.oid, o.currency, r.rate, o.amount * r.rate AS converted FROM fx_orders o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.proc AS r ON o.currency = r.currency AND r.rate < 120;

-- A lookup join against a filesystem table (which Flink's filesystem connector cannot serve;
-- lookup_join.flink is the regular join giving the same rows over the unchanging file):
-- every rate row of an order's currency joins it.
CREATE TABLE fx_orders (oid INT, currency STRING, amount INT, ts TIMESTAMP(3), proc AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/fx_orders.csv', 'format' = 'csv');
CREATE TABLE rates (currency STRING, rate INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/rates.csv', 'format' = 'csv', 'lookup.cache' = 'FULL');
SELECT o.oid, o.currency, o.amount, r.rate FROM fx_orders o JOIN rates FOR SYSTEM_TIME AS OF o.proc AS r ON o.currency = r.currency;

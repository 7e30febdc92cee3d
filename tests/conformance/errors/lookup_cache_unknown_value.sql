CREATE TABLE fx_orders (oid INT, currency STRING, amount INT, ts TIMESTAMP(3), proc AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/fx_orders.csv', 'format' = 'csv');
CREATE TABLE rates (currency STRING, rate INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/rates.csv', 'format' = 'csv', 'lookup.cache' = 'PARTIAL');
SELECT o.oid, r.rate FROM fx_orders o JOIN rates FOR SYSTEM_TIME AS OF o.proc AS r ON o.currency = r.currency;

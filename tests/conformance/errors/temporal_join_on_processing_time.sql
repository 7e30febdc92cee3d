CREATE TABLE fx_orders (oid INT, currency STRING, amount INT, ts TIMESTAMP(3), proc AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/fx_orders.csv', 'format' = 'csv');
CREATE TABLE rates (currency STRING, rate INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/rates.csv', 'format' = 'csv');
CREATE VIEW versioned_rates AS SELECT currency, rate, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY currency ORDER BY ts DESC) AS rn FROM rates) WHERE rn = 1;
SELECT o.oid, o.currency, r.rate FROM fx_orders o JOIN versioned_rates FOR SYSTEM_TIME AS OF o.proc AS r ON o.currency = r.currency;

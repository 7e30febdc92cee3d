CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE shipments (sid INT, oid INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/shipments.csv', 'format' = 'csv');
SELECT o.oid, o.ts, s.sid, s.ts FROM orders o FULL OUTER JOIN shipments s ON o.oid = s.oid AND o.ts BETWEEN s.ts - INTERVAL '1' MINUTE AND s.ts + INTERVAL '1' MINUTE;

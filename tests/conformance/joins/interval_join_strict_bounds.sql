-- Strict bounds drop the shipments exactly a minute away.
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE shipments (sid INT, oid INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/shipments.csv', 'format' = 'csv');
SELECT o.oid, s.sid, o.ts, s.ts FROM orders o JOIN shipments s ON o.oid = s.oid AND o.ts > s.ts - INTERVAL '1' MINUTE AND o.ts < s.ts + INTERVAL '1' MINUTE;

-- The interval join keeps the time attributes, so a window can follow on the order time.
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE shipments (sid INT, oid INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/shipments.csv', 'format' = 'csv');
CREATE VIEW shipped AS SELECT o.oid, o.amount, o.ts, s.sid FROM orders o JOIN shipments s ON o.oid = s.oid AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' MINUTE;
SELECT window_start, window_end, COUNT(*) AS shipped, SUM(amount) AS total FROM TABLE(TUMBLE(TABLE shipped, DESCRIPTOR(ts), INTERVAL '10' MINUTE)) GROUP BY window_start, window_end;

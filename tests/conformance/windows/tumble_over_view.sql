CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE VIEW shipped AS SELECT id, amount, ts FROM orders WHERE status = 'SHIPPED' OR status = 'NEW';
SELECT window_start, window_end, COUNT(*) AS n, SUM(amount) AS total FROM TABLE(TUMBLE(TABLE shipped, DESCRIPTOR(ts), INTERVAL '2' HOUR)) GROUP BY window_start, window_end;

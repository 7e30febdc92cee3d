CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE sink (ws TIMESTAMP(3), we TIMESTAMP(3), n BIGINT, total DECIMAL(38, 2)) WITH ('connector' = 'print');
INSERT INTO sink SELECT window_start, window_end, COUNT(*), SUM(amount) FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;

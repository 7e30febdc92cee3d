CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, proc AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
DESCRIBE orders;
SELECT COUNT(*) AS n, SUM(qty) AS q FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(proc), INTERVAL '1' HOUR)) GROUP BY window_start, window_end;
SELECT id, customer, TIMESTAMPDIFF(SECOND, proc, CURRENT_TIMESTAMP) < 60 AS recent FROM orders WHERE id < 3;
SELECT COUNT(*) AS n FROM orders GROUP BY TUMBLE(proc, INTERVAL '1' HOUR);

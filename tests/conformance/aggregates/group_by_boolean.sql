CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT status IS NULL AS no_status, COUNT(*) AS n, SUM(qty) FILTER (WHERE qty > 2) AS big FROM orders GROUP BY status IS NULL;

CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT n, COUNT(*) AS c, SUM(n) AS s FROM (SELECT status, COUNT(*) AS n FROM orders GROUP BY status) GROUP BY n;

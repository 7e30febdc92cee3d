CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT status, COUNT(*) AS n, SUM(qty) AS q, MAX(price) AS p, MIN(customer) AS c, AVG(qty) AS a FROM orders GROUP BY status;

CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT id, MOD(qty, 3), ABS(price), ABS(qty - 5), FLOOR(price), CEIL(price), ROUND(price, 1) FROM orders;

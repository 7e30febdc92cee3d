CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT * FROM orders;

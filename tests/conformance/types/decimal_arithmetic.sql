CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT id, amount / 3, amount / qty, 1.0 / 2, qty / 2.0, amount / 0.25, amount * qty, amount + 1.5, amount - price FROM orders;

CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT id, qty * 2, qty / 2, qty % 3, price * qty, amount * qty, amount + 1, -qty, price / 2 FROM orders;

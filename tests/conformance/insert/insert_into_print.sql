CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE out_print (id INT, who STRING, total DOUBLE) WITH ('connector' = 'print');
INSERT INTO out_print SELECT id, customer, price * qty FROM orders WHERE status <> 'CANCELLED';

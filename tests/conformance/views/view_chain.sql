CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE VIEW big AS SELECT id, customer, amount * 2 AS doubled FROM orders WHERE qty >= 2;
CREATE TEMPORARY VIEW bigger AS SELECT id, UPPER(customer) AS name, doubled FROM big WHERE doubled > 20;
SELECT * FROM bigger;

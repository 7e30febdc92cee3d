CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT id, status IN ('NEW', 'SHIPPED'), qty BETWEEN 2 AND 5, customer LIKE '%a%', customer NOT LIKE 'b%', status IS NOT NULL FROM orders;

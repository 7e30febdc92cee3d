CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT * FROM (SELECT id, customer, price, ROW_NUMBER() OVER (ORDER BY price DESC) AS rn FROM orders) WHERE rn <= 2;

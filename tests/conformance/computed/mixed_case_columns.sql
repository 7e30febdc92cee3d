CREATE TABLE orders (id INT, customerName STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, `orderTime` TIMESTAMP(3), status STRING, total AS price * qty, WATERMARK FOR `orderTime` AS `orderTime` - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT id, customerName, `orderTime`, total FROM orders;

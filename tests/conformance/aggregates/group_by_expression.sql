CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT DATE_FORMAT(ts, 'yyyy-MM-dd') AS d, COUNT(*) AS n, LISTAGG(customer) AS who FROM orders GROUP BY DATE_FORMAT(ts, 'yyyy-MM-dd');

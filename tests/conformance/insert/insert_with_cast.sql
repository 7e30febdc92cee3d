CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE sink (id BIGINT, amount DOUBLE, d STRING) WITH ('connector' = 'print');
INSERT INTO sink SELECT id, amount, DATE_FORMAT(ts, 'yyyy-MM-dd') FROM orders;

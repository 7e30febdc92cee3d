CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE out_csv (status STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '${TMP}', 'format' = 'csv');
INSERT INTO out_csv SELECT status, COUNT(*) FROM orders GROUP BY status;

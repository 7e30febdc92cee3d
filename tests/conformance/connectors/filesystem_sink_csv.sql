SET 'table.dml-sync' = 'true';
CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE written (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, ts TIMESTAMP(3), ok BOOLEAN) WITH ('connector' = 'filesystem', 'path' = '${TMP}/written', 'format' = 'csv');
INSERT INTO written SELECT id, customer, amount, price * 1000000, ts, qty > 2 FROM orders;
CREATE TABLE lines (line STRING) WITH ('connector' = 'filesystem', 'path' = '${TMP}/written', 'format' = 'raw');
SELECT * FROM lines;

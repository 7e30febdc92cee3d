CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE totals (status STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = '127.0.0.1:1', 'format' = 'json');
INSERT INTO totals SELECT status, COUNT(*) FROM orders GROUP BY status;

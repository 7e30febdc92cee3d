CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT NOT NULL, ts TIMESTAMP(3), status STRING, total AS price * qty, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE events (id BIGINT, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, attrs MAP<STRING, INT>, ltz TIMESTAMP_LTZ(3), d DATE, flag BOOLEAN) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 10;
SHOW TABLES;
DESCRIBE orders;
DESCRIBE events;
DROP VIEW big_orders;
SHOW TABLES;

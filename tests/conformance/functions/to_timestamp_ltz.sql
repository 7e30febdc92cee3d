CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT id, TO_TIMESTAMP_LTZ(1700000000000 + id, 3) AS ms, TO_TIMESTAMP_LTZ(1700000000 + id, 0) AS s, TO_TIMESTAMP_LTZ(CAST(NULL AS BIGINT), 3) AS n FROM orders;

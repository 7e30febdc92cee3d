CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
SELECT id, CAST(id AS BIGINT) + 1, CAST(amount AS DOUBLE), CAST(price AS DECIMAL(10, 1)), CAST(qty AS DOUBLE) / 4, CAST(ts AS DATE), CAST('42' AS INT), CAST(price AS INT) FROM orders;

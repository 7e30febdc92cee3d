CREATE TABLE products (id INT, name STRING, category STRING, weight DOUBLE) WITH ('connector' = 'filesystem', 'path' = '${DATA}/products_cdc.json', 'format' = 'debezium-json');
SELECT * FROM products;
SELECT category, COUNT(*) AS n, SUM(weight) AS total FROM products GROUP BY category;

CREATE TABLE orders (id INT, customer STRING, items ARRAY<ROW<sku STRING, qty INT>>, attrs MAP<STRING, STRING>, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders_nested.json', 'format' = 'json');
SELECT sku, SUM(qty) AS total, COUNT(*) AS lines FROM orders CROSS JOIN UNNEST(items) AS i(sku, qty) GROUP BY sku;

CREATE TABLE orders (id INT, customer STRING, items ARRAY<ROW<sku STRING, qty INT>>, attrs MAP<STRING, STRING>, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders_nested.json', 'format' = 'json');
SELECT id, a.sku, b.sku FROM orders CROSS JOIN UNNEST(items) AS a(sku, qty) CROSS JOIN UNNEST(items) AS b(sku, qty) WHERE a.sku < b.sku;

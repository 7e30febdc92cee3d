CREATE TABLE orders (id INT, customer STRING, items ARRAY<ROW<sku STRING, qty INT>>, attrs MAP<STRING, STRING>, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders_nested.json', 'format' = 'json');
SELECT id, customer, sku, qty FROM orders LEFT JOIN UNNEST(items) AS i(sku, qty) ON TRUE;

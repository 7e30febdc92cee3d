CREATE TABLE orders (id INT, customer STRING, items ARRAY<ROW<sku STRING, qty INT>>, attrs MAP<STRING, STRING>, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders_nested.json', 'format' = 'json');
SELECT id, v FROM orders CROSS JOIN UNNEST(MAP['a', id, 'b', id * 2]) AS m(k, v) WHERE k = 'b';

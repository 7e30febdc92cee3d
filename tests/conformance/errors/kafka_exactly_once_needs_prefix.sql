CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE out_topic (id INT, customer STRING) WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '127.0.0.1:1', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once');
INSERT INTO out_topic SELECT id, customer FROM orders;

CREATE TABLE totals (status STRING, n BIGINT) WITH ('connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = '127.0.0.1:1', 'key.format' = 'json', 'value.format' = 'json');
SELECT * FROM totals;

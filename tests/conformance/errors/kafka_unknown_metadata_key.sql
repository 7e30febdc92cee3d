CREATE TABLE bids (auction BIGINT, price BIGINT, part INT METADATA FROM 'partitions' VIRTUAL) WITH ('connector' = 'kafka', 'topic' = 'bids', 'properties.bootstrap.servers' = '127.0.0.1:1', 'format' = 'json');
SELECT * FROM bids;

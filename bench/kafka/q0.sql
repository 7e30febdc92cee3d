-- Q0 through Kafka: bids topic -> pass-through -> q0_out topic.
SET 'table.dml-sync' = 'true';
CREATE TABLE q0_out (auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING)
WITH ('connector' = 'kafka', 'topic' = 'q0_out', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'json');
INSERT INTO q0_out SELECT auction, bidder, price, `dateTime`, extra FROM bid;

-- EXPLAIN prints what the stream plan knows of each stream, computed once
-- as each node is built: the changelog mode, the upsert key, the time
-- attribute, and how rows are spread over the subtasks.
SET 'parallelism.default' = '2';
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, `dateTime` TIMESTAMP(3), extra STRING, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/nexmark/bid/bids-000.csv', 'format' = 'csv');
CREATE TABLE totals (bidder BIGINT, total BIGINT) WITH ('connector' = 'print');
-- The aggregate is keyed and hashed by its group key, and the projections
-- after it keep both; the sink emits nothing.
EXPLAIN INSERT INTO totals SELECT bidder, SUM(price) FROM (SELECT bidder, price, `dateTime` FROM bid WHERE price > 10) GROUP BY bidder;
-- The rowtime survives a projection that keeps it; a deduplication is
-- keyed and hashed by its partition key.
EXPLAIN SELECT auction, bidder FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY `dateTime` DESC) AS rn FROM bid) WHERE rn = 1;

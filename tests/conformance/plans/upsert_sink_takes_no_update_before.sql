-- A blackhole sink applies +U as an upsert (as in Flink): the deduplication
-- feeding it emits no -U, and the projection between them passes that on.
-- Into print, which folds a retract stream, the same query keeps its -U.
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, `dateTime` TIMESTAMP(3), extra STRING, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/nexmark/bid/bids-000.csv', 'format' = 'csv');
CREATE TABLE upserts (auction BIGINT, bidder BIGINT, price BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE retracts (auction BIGINT, bidder BIGINT, price BIGINT) WITH ('connector' = 'print');
EXPLAIN INSERT INTO upserts SELECT auction, bidder, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY `dateTime` DESC) AS rn FROM bid) WHERE rn = 1;
EXPLAIN INSERT INTO retracts SELECT auction, bidder, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY `dateTime` DESC) AS rn FROM bid) WHERE rn = 1;

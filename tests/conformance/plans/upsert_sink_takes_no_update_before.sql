-- A blackhole sink applies +U as an upsert (as in Flink): the deduplication
-- feeding it emits no -U, and the projection between them passes that on.
-- Into print, which folds a retract stream, the same query keeps its -U.
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, `dateTime` TIMESTAMP(3), extra STRING, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/nexmark/bid/bids-000.csv', 'format' = 'csv');
CREATE TABLE upserts (auction BIGINT, bidder BIGINT, price BIGINT) WITH ('connector' = 'blackhole');
CREATE TABLE retracts (auction BIGINT, bidder BIGINT, price BIGINT) WITH ('connector' = 'print');
EXPLAIN INSERT INTO upserts SELECT auction, bidder, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY `dateTime` DESC) AS rn FROM bid) WHERE rn = 1;
EXPLAIN INSERT INTO retracts SELECT auction, bidder, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY `dateTime` DESC) AS rn FROM bid) WHERE rn = 1;
-- A group aggregation into the upsert sink emits no -U; one feeding another
-- aggregation keeps them, since that one retracts what they name.
CREATE TABLE counts (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
EXPLAIN INSERT INTO counts SELECT bidder, COUNT(*) FROM bid GROUP BY bidder;
EXPLAIN INSERT INTO counts SELECT n, COUNT(*) FROM (SELECT bidder, COUNT(*) AS n FROM bid GROUP BY bidder) GROUP BY n;

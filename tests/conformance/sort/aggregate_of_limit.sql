CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, `dateTime` TIMESTAMP(3), extra STRING, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/nexmark/bid/bids-000.csv', 'format' = 'csv');
SELECT channel, COUNT(*) AS n FROM (SELECT * FROM bid LIMIT 100) GROUP BY channel;

SET 'execution.runtime-mode' = 'batch';
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, `dateTime` TIMESTAMP(3), extra STRING, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/nexmark/bid/bids-000.csv', 'format' = 'csv');
SELECT channel, COUNT(DISTINCT bidder) AS bidders FROM bid GROUP BY channel HAVING COUNT(*) > 3 ORDER BY bidders DESC, channel;

SET 'execution.runtime-mode' = 'batch';
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, `dateTime` TIMESTAMP(3), extra STRING, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/nexmark/bid/bids-000.csv', 'format' = 'csv');
SELECT window_start, COUNT(*) AS n, MAX(price) AS top FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) GROUP BY window_start, window_end;

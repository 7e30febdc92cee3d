-- Nexmark q5, hot items: every 2 seconds, the auctions that got the most
-- bids in the last 10 seconds (two HOP window aggregates joined on their
-- window). The query is Nexmark's, as in bench/nexmark/q5.sql, printed
-- instead of sent to a blackhole sink.
--
-- Run from the repository root:  eddy -f queries/nexmark_q5.sql
-- Input: queries/data/nexmark/bid.csv, 552 bids over 30 seconds: the bid
-- table of `python3 bench/gen_nexmark.py DIR 600 50` (the generator the
-- benchmarks use; bounded). What Apache Flink 2.3 prints for it:
-- queries/nexmark_q5.out (recorded by queries/record.sh;
-- tests/queries.rs checks that Eddy prints the same rows).

CREATE TABLE bid (
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel STRING,
  url STRING,
  `dateTime` TIMESTAMP(3),
  extra STRING,
  WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = 'queries/data/nexmark/bid.csv',
  'format' = 'csv'
);

CREATE TABLE hot_items (auction BIGINT, num BIGINT) WITH ('connector' = 'print');

INSERT INTO hot_items
SELECT AuctionBids.auction, AuctionBids.num
FROM (
  SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime
  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
  GROUP BY auction, window_start, window_end
) AS AuctionBids
JOIN (
  SELECT MAX(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
  FROM (
    SELECT COUNT(*) AS num, window_start AS starttime, window_end AS endtime
    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
    GROUP BY auction, window_start, window_end
  ) AS CountBids
  GROUP BY CountBids.starttime, CountBids.endtime
) AS MaxBids
ON AuctionBids.starttime = MaxBids.starttime
  AND AuctionBids.endtime = MaxBids.endtime
  AND AuctionBids.num >= MaxBids.maxn;

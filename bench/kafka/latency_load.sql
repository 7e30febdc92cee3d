-- ${RATE} bids a second for ${SECONDS} seconds into lat_in.
SET 'table.dml-sync' = 'true';
CREATE TABLE gen (auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING)
WITH ('connector' = 'datagen', 'rows-per-second' = '${RATE}', 'number-of-rows' = '${ROWS}',
  'fields.auction.min' = '1000', 'fields.auction.max' = '2000', 'fields.extra.length' = '20');
CREATE TABLE lat_in (auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING)
WITH ('connector' = 'kafka', 'topic' = 'lat_in', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'json',
  -- The load generator sends at once (Eddy's sink waits up to 5 ms).
  'properties.linger.ms' = '1');
INSERT INTO lat_in SELECT * FROM gen;

-- Loads the Nexmark bids (CSV files) into the topic as JSON.
SET 'table.dml-sync' = 'true';
CREATE TABLE bid_file (
  auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
  `dateTime` TIMESTAMP(3), extra STRING
) WITH ('connector' = 'filesystem', 'path' = '${DATA}', 'format' = 'csv');
CREATE TABLE bids (
  auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
  `dateTime` TIMESTAMP(3), extra STRING
) WITH ('connector' = 'kafka', 'topic' = 'bids', 'properties.bootstrap.servers' = '${BROKER}',
  'format' = 'json', 'sink.partitioner' = 'round-robin');
INSERT INTO bids SELECT * FROM bid_file;

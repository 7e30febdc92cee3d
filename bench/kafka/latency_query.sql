-- The latency job: q0 over lat_in (unbounded), keeping each input record's
-- Kafka timestamp so that the output's can be compared with it.
CREATE TABLE lat_in (auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING,
  in_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp')
WITH ('connector' = 'kafka', 'topic' = 'lat_in', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset',
  -- tansu 0.6 answers a fetch only after its wait is over, even when
  -- records are there (a Kafka broker answers at once): wait 1 ms.
  'properties.fetch.wait.max.ms' = '1');
CREATE TABLE lat_out (auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING, in_ts TIMESTAMP_LTZ(3))
WITH ('connector' = 'kafka', 'topic' = 'lat_out', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'json');
INSERT INTO lat_out SELECT auction, bidder, price, `dateTime`, extra, in_ts FROM lat_in;

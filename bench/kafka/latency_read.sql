-- Per output record: its Kafka timestamp minus its input's, in ms.
CREATE TABLE lat_out (auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra STRING, in_ts TIMESTAMP_LTZ(3),
  out_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL)
WITH ('connector' = 'kafka', 'topic' = 'lat_out', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'json',
  'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = 'partition:0,offset:${ROWS}');
SELECT in_ts, out_ts FROM lat_out;

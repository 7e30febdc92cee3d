-- Q14 as Nexmark defines it, with its count_char UDF: registered in Rust by
-- examples/nexmark_q14_udf.rs on Eddy, by CREATE FUNCTION (bench/udf/CountChar.java)
-- on Flink (bench/udf/run.sh adds that line).
CREATE TABLE sink (auction BIGINT, bidder BIGINT, price DOUBLE, bidTimeType STRING, `dateTime` TIMESTAMP(3), extra STRING, c_counts BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT auction, bidder, 0.908 * price AS price,
  CASE WHEN HOUR(`dateTime`) >= 8 AND HOUR(`dateTime`) <= 18 THEN 'dayTime'
       WHEN HOUR(`dateTime`) <= 6 OR HOUR(`dateTime`) >= 20 THEN 'nightTime'
       ELSE 'otherTime' END AS bidTimeType,
  `dateTime`, extra, count_char(extra, 'c') AS c_counts
FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;

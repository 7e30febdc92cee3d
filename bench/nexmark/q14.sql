-- Q14: calculation, without the count_char UDF of the original.
CREATE TABLE sink (auction BIGINT, bidder BIGINT, price DOUBLE, bidTimeType STRING, `dateTime` TIMESTAMP(3), extra STRING) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT auction, bidder, 0.908 * price AS price,
  CASE WHEN HOUR(`dateTime`) >= 8 AND HOUR(`dateTime`) <= 18 THEN 'dayTime'
       WHEN HOUR(`dateTime`) <= 6 OR HOUR(`dateTime`) >= 20 THEN 'nightTime'
       ELSE 'otherTime' END AS bidTimeType,
  `dateTime`, extra
FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;

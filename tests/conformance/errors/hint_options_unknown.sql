CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '2');
SELECT *
  FROM t /*+ OPTIONS('number-of-rowz' = '5') */;

CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1');
SELECT a
  FROM t WHERE;

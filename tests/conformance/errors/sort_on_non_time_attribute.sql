CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT a FROM t ORDER BY a;

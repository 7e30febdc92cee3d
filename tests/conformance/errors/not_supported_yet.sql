CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT x.a FROM t x JOIN t y ON x.a = y.a;

CREATE TABLE t (a INT) WITH ('connector' = 'kafak');
SELECT a FROM t;

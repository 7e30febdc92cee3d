CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '2');
CREATE VIEW v AS SELECT * FROM t;
SELECT * FROM v /*+ OPTIONS('number-of-rows' = '5') */;

CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '2', 'fields.a.kind' = 'sequence', 'fields.a.start' = '1', 'fields.a.end' = '100');
SELECT COUNT(*) AS n, MAX(a) AS top FROM t /*+ OPTIONS('number-of-rows' = '5') */;

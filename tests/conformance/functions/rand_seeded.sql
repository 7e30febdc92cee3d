-- RAND(seed) and RAND_INTEGER([seed, ] bound): Java's generator, one per call
-- and task, so the values depend on the parallelism (in Flink too): run at 1.
SET 'parallelism.default' = '1';
CREATE TABLE t (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '6', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '6');
SELECT id, RAND(42) AS r, RAND_INTEGER(7, 100) AS i, RAND_INTEGER(-3, 16) AS j, RAND_INTEGER(100) < 100 AS k FROM t;

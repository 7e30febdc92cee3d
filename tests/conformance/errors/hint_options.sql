-- Dynamic table options change what a source reads: Eddy does not apply
-- them yet, so it refuses them rather than read with the declared options.
CREATE TABLE t (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '2');
SELECT *
  FROM t /*+ OPTIONS('number-of-rows' = '5') */;

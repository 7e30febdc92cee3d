SET 'execution.runtime-mode' = 'batch';
CREATE TABLE g (a INT) WITH ('connector' = 'datagen');
SELECT * FROM g;

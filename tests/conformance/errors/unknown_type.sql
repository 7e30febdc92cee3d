CREATE TABLE t (a INT, b STRINGG) WITH ('connector' = 'datagen');

CREATE TABLE t (a INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv', 'csv.delimeter' = ';');
SELECT a FROM t;

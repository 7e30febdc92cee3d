-- NOT IN over a NULL-free subquery: a NULL on the outer side is unknown, so that row is dropped too.
CREATE TABLE nl (k INT, v STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/null_left.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE nr (k INT, w STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/null_right.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
SELECT nl.k, nl.v FROM nl WHERE nl.k NOT IN (SELECT nr.k FROM nr WHERE nr.k IS NOT NULL);

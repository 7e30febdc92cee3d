-- NULL keys never match: every NULL-keyed row comes out padded, on both sides.
CREATE TABLE nl (k INT, v STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/null_left.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE nr (k INT, w STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/null_right.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
SELECT nl.k, nl.v, nr.k, nr.w FROM nl FULL OUTER JOIN nr ON nl.k = nr.k;

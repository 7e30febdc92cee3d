-- NOT IN over a subquery holding a NULL is never true: no row, at any parallelism.
CREATE TABLE m (id INT, k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/main.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE s (k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/sub_null_middle.json', 'format' = 'json');
SELECT id, k FROM m WHERE k NOT IN (SELECT k FROM s);

-- NOT IN: the subquery's NULL is its last row, after rows were emitted.
CREATE TABLE m (id INT, k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/main.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE s (k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/sub_null_last.json', 'format' = 'json');
SELECT id, k FROM m WHERE k NOT IN (SELECT k FROM s);

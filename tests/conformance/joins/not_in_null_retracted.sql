-- NOT IN over an updating subquery whose NULL comes and is retracted (its group's count leaves 1).
CREATE TABLE m (id INT, k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/main.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE s (k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/sub_null_twice.json', 'format' = 'json');
SELECT id, k FROM m WHERE k NOT IN (SELECT k FROM s GROUP BY k HAVING COUNT(*) = 1);

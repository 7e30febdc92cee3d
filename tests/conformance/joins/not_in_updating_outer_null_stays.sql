-- NOT IN with an updating outer side and a subquery that keeps its NULL: no row.
CREATE TABLE m (id INT, k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/main.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE s (k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/sub_null_last.json', 'format' = 'json');
SELECT k, c FROM (SELECT k, COUNT(*) AS c FROM m GROUP BY k) WHERE k NOT IN (SELECT k FROM s);

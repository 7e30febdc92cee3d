-- NOT IN over an empty subquery is true for every row, a NULL key too.
CREATE TABLE m (id INT, k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/main.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE s (k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/sub_no_null.json', 'format' = 'json');
SELECT id, k FROM m WHERE k NOT IN (SELECT k FROM s WHERE k > 100);

-- NOT IN over a correlated subquery is refused by name: its NULL rules would hold per correlated value.
CREATE TABLE m (id INT, k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/main.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE s (k INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/not_in/sub_null_middle.json', 'format' = 'json');
SELECT id, k FROM m WHERE k NOT IN (SELECT s.k FROM s WHERE s.k > m.id);

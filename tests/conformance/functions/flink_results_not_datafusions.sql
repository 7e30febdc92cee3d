-- Where DataFusion's function of the same name gives another result than
-- Flink's: DAYOFWEEK and EXTRACT(DOW) count from Sunday = 1; FROM_UNIXTIME
-- returns text; CEIL and FLOOR keep a DECIMAL's precision at scale 0 and an
-- INT's type; GREATEST and LEAST are NULL when an argument is.
CREATE TABLE ev (id INT, ts TIMESTAMP(3), amount DECIMAL(5, 2), n INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/silent_differences.csv', 'format' = 'csv');
SELECT DAYOFWEEK(DATE '1994-09-27') AS a, DAYOFWEEK(DATE '2024-01-07') AS b, FROM_UNIXTIME(44) AS c, FROM_UNIXTIME(1700000000, 'yyyy/MM/dd HH:mm') AS d, CEIL(1.5) AS e, FLOOR(-1.5) AS f, GREATEST(1, CAST(NULL AS INT), 3) AS g, LEAST(2, CAST(NULL AS INT)) AS h, CEIL(1.5E0) AS i, CEIL(123.45) AS j;
SELECT GREATEST(1, 5, 3) AS g, LEAST('b', 'a') AS l, DAYOFWEEK(TIMESTAMP '2024-03-09 10:00:00') AS dw, FLOOR(12.5) AS fl, CEIL(CAST(-0.5 AS DECIMAL(3,1))) AS c2, EXTRACT(DOW FROM DATE '1994-09-27') AS dow;
SELECT id, DAYOFWEEK(ts) AS dw, EXTRACT(DOW FROM ts) AS dow, CEIL(amount) AS c, FLOOR(amount) AS f, CEIL(n) AS ci, GREATEST(n, id) AS g, LEAST(n, id) AS l, FROM_UNIXTIME(n) AS u FROM ev;

CREATE TABLE l (k INT, v INT, tag STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/dup_left.csv', 'format' = 'csv');
CREATE TABLE r (k INT, w INT, tag STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/dup_right.csv', 'format' = 'csv');
SELECT l.tag, r.tag, l.v, r.w FROM l JOIN r ON l.k = r.k AND l.v > r.w;

CREATE TABLE l (k INT, v INT, tag STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/dup_left.csv', 'format' = 'csv');
CREATE TABLE r (k INT, w INT, tag STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/dup_right.csv', 'format' = 'csv');
SELECT l.k, l.tag, r.k, r.tag FROM l JOIN r ON l.k + 1 = r.k;

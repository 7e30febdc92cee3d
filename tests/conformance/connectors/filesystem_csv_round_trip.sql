SET 'table.dml-sync' = 'true';
CREATE TABLE written (id INT, note STRING, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${TMP}/rt', 'format' = 'csv');
INSERT INTO written SELECT id, note, ts FROM (VALUES (1, 'plain', TIMESTAMP '2024-05-06 07:08:09.010'), (2, 'with, comma', TIMESTAMP '2024-05-06 07:08:09'), (3, 'say "hi"', TIMESTAMP '2024-05-06 23:59:59.999')) AS v(id, note, ts);
CREATE TABLE read_back (id INT, note STRING, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${TMP}/rt', 'format' = 'csv');
SELECT * FROM read_back;

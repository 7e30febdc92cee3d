CREATE TABLE logs (id INT, worker STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', 'path' = '${DATA}/logs/part-2.csv', 'format' = 'csv');
SELECT TUMBLE_START(ts, INTERVAL '5' SECOND) AS s, TUMBLE_END(ts, INTERVAL '5' SECOND) AS e, worker, COUNT(*) FROM logs GROUP BY worker, TUMBLE(ts, INTERVAL '5' SECOND);

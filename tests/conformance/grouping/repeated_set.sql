CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
SELECT `user`, COUNT(*) AS n, COUNT(DISTINCT meta.device) AS devices FROM events WHERE id > 1 GROUP BY GROUPING SETS ((`user`), (`user`), ());

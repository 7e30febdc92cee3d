SET 'execution.runtime-mode' = 'batch';
CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
SELECT `user`, COUNT(*) AS n, SUM(`value`) AS s FROM events GROUP BY `user`;

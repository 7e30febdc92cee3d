CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
SELECT `user`, meta.device AS device, COUNT(*) AS n, MAX(`value`) AS top FROM events GROUP BY CUBE(`user`, meta.device);

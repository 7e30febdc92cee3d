CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
SELECT u, x FROM (SELECT `user` AS u, COUNT(*) AS c FROM events GROUP BY `user`) CROSS JOIN UNNEST(ARRAY[c, c * 10]) AS t(x);

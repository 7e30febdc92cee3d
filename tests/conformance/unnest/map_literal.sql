CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
SELECT id, MAP['tag', t] AS m, CARDINALITY(MAP['x', 1, 'y', 2]) AS n FROM events CROSS JOIN UNNEST(tags) AS x(t);

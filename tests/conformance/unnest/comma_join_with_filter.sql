CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
SELECT events.id, x.t FROM events, UNNEST(events.tags) AS x(t) WHERE x.t <> 'a';

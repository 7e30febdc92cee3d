CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
SELECT id, `user` IS NULL, `value` + 1, CONCAT(`user`, '!'), COALESCE(`user`, 'anon'), UPPER(`user`), `value` > 0 FROM events;

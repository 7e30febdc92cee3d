SET 'execution.runtime-mode' = 'batch';
SET 'table.dml-sync' = 'true';
CREATE TABLE events (id BIGINT, `user` STRING, meta ROW<device STRING, version INT>, tags ARRAY<STRING>, `value` DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/events.json', 'format' = 'json');
CREATE TABLE per_user (`user` STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '${TMP}/per_user', 'format' = 'csv');
INSERT INTO per_user SELECT `user`, COUNT(*) FROM events GROUP BY `user`;
SELECT * FROM per_user;

CREATE TABLE bad (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bad.json', 'format' = 'json');
SELECT * FROM bad /*+ OPTIONS('json.ignore-parse-errors' = 'true') */;

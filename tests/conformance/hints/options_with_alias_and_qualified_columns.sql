CREATE TABLE bad (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bad.json', 'format' = 'json');
SELECT b.id, bad.name FROM bad /*+ OPTIONS('json.ignore-parse-errors' = 'true') */ AS b JOIN bad /*+ OPTIONS('json.ignore-parse-errors'='true') */ ON b.id = bad.id;

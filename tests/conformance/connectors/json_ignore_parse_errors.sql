CREATE TABLE bad (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bad.json', 'format' = 'json', 'json.ignore-parse-errors' = 'true');
SELECT * FROM bad;

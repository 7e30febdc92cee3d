SET 'table.dml-sync' = 'true';
CREATE TABLE src (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bad.json', 'format' = 'json', 'json.ignore-parse-errors' = 'true');
CREATE TABLE copy WITH ('connector' = 'filesystem', 'path' = '${TMP}/copy', 'format' = 'csv') AS SELECT id, UPPER(name) AS name FROM src WHERE id IS NOT NULL;
SELECT * FROM copy;
CREATE OR REPLACE TABLE copy WITH ('connector' = 'filesystem', 'path' = '${TMP}/copy2', 'format' = 'json') AS SELECT id * 10 AS id10 FROM src WHERE id > 1;
SELECT * FROM copy;

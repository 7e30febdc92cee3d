SET 'table.dml-sync' = 'true';
CREATE TABLE src (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bad.json', 'format' = 'json', 'json.ignore-parse-errors' = 'true');
CREATE TABLE out_csv (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${TMP}/a', 'format' = 'json');
INSERT INTO out_csv /*+ OPTIONS('format' = 'csv') */ SELECT * FROM src WHERE id IS NOT NULL;
CREATE TABLE back_in (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${TMP}/a', 'format' = 'csv');
SELECT * FROM back_in;

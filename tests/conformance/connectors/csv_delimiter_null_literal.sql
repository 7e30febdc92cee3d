CREATE TABLE pipes (name STRING, n INT, code STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/pipes.csv', 'format' = 'csv', 'csv.field-delimiter' = '|', 'csv.null-literal' = 'N/A');
SELECT name, n, code, n IS NULL FROM pipes;

-- An empty CSV line under 'csv.ignore-parse-errors': its fields are NULL, as in Flink (the row is kept, not skipped).
CREATE TABLE t (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/empty_line.csv', 'format' = 'csv', 'csv.ignore-parse-errors' = 'true');
SELECT * FROM t;

-- An empty CSV line read into one STRING column is an empty string, not a skipped line.
CREATE TABLE t (name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/empty_line.csv', 'format' = 'csv', 'csv.ignore-parse-errors' = 'true');
SELECT name, CHAR_LENGTH(name) FROM t;

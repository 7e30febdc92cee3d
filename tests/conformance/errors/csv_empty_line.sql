-- An empty line in a CSV file is a record of one empty field: a table of two columns fails on it, naming the file and line (as Flink does).
CREATE TABLE t (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/empty_line.csv', 'format' = 'csv');
SELECT * FROM t;

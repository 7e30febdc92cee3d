CREATE TABLE bad (id INT, note STRING, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bad.csv', 'format' = 'csv');
SELECT * FROM bad;

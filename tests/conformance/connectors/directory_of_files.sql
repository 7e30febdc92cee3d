CREATE TABLE logs (id INT, worker STRING, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/logs', 'format' = 'csv');
SELECT worker, id, ts FROM logs WHERE id <> 5;

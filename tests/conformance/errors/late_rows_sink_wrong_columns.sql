CREATE TABLE clicks (id INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = '${DATA}/late', 'format' = 'csv');
CREATE TABLE late_clicks (id INT, ts TIMESTAMP(3)) WITH ('connector' = 'blackhole');
SET 'table.exec.late-data.sink' = 'late_clicks';
SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;

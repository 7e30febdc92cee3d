-- SET of an option Eddy does not act on, or of a key it does not know, is
-- accepted (as in Flink) with a warning that names it; so is a hint that
-- changes only how a query runs.
SET 'table.local-time-zone' = 'Asia/Tokyo';
SET 'execution.runtime-mode' = 'automatic';
SET 'table.exec.mini-batch.enabled' = 'true';
SET 'table.exec.sate.ttl' = '1 h';
SELECT /*+ BROADCAST(x) */ 1;

-- Both inputs are updating (group aggregations), so the join sees retractions from both sides.
CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE payments (pid INT, cid INT, paid INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/payments.csv', 'format' = 'csv');
SELECT o.cid, o.ordered, p.paid, o.ordered - p.paid AS owed FROM (SELECT cid, SUM(amount) AS ordered FROM orders GROUP BY cid) o JOIN (SELECT cid, SUM(paid) AS paid, COUNT(*) AS n FROM payments GROUP BY cid) p ON o.cid = p.cid;

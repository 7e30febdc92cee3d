-- tables: nexmark_tables.sql
-- Q4: average closing price per category — a regular join of auctions and
-- their bids, then two updating aggregations.
CREATE TABLE sink (id BIGINT, final BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink
SELECT Q.category, AVG(Q.final)
FROM (
  SELECT MAX(B.price) AS final, A.category
  FROM auction A, bid B
  WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires
  GROUP BY A.id, A.category
) Q
GROUP BY Q.category;

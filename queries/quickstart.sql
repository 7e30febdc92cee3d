-- Eddy quickstart: no Kafka needed. A bounded datagen source, a filter and
-- a projection with Flink functions, printed as Flink's print sink does.
CREATE TABLE clicks (
  id INT,
  user_id INT,
  url STRING,
  ts AS TIMESTAMP '2024-01-01 12:00:00' + INTERVAL '90' SECOND
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '20',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20',
  'fields.user_id.min' = '1', 'fields.user_id.max' = '5',
  'fields.url.length' = '6'
);

CREATE TABLE console (id INT, who STRING, page STRING, at_minute STRING) WITH ('connector' = 'print');

INSERT INTO console
SELECT id, CONCAT('user-', CAST(user_id AS STRING)), UPPER(url), DATE_FORMAT(ts, 'HH:mm:ss')
FROM clicks
WHERE MOD(id, 2) = 0;

-- Flink's JSON functions over JSON text in a column: JSON_VALUE (scalars
-- as text, numbers as Flink writes them; NULL for objects, arrays, JSON
-- null, missing values and text that is not JSON; lax and strict paths),
-- JSON_EXISTS, JSON_QUERY (keys sorted; a list for a wildcard path) and
-- JSON_STRING, and JSON_VALUE .. RETURNING.
CREATE TABLE ev (id INT, payload STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/json_payloads.jsonl', 'format' = 'json');
SELECT id,
  JSON_VALUE(payload, '$.user.id') AS uid,
  JSON_VALUE(payload, '$.user.name') AS uname,
  JSON_VALUE(payload, '$.amount') AS amount,
  JSON_VALUE(payload, '$.ok') AS ok,
  JSON_VALUE(payload, '$.n') AS n,
  JSON_VALUE(payload, '$.user') AS obj,
  JSON_VALUE(payload, '$.user.tags') AS arr,
  JSON_VALUE(payload, '$.user.tags[1]') AS tag1,
  JSON_VALUE(payload, '$.missing') AS missing,
  JSON_VALUE(payload, '$.big') AS big,
  JSON_VALUE(payload, '$.f') AS f,
  JSON_VALUE(payload, '$.neg') AS neg,
  JSON_VALUE(payload, '$.s') AS s,
  JSON_VALUE(payload, '$[2].a') AS idx,
  JSON_VALUE(payload, 'lax $.user.name') AS lax,
  JSON_VALUE(payload, 'strict $.user.name') AS strict_name
FROM ev;
SELECT id,
  JSON_EXISTS(payload, '$.user') AS has_user,
  JSON_EXISTS(payload, '$.user.tags[5]') AS has_tag5,
  JSON_EXISTS(payload, '$.n') AS has_n,
  JSON_QUERY(payload, '$.user') AS q_user,
  JSON_QUERY(payload, '$.user.tags') AS q_tags,
  JSON_QUERY(payload, '$.amount') AS q_scalar,
  JSON_QUERY(payload, '$') AS q_all,
  JSON_STRING(id) AS js_id,
  JSON_STRING(payload) AS js_payload
FROM ev;
SELECT JSON_STRING(1.5) AS a, JSON_STRING(TRUE) AS b, JSON_STRING(CAST(NULL AS STRING)) AS c, JSON_STRING(ARRAY[1, 2]) AS d, JSON_STRING('x"y') AS e, JSON_VALUE('{"a":[{"b":1},{"b":2}]}', '$.a[*].b') AS w, JSON_QUERY('{"a":[{"b":1},{"b":2}]}', '$.a[*].b') AS wq, JSON_VALUE('{"a":{"b":1}}', '$.a.b') AS ab;
SELECT JSON_VALUE('{"a":1}', '$.a' RETURNING INT) AS a, JSON_VALUE('{"a":1.5}', '$.a' RETURNING DOUBLE) AS b, JSON_VALUE('{"a":true}', '$.a' RETURNING BOOLEAN) AS c, JSON_VALUE('{"b":1}', '$.a' RETURNING INT) AS d;

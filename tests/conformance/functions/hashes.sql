-- Flink's hash functions, as lowercase hex text, over a column and over
-- literals; SHA2 of a NULL length is NULL.
CREATE TABLE ev (id INT, payload STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/json_payloads.jsonl', 'format' = 'json');
SELECT id, MD5(payload) AS m, SHA1(payload) AS s1, SHA224(payload) AS s224, SHA256(payload) AS s256, SHA384(payload) AS s384, SHA512(payload) AS s512, SHA2(payload, 256) AS s2, SHA2(payload, 224) AS s2b FROM ev;
SELECT MD5('') AS a, SHA1('abc') AS b, SHA2('abc', 512) AS c, SHA2('abc', 384) AS d, MD5(CAST(NULL AS STRING)) AS e, SHA2('abc', CAST(NULL AS INT)) AS f;

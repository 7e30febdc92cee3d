SELECT JSON_VALUE(s, '$.a' ERROR ON ERROR) FROM (VALUES ('{"a":1}'), ('[1')) AS t(s);

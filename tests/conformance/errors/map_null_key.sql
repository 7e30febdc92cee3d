SELECT i, k, v FROM (VALUES (1, MAP['a', 1, CAST(NULL AS STRING), 2])) AS m(i, mm) CROSS JOIN UNNEST(mm) AS t(k, v);

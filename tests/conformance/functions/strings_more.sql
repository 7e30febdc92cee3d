-- More of Flink's string and array functions, with edge values: LEFT and
-- RIGHT of a negative length are empty and LPAD/RPAD to one NULL (not
-- DataFusion's); ARRAY_REMOVE removes every equal element; base64, IS_*,
-- LOCATE/INSTR, STARTSWITH/ENDSWITH, REGEXP, SPLIT and ELEMENT.
CREATE TABLE words (id INT, w STRING, n INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/words.csv', 'format' = 'csv');
SELECT id, LEFT(w, n) AS l, RIGHT(w, n) AS r, LPAD(w, n, '*') AS lp, RPAD(w, n, '*') AS rp, TO_BASE64(w) AS b64, FROM_BASE64(TO_BASE64(w)) AS back, IS_ALPHA(w) AS alpha, IS_DIGIT(w) AS digit, IS_DECIMAL(w) AS is_dec, LOCATE('l', w) AS loc, LOCATE('l', w, n) AS loc_from, INSTR(w, 'lo') AS ins, STARTSWITH(w, 'he') AS sw, ENDSWITH(w, 'lo') AS ew, REGEXP(w, '^[0-9.]+$') AS re, SPLIT(w, 'l') AS parts FROM words;
SELECT LEFT('abc', -1) AS a, RIGHT('abc', -2) AS b, LPAD('hi', -1, 'x') IS NULL AS c, ARRAY_REMOVE(ARRAY[1, 2, 1], 1) AS d, ELEMENT(ARRAY[7]) AS e, IS_ALPHA('') AS g, IS_DECIMAL('-1.5') AS h, IS_DECIMAL('1.') AS i, IS_DECIMAL('.5') AS j, LOCATE('b', 'abcb', 3) AS k, LOCATE('b', 'abc', 0) AS m, LOCATE('b', 'abc', -5) AS n, LOCATE('', 'abc', 2) AS o, INSTR('abc', '') AS p, LOCATE('b', 'abc', 4) AS q;

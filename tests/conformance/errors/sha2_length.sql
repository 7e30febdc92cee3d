-- SHA2 of a length other than 224, 256, 384 or 512 fails, as in Flink.
SELECT SHA2('abc', 100) AS g;

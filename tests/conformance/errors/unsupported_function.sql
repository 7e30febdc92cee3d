-- A Flink function Eddy does not have yet is refused by name, where it is.
SELECT 1 AS a,
  TYPEOF('a') AS b;

-- '02' casts to 2; code 7 has no customer.
CREATE TABLE codes (code STRING, label STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/codes.csv', 'format' = 'csv');
CREATE TABLE customers (cid INT, name STRING, region STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/customers.csv', 'format' = 'csv');
SELECT codes.code, codes.label, c.name FROM codes JOIN customers c ON CAST(codes.code AS INT) = c.cid;

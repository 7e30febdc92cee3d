CREATE TABLE orders (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.csv', 'format' = 'csv');
CREATE TABLE p1 (id INT, status STRING) WITH ('connector' = 'print', 'print-identifier' = 'first');
CREATE TABLE p2 (customer STRING) WITH ('connector' = 'print', 'print-identifier' = 'second');
EXECUTE STATEMENT SET BEGIN INSERT INTO p1 SELECT id, status FROM orders WHERE id < 3; INSERT INTO p2 SELECT customer FROM orders WHERE id > 4; END;

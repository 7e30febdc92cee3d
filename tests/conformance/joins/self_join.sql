CREATE TABLE employees (id INT, name STRING, manager_id INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/employees.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
SELECT e.name, m.name AS manager FROM employees e JOIN employees m ON e.manager_id = m.id;

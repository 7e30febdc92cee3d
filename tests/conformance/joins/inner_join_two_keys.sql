CREATE TABLE stock (store STRING, item STRING, qty INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/stock.csv', 'format' = 'csv');
CREATE TABLE prices (store STRING, item STRING, price INT) WITH ('connector' = 'filesystem', 'path' = '${DATA}/joins/prices.csv', 'format' = 'csv');
SELECT s.store, s.item, s.qty, p.price, s.qty * p.price AS worth FROM stock s JOIN prices p ON s.store = p.store AND s.item = p.item;

CREATE TABLE gen (id INT, name STRING) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '12', 'fields.name.kind' = 'sequence', 'fields.name.start' = '100', 'fields.name.end' = '200');
CREATE TABLE out_print (id INT, name STRING, even BOOLEAN) WITH ('connector' = 'print');
INSERT INTO out_print SELECT id, name, MOD(id, 2) = 0 FROM gen;

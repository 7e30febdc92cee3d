-- A known option's value is checked when it is set.
SET 'table.exec.state.ttl' = 'soon';

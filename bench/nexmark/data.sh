# Sourced by the benchmark scripts: `query_data QUERY EVENTS` sets `tables`
# (the DDL file the query reads) and `data` (its directory), generating the
# data on first use. A query reads bid_table.sql (EVENTS bids) unless its
# first line names other tables (`-- tables: nexmark_tables.sql`: EVENTS
# Nexmark events as persons, auctions and bids).
query_data() {
  tables=$(sed -n '1s/^-- tables: //p' "bench/nexmark/$1.sql")
  if [ "$tables" = nexmark_tables.sql ]; then
    data=bench/data/nexmark-$2
    [ -d "$data" ] || python3 bench/gen_nexmark.py "$data" "$2" 1 4
  else
    tables=bid_table.sql data=bench/data/bids-$2
    [ -d "$data" ] || python3 bench/gen_bids.py "$data" "$2" 4
  fi
}

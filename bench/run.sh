#!/usr/bin/env bash
# Nexmark queries on Eddy and on Flink over the same CSV files:
#   bench/run.sh [EVENTS=5000000] [PARALLELISM=1] [QUERIES="q0 q1 q2 q14 q21 q22"]
# A query reads bid_table.sql (EVENTS bids, bench/gen_bids.py) unless its
# first line names other tables (`-- tables: nexmark_tables.sql`: EVENTS
# Nexmark events as persons, auctions and bids, bench/gen_nexmark.py).
# Prints events/s for both, the ratio, and both peak memories (RSS). Flink's
# time is the job time its runner reports (without JVM start); Eddy's is the
# whole process. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/nexmark/data.sh
events=${1:-5000000}; par=${2:-1}; queries=${3:-"q0 q1 q2 q14 q21 q22"}
flink=${FLINK_SQL:-../shared/tools/flink/flink-sql}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p eddy-shell --bin eddy >/dev/null
mkdir -p bench/results
printf '%-5s %12s %12s %7s %10s %10s\n' query eddy_ev/s flink_ev/s ratio eddy_MB flink_MB
for q in $queries; do
  query_data "$q" "$events"
  script=bench/results/$q-p$par.sql
  { echo "SET 'parallelism.default' = '$par';"; echo "SET 'table.dml-sync' = 'true';";
    sed "s|\${DATA}|$PWD/$data|" bench/nexmark/$tables; cat bench/nexmark/$q.sql; } > "$script"
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o bench/results/$q.mem target/release/eddy -f "$script" >/dev/null
  end=$(date +%s.%N)
  eddy_s=$(echo "$end - $start" | bc -l)
  flink_ms=$(/usr/bin/time -f 'flink-sql: peak-kb=%M' "$flink" "$script" "$par" 2>&1 >/dev/null | tee bench/results/$q.flink.log | sed -n 's/.*insert ms=\([0-9]*\).*/\1/p' | tail -1)
  flink_kb=$(sed -n 's/.*peak-kb=\([0-9]*\).*/\1/p' bench/results/$q.flink.log | tail -1)
  eddy_eps=$(echo "$events / $eddy_s" | bc -l)
  flink_eps=$(echo "$events / ($flink_ms / 1000)" | bc -l)
  printf '%-5s %12.0f %12.0f %7.1f %10.1f %10.1f\n' "$q" "$eddy_eps" "$flink_eps" "$(echo "$eddy_eps / $flink_eps" | bc -l)" \
    "$(echo "$(cat bench/results/$q.mem) / 1024" | bc -l)" "$(echo "$flink_kb / 1024" | bc -l)"
done

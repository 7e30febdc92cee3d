#!/usr/bin/env bash
# The cost of checkpointing: each query runs on Eddy without checkpoints and
# with one every INTERVAL, over the same files, and the script prints both
# throughputs, the slowdown, and the checkpoints' count, average duration
# and size (from the job's summary line).
#   bench/checkpoint.sh [EVENTS=5000000] [QUERIES="q5 q17"] [INTERVAL="1 s"] [RUNS=3]
# The best of RUNS runs counts for each. Not a test. SETTINGS adds SET lines
# to the checkpointed runs, e.g. the disk backend and incremental
# checkpoints:
#   SETTINGS="SET 'state.backend.type' = 'rocksdb'; SET 'execution.checkpointing.incremental' = 'true';" \
#     bench/checkpoint.sh 2000000 q20
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/nexmark/data.sh
events=${1:-5000000}; queries=${2:-"q5 q17"}; interval=${3:-"1 s"}; runs=${4:-3}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p eddy-shell --bin eddy >/dev/null
mkdir -p bench/results
chk=$(mktemp -d /tmp/eddy-bench-chk.XXXXXX)
trap 'rm -rf "$chk"' EXIT
printf '%-5s %12s %12s %9s %6s %12s %12s\n' query plain_ev/s chk_ev/s slowdown chks avg_chk_ms avg_chk_KB
for q in $queries; do
  query_data "$q" "$events"
  body=$(sed "s|\${DATA}|$PWD/$data|" bench/nexmark/$tables; cat bench/nexmark/$q.sql)
  plain=bench/results/$q-plain.sql checked=bench/results/$q-checkpointed.sql
  { echo "SET 'table.dml-sync' = 'true';"; echo "$body"; } > "$plain"
  { echo "SET 'table.dml-sync' = 'true';"
    echo "SET 'execution.checkpointing.interval' = '$interval';"
    echo "SET 'execution.checkpointing.dir' = '$chk';"; echo "${SETTINGS:-}"; echo "$body"; } > "$checked"
  best() {  # best wall time in seconds of $runs runs of script $1; stderr of the last in $2
    local b=""
    for _ in $(seq "$runs"); do
      local s e t
      s=$(date +%s.%N); target/release/eddy -f "$1" >/dev/null 2>"$2"; e=$(date +%s.%N)
      t=$(echo "$e - $s" | bc -l)
      if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    done
    echo "$b"
  }
  plain_s=$(best "$plain" bench/results/$q-plain.log)
  chk_s=$(best "$checked" bench/results/$q-checkpointed.log)
  # "[INFO] Job 'x': N checkpoint(s), A ms and B bytes each on average; ..."
  line=$(grep -o "[0-9]* checkpoint(s), [0-9.]* ms and [0-9]* bytes" bench/results/$q-checkpointed.log || echo "0 checkpoint(s), 0 ms and 0 bytes")
  n=$(echo "$line" | awk '{print $1}'); ms=$(echo "$line" | awk '{print $3}'); bytes=$(echo "$line" | awk '{print $6}')
  printf '%-5s %12.0f %12.0f %8.1f%% %6s %12s %12.1f\n' "$q" "$(echo "$events / $plain_s" | bc -l)" \
    "$(echo "$events / $chk_s" | bc -l)" "$(echo "($chk_s / $plain_s - 1) * 100" | bc -l)" "$n" "$ms" \
    "$(echo "$bytes / 1024" | bc -l)"
done

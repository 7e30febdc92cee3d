#!/usr/bin/env bash
# Nexmark q14 with its count_char UDF, Eddy (a Rust UDF, through the Table
# API: examples/nexmark_q14_udf.rs) against Flink (the same UDF in Java,
# bench/udf/CountChar.java compiled by javac against Flink's jars), over the
# same CSV files:
#   bench/udf/run.sh [EVENTS=5000000] [PARALLELISM=1]
# Prints events/s for both and the ratio. Flink's time is the job time its
# runner reports (without JVM start); Eddy's is the whole process. Not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/nexmark/data.sh
events=${1:-5000000}; par=${2:-1}
flink=${FLINK_SQL:-../shared/tools/flink/flink-sql}
lib=${FLINK_SQL_HOME:-$HOME/.cache/flink-sql}/flink-2.3.0/pyflink/lib
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --example nexmark_q14_udf >/dev/null
query_data q14_udf "$events"
out=bench/results/udf; mkdir -p "$out/classes"
# The runner installs Flink's jars on first use.
[ -d "$lib" ] || "$flink" /dev/null >/dev/null 2>&1 || true
javac -d "$out/classes" -cp "$(ls "$lib"/*.jar | tr '\n' ':')" bench/udf/CountChar.java
(cd "$out/classes" && jar cf ../count_char.jar CountChar.class)
script=$out/q14_udf-p$par.sql
{ echo "SET 'parallelism.default' = '$par';"; echo "SET 'table.dml-sync' = 'true';";
  sed "s|\${DATA}|$PWD/$data|" bench/nexmark/$tables; cat bench/nexmark/q14_udf.sql; } > "$script"
{ head -2 "$script"; echo "CREATE TEMPORARY FUNCTION count_char AS 'CountChar';"; tail -n +3 "$script"; } > "$out/q14_udf-flink.sql"
start=$(date +%s.%N)
target/release/examples/nexmark_q14_udf "$script" 2>/dev/null
end=$(date +%s.%N)
eddy_s=$(echo "$end - $start" | bc -l)
flink_ms=$(FLINK_SQL_EXTRA_CP=$PWD/$out/count_char.jar "$flink" "$out/q14_udf-flink.sql" "$par" 2>&1 >/dev/null | tee "$out/flink.log" | sed -n 's/.*insert ms=\([0-9]*\).*/\1/p' | tail -1)
eddy_eps=$(echo "$events / $eddy_s" | bc -l)
flink_eps=$(echo "$events / ($flink_ms / 1000)" | bc -l)
printf '%-12s %12s %12s %7s\n' query eddy_ev/s flink_ev/s ratio
printf '%-12s %12.0f %12.0f %7.1f\n' q14_udf "$eddy_eps" "$flink_eps" "$(echo "$eddy_eps / $flink_eps" | bc -l)"

#!/usr/bin/env bash
# Kafka -> Kafka benchmarks through a real broker (tansu, in memory, started
# here on a free port unless BROKER=host:port names one):
#   bench/kafka/run.sh [EVENTS=2000000] [RATE=50000] [SECONDS=10]
# 1. Loads EVENTS Nexmark bids (bench/gen_bids.py CSV) into topic `bids`
#    (4 partitions) as JSON, and reports the load rate.
# 2. Runs q0 and q5 (bench/nexmark, their blackhole sinks turned into
#    topics) from `bids` (bounded at the loaded offsets) into topics,
#    Eddy pinned to one core (taskset), and reports events/s.
# 3. Runs q0 again checkpointing every second, its sink at-least-once and
#    then exactly-once (Kafka transactions), and reports events/s.
# 4. Latency: q0 runs unbounded from `lat_in` to `lat_out` while a datagen
#    job writes RATE bids a second for SECONDS seconds; p50/p99/max of each
#    output record's Kafka timestamp minus its input record's.
# Not a test; Flink is not run here (its Kafka connector jar is not part of
# the PyPI package).
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-2000000}; rate=${2:-50000}; seconds=${3:-10}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p eddy-shell --bin eddy >/dev/null
eddy=$PWD/target/release/eddy
tansu=${TANSU:-$(tools/tansu/install.sh)}
work=$(mktemp -d)
if [ -z "${BROKER:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  BROKER=127.0.0.1:$port
  taskset -c 0 "$tansu" broker --listener-url tcp://$BROKER --advertised-listener-url tcp://$BROKER --silent &
  tansu_pid=$!
  trap 'kill -9 $tansu_pid 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
else
  trap 'rm -rf "$work"' EXIT
fi
topic() { "$tansu" topic create "$1" --broker tcp://$BROKER --partitions "$2" >/dev/null; }
fill() { # script -> runnable copy with ${..} filled
  sed -e "s|\${BROKER}|$BROKER|g" -e "s|\${DATA}|$PWD/$data|g" -e "s|\${END_OFFSETS}|$ends|g" \
      -e "s|\${RATE}|$rate|g" -e "s|\${SECONDS}|$seconds|g" -e "s|\${ROWS}|$rows|g" "$@"
}
now() { date +%s.%N; }
# One file in time order: spread round-robin, every partition stays in
# order (four files read interleaved would not be).
data=bench/data/bids-$events-1
[ -d "$data" ] || python3 bench/gen_bids.py "$data" "$events" 1
rows=$((rate * seconds))
# Round-robin over 4 partitions: each gets a quarter (the first ones one more).
ends=$(for p in 0 1 2 3; do echo -n "partition:$p,offset:$(( events / 4 + (p < events % 4 ? 1 : 0) ));"; done)
ends=${ends%;}

topic bids 4; topic q0_out 4; topic q5_out 1; topic lat_in 1; topic lat_out 1
topic q0_alo_out 4; topic q0_eos_out 4
fill bench/kafka/load.sql > "$work/load.sql"
t0=$(now); "$eddy" -f "$work/load.sql" >/dev/null; t1=$(now)
printf '%-6s %12s %8s\n' step events/s seconds
printf '%-6s %12.0f %8.2f\n' load "$(echo "$events / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"
for q in q0 q5; do
  # The Nexmark query with its blackhole sink turned into a topic.
  { echo "SET 'table.dml-sync' = 'true';"; fill bench/kafka/bid_kafka.sql
    sed "s|WITH ('connector' = 'blackhole')|WITH ('connector' = 'kafka', 'topic' = '${q}_out', 'properties.bootstrap.servers' = '$BROKER', 'format' = 'json')|" bench/nexmark/$q.sql
  } > "$work/$q.sql"
  t0=$(now); /usr/bin/time -f '%M' -o "$work/$q.mem" taskset -c 1 "$eddy" -f "$work/$q.sql" >/dev/null; t1=$(now)
  printf '%-6s %12.0f %8.2f   (peak %d MB)\n' $q "$(echo "$events / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" $(( $(cat "$work/$q.mem") / 1024 ))
done
for delivery in at-least-once exactly-once; do
  name=q0-$([ $delivery = exactly-once ] && echo eos || echo alo)
  { echo "SET 'table.dml-sync' = 'true';"
    echo "SET 'execution.checkpointing.interval' = '1 s';"
    echo "SET 'execution.checkpointing.dir' = '$work/chk-$name';"
    fill bench/kafka/bid_kafka.sql
    sed "s|WITH ('connector' = 'blackhole')|WITH ('connector' = 'kafka', 'topic' = '${name/-/_}_out', 'properties.bootstrap.servers' = '$BROKER', 'format' = 'json', 'sink.delivery-guarantee' = '$delivery', 'sink.transactional-id-prefix' = 'bench-$name')|" bench/nexmark/q0.sql
  } > "$work/$name.sql"
  t0=$(now); /usr/bin/time -f '%M' -o "$work/$name.mem" taskset -c 1 "$eddy" -f "$work/$name.sql" >/dev/null 2>"$work/$name.err"; t1=$(now)
  printf '%-6s %12.0f %8.2f   (peak %d MB; %s)\n' $name "$(echo "$events / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" $(( $(cat "$work/$name.mem") / 1024 )) "$(grep -o '[0-9]* checkpoint(s), [^;]*' "$work/$name.err" | head -1)"
done

fill bench/kafka/latency_query.sql > "$work/lq.sql"
fill bench/kafka/latency_load.sql > "$work/ll.sql"
fill bench/kafka/latency_read.sql > "$work/lr.sql"
taskset -c 1 "$eddy" -f "$work/lq.sql" >/dev/null 2>&1 &
job=$!
sleep 1
"$eddy" -f "$work/ll.sql" >/dev/null
sleep 1
kill -INT $job 2>/dev/null || true; wait $job 2>/dev/null || true
"$eddy" -f "$work/lr.sql" | python3 -c '
import sys, re
from datetime import datetime
def ms(s): return datetime.fromisoformat(s.rstrip("Z")).timestamp() * 1000
d = sorted(ms(b) - ms(a) for a, b in (re.match(r"\+I\[(.*), (.*)\]", l).groups() for l in sys.stdin if l.startswith("+I[")))
n = len(d)
print(f"latency over {n} records at '"$rate"'/s: p50 {d[n//2]:.0f} ms, p99 {d[int(n*0.99)]:.0f} ms, max {d[-1]:.0f} ms")
'

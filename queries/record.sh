#!/usr/bin/env bash
# Records the expected output of the examples by running them on real
# Apache Flink 2.3 (../shared/tools/flink/flink-sql; FLINK_SQL overrides)
# at parallelism 1, from the repository root, as `eddy -f` runs them:
#   queries/record.sh [queries/NAME.sql ...]   (default: every example)
# writes queries/NAME.out, what Flink's print sinks printed.
#
# An example that uses the kafka connector names its topics in its header:
#   -- Input topic:  NAME <- FILE (a record per line)
#   -- Output topic: NAME
# For it this starts the test broker (tansu, installed by
# tools/tansu/install.sh; TANSU overrides) on a free loopback port, creates
# the topics (one partition each), has Flink write each input file into
# its topic a line per record, runs the example with the broker's address
# in place of localhost:9092, and writes what landed in the output topics,
# read back by Flink as raw values (`+I[<record value>]`), to NAME.out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
flink=${FLINK_SQL:-$root/../shared/tools/flink/flink-sql}
tansu=${TANSU:-${XDG_DATA_HOME:-$HOME/.local/share}/eddy/tansu/bin/tansu}
examples=("$@")
[ ${#examples[@]} -gt 0 ] || mapfile -t examples < <(ls queries/*.sql)
tmp=$(mktemp -d)
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill -9 "$broker_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

flink_run() { # script out
  if ! "$flink" "$1" 1 > "$2" 2> "$tmp/err"; then
    echo "FLINK FAILED on $1:" >&2
    grep -E 'Exception|Caused by' "$tmp/err" | head -5 >&2
    return 1
  fi
}

start_broker() {
  [ -x "$tansu" ] || { echo "no tansu at $tansu: run tools/tansu/install.sh" >&2; return 1; }
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  url=tcp://127.0.0.1:$port
  "$tansu" broker --listener-url "$url" --advertised-listener-url "$url" \
    --storage-engine memory://tansu/ --silent > /dev/null 2>&1 &
  broker_pid=$!
  for _ in $(seq 200); do
    (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "tansu did not start listening" >&2
  return 1
}

stop_broker() {
  kill -9 "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=
}

record_kafka() { # example out
  local example=$1 out=$2 inputs outputs topic file
  inputs=$(sed -nE 's/^-- Input topic: +([^ ]+) +<- +([^ ]+).*/\1 \2/p' "$example")
  outputs=$(sed -nE 's/^-- Output topic: +([^ ]+).*/\1/p' "$example")
  [ -n "$outputs" ] || { echo "$example names no '-- Output topic:'" >&2; return 1; }
  start_broker
  local servers=127.0.0.1:$port
  while read -r topic file; do
    [ -n "$topic" ] || continue
    "$tansu" topic create "$topic" --broker "$url" --partitions 1 > /dev/null
    cat > "$tmp/load.sql" <<EOF
CREATE TABLE lines (line STRING) WITH ('connector' = 'filesystem', 'path' = '$file', 'format' = 'raw');
CREATE TABLE topic_in (line STRING) WITH ('connector' = 'kafka', 'topic' = '$topic', 'properties.bootstrap.servers' = '$servers', 'format' = 'raw');
INSERT INTO topic_in SELECT line FROM lines;
EOF
    flink_run "$tmp/load.sql" /dev/null
  done <<< "$inputs"
  for topic in $outputs; do
    "$tansu" topic create "$topic" --broker "$url" --partitions 1 > /dev/null
  done
  sed "s|'localhost:9092'|'$servers'|g" "$example" > "$tmp/example.sql"
  flink_run "$tmp/example.sql" "$tmp/printed"
  : > "$out"
  for topic in $outputs; do
    cat > "$tmp/read.sql" <<EOF
CREATE TABLE topic_out (v STRING) WITH ('connector' = 'kafka', 'topic' = '$topic', 'properties.bootstrap.servers' = '$servers', 'format' = 'raw', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
SELECT v FROM topic_out;
EOF
    flink_run "$tmp/read.sql" "$tmp/read"
    cat "$tmp/read" >> "$out"
  done
  stop_broker
}

for example in "${examples[@]}"; do
  example=queries/$(basename "$example")
  out=${example%.sql}.out
  if grep -qiE "'connector'[[:space:]]*=[[:space:]]*'(upsert-)?kafka'" "$example"; then
    record_kafka "$example" "$tmp/out"
  else
    flink_run "$example" "$tmp/out"
  fi
  mv "$tmp/out" "$out"
  echo "recorded $out ($(wc -l < "$out") lines)"
done

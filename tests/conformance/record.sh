#!/usr/bin/env bash
# Records the expected output of conformance cases by running them on real
# Apache Flink (../shared/tools/flink/flink-sql; flink-batch.sh for a case
# that sets 'execution.runtime-mode' to 'batch'), at parallelism 1:
#   tests/conformance/record.sh [case.sql ...]   (default: every case)
# ${DATA} in a case is replaced by the absolute path of data/, ${TMP} by an
# empty folder. A case Flink cannot run as written (a lookup join against a
# filesystem table, which Flink's connector cannot look up) names, in a
# `<case>.flink` file beside it, the script whose output is the same in
# Flink (here: the regular join over the same unchanging file); that
# script is run instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
flink=${FLINK_SQL:-$here/../../../shared/tools/flink/flink-sql}
cases=("$@")
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <(find "$here" -name '*.sql' -not -path '*/errors/*' -not -path '*/plans/*' | sort)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for c in "${cases[@]}"; do
  c=$(cd "$(dirname "$c")" && pwd)/$(basename "$c")
  rm -rf "$tmp/out-dir" && mkdir -p "$tmp/out-dir"
  script=$c
  [ -f "${c%.sql}.flink" ] && script=${c%.sql}.flink
  sed -e "s|\${DATA}|$here/data|g" -e "s|\${TMP}|$tmp/out-dir|g" "$script" > "$tmp/case.sql"
  runner=$flink
  # Batch mode needs a TableEnvironment made in batch mode.
  if grep -qE "^SET 'execution.runtime-mode' *= *'batch'" "$tmp/case.sql"; then
    runner=$here/flink-batch.sh
    sed -i "/^SET 'execution.runtime-mode'/d" "$tmp/case.sql"
  fi
  if "$runner" "$tmp/case.sql" 1 > "$tmp/out" 2> "$tmp/err"; then
    # Only the rows: a function may log to stdout too (PARSE_URL of text
    # that is not a URL logs Flink's exception).
    # A case that SHOWs or DESCRIBEs keeps Flink's tables too.
    if grep -qiE '^(SHOW|DESCRIBE|DESC) ' "$script"; then
      cp "$tmp/out" "${c%.sql}.out"
    else
      grep -E '^[+-][IUD]\[' "$tmp/out" > "${c%.sql}.out" || true
    fi
    echo "recorded ${c#$here/}"
  else
    echo "FLINK FAILED on ${c#$here/}:" >&2
    grep -E 'Exception|Caused by' "$tmp/err" | head -5 >&2
  fi
done

#!/usr/bin/env bash
# Runs a script on the Flink reference (../shared/tools/flink/flink-sql) in
# batch mode: that runner makes a streaming TableEnvironment, where SET
# 'execution.runtime-mode' = 'batch' fails, so this runs a copy of it whose
# environment is made in batch mode (compiled apart from the streaming one).
#   tests/conformance/flink-batch.sh SCRIPT.sql [PARALLELISM]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=$(cd "${FLINK_SQL_DIR:-$here/../../../shared/tools/flink}" && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
sed 's/EnvironmentSettings.inStreamingMode()/EnvironmentSettings.inBatchMode()/' \
  "$shared/FlinkSql.java" > "$copy/FlinkSql.java"
grep -q 'inBatchMode' "$copy/FlinkSql.java"
sed 's|CLASSES=$HOME_DIR/classes$|CLASSES=$HOME_DIR/classes-batch|' "$shared/flink-sql" > "$copy/flink-sql"
grep -q 'classes-batch' "$copy/flink-sql"
chmod +x "$copy/flink-sql"
"$copy/flink-sql" "$@"

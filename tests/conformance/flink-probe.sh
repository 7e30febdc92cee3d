#!/usr/bin/env bash
# Runs a script on the Flink reference (../shared/tools/flink/flink-sql),
# going on past a failing statement: each statement is echoed as
# "== <statement>" and a failure printed as "!ERROR <exception>: <message>",
# so that one run answers many probes (tests/conformance/probe.py).
#   tests/conformance/flink-probe.sh SCRIPT.sql [PARALLELISM]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=$(cd "${FLINK_SQL_DIR:-$here/../../../shared/tools/flink}" && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
python3 - "$shared/FlinkSql.java" "$copy/FlinkSql.java" <<'PY'
import sys
src = open(sys.argv[1]).read()
call = "            run(env, stmt);"
assert call in src, "the runner changed: update flink-probe.sh"
src = src.replace(call, """            System.out.println("== " + stmt.replace('\\n', ' '));
            try { run(env, stmt); } catch (Throwable e) {
                Throwable r = e; while (r.getCause() != null) r = r.getCause();
                System.out.println("!ERROR " + r.getClass().getSimpleName() + ": " + String.valueOf(r.getMessage()).split("\\n")[0]);
            }""")
open(sys.argv[2], "w").write(src)
PY
sed 's|CLASSES=$HOME_DIR/classes$|CLASSES=$HOME_DIR/classes-probe|' "$shared/flink-sql" > "$copy/flink-sql"
grep -q 'classes-probe' "$copy/flink-sql"
chmod +x "$copy/flink-sql"
"$copy/flink-sql" "$@"

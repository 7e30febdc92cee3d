//! The conformance suite: runs `eddy -f` on every case under
//! `tests/conformance/` and compares with what real Flink printed for the
//! same script (`<case>.out`, recorded by `record.sh`), after folding the
//! changelog into the final multiset of rows. Every case also runs at
//! parallelism 2 and 4: a result must not depend on parallelism. Cases under `errors/` check Eddy's own messages
//! (`<case>.err`: lines that stderr must contain). `${DATA}` in a case is
//! the data folder, `${TMP}` an empty folder of its own run.
//!
//! `cargo test --workspace --test conformance [-- FILTER]`

#[path = "support/changelog.rs"]
mod changelog;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use changelog::{diff, fold};

fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "data") {
                cases(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "sql") {
            out.push(p);
        }
    }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run_eddy(sql: &str, data: &Path, parallelism: usize) -> Result<Run, String> {
    let dir = std::env::temp_dir().join(format!(
        "eddy-conformance-{}-{parallelism}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let mut script = sql
        .replace("${DATA}", &data.display().to_string())
        .replace("${TMP}", &out_dir.display().to_string());
    if parallelism > 1 {
        script = format!("SET 'parallelism.default' = '{parallelism}';\n{script}");
    }
    let file = dir.join("case.sql");
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .arg("-f")
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run eddy: {e}"))?;
    Ok(Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn check_case(case: &Path, data: &Path) -> Result<(), String> {
    let sql = std::fs::read_to_string(case).map_err(|e| e.to_string())?;
    let err_file = case.with_extension("err");
    let out_file = case.with_extension("out");
    if err_file.exists() {
        let expected = std::fs::read_to_string(&err_file).map_err(|e| e.to_string())?;
        let run = run_eddy(&sql, data, 1)?;
        let want_success = expected.lines().any(|l| l.trim() == "# exit: 0");
        if run.ok != want_success {
            return Err(format!(
                "exit status: expected {}, got {}\nstderr:\n{}",
                if want_success { "success" } else { "failure" },
                if run.ok { "success" } else { "failure" },
                run.stderr
            ));
        }
        for line in expected
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            // `stdout: text` wants the text on stdout; other lines on stderr.
            if let Some(text) = line.strip_prefix("stdout: ") {
                if !run.stdout.contains(text) {
                    return Err(format!("stdout lacks {text:?}\nstdout:\n{}", run.stdout));
                }
            } else if !run.stderr.contains(line) {
                return Err(format!("stderr lacks {line:?}\nstderr:\n{}", run.stderr));
            }
        }
        if out_file.exists() {
            let want = fold(&std::fs::read_to_string(&out_file).map_err(|e| e.to_string())?)?;
            let got = fold(&run.stdout)?;
            if want != got {
                return Err(format!("output differs:\n{}", diff(&want, &got)));
            }
        }
        return Ok(());
    }
    let expected = std::fs::read_to_string(&out_file)
        .map_err(|_| "no .out: record it with tests/conformance/record.sh".to_string())?;
    let want = fold(&expected).map_err(|e| format!("bad .out: {e}"))?;
    for p in [1, 2, 4] {
        let run = run_eddy(&sql, data, p)?;
        if !run.ok {
            return Err(format!("parallelism {p}: eddy failed:\n{}", run.stderr));
        }
        let got = fold(&run.stdout).map_err(|e| format!("parallelism {p}: {e}"))?;
        if want != got {
            return Err(format!(
                "parallelism {p}: output differs:\n{}",
                diff(&want, &got)
            ));
        }
        // Append-only output at parallelism 1 from one split keeps Flink's order.
        // (Tables of SHOW / DESCRIBE were compared line by line above.) An
        // updating result is compared folded: Flink updates per row, Eddy
        // per batch. A join's output follows how its inputs interleave,
        // which neither engine fixes.
        let updating = ["-U[", "+U[", "-D["].iter().any(|k| expected.contains(k));
        if p == 1
            && !updating
            && !sql.contains("UNION")
            && !sql.contains("GROUP BY")
            && !sql.contains("HOP(")
            && !sql.contains("ROW_NUMBER")
            && !sql.contains(" OVER ")
            && !sql.contains(" JOIN ")
            && !case.parent().is_some_and(|d| d.ends_with("joins"))
            && !sql.contains("CUMULATE(")
            && !sql.contains("STATEMENT SET")
            && !sql.contains("/logs")
            && expected.trim_end() != run.stdout.trim_end()
        {
            return Err(format!(
                "parallelism 1: same rows in a different order\nexpected:\n{expected}\ngot:\n{}",
                run.stdout
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let data = root
        .join("data")
        .canonicalize()
        .unwrap_or_else(|_| root.join("data"));
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut all = vec![];
    cases(&root, &mut all);
    let (mut passed, mut failed) = (0, 0);
    for case in all {
        let name = case
            .strip_prefix(&root)
            .unwrap_or(&case)
            .display()
            .to_string();
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match check_case(&case, &data) {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED\n{e}");
            }
        }
    }
    let status = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out"
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

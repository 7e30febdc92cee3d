//! Running a script: statements in order; DDL quietly, query results to
//! stdout as a changelog, `INSERT` jobs in the background (waited for at the
//! end, or at once with `SET 'table.dml-sync' = 'true'`), errors with the
//! statement's line and a caret.

use std::process::ExitCode;
use std::sync::Arc;

use eddy::EngineError;
use eddy::job::JobStats;
use eddy::job::{JobCanceller, JobHandle};
use eddy::{Located, Outcome, Session, SqlError, Statement};

/// Runs `text` (from `source`) and returns the process exit code.
pub async fn run(source: &str, text: &str) -> ExitCode {
    let mut session = eddy::new_session();
    let mut background: Vec<(String, JobHandle)> = vec![];
    let mut cancellers: Vec<JobCanceller> = vec![];
    let result = tokio::select! {
        r = run_statements(&mut session, source, text, &mut background, &mut cancellers) => r,
        _ = tokio::signal::ctrl_c() => {
            for c in &cancellers { c.cancel(); }
            eprintln!("[INFO] Interrupted.");
            return ExitCode::from(130);
        }
    };
    if let Err(code) = result {
        for c in &cancellers {
            c.cancel();
        }
        return code;
    }
    // Wait for the INSERT jobs still running.
    let mut failed = false;
    for (name, job) in background {
        let canceller = job.canceller();
        let outcome = tokio::select! {
            r = job.wait() => r,
            _ = tokio::signal::ctrl_c() => { canceller.cancel(); return ExitCode::from(130); }
        };
        if let Err(e) = report_job(&name, outcome) {
            eprintln!("{e}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn run_statements(
    session: &mut Session,
    source: &str,
    text: &str,
    background: &mut Vec<(String, JobHandle)>,
    cancellers: &mut Vec<JobCanceller>,
) -> Result<(), ExitCode> {
    for s in eddy::split_statements(text) {
        let located = match eddy::parse_statement(&s) {
            Ok(l) => l,
            Err(e) => {
                print_error(source, text, &e);
                return Err(ExitCode::FAILURE);
            }
        };
        let sink = Arc::new(eddy::changelog_printer());
        let outcome = match session.execute(&located, sink).await {
            Ok(o) => o,
            Err(e) => {
                print_error(source, text, &e);
                return Err(ExitCode::FAILURE);
            }
        };
        for w in session.take_warnings() {
            eprintln!("[WARN] {w}");
        }
        match outcome {
            Outcome::Done(_) => {}
            Outcome::Explain(plan) => println!("{plan}"),
            Outcome::Rows { header, rows } => print!("{}", render_table(&header, &rows)),
            Outcome::Job(job) => {
                cancellers.push(job.canceller());
                let name = job.name().to_string();
                if let Some(from) = job.metrics().stats().checkpoints.restored_from {
                    eprintln!("[INFO] Job '{name}' restored from {}", from.display());
                }
                let sync = session.config("table.dml-sync") == Some("true");
                if is_query(&located) || sync {
                    let outcome = job.wait().await;
                    if let Err(e) = report_job(&name, outcome) {
                        eprintln!("{e}");
                        return Err(ExitCode::FAILURE);
                    }
                } else {
                    eprintln!(
                        "[INFO] Submitting SQL update statement to the cluster...\n[INFO] SQL update statement has been successfully submitted to the cluster:\nJob ID: {name}"
                    );
                    background.push((name, job));
                }
            }
        }
    }
    Ok(())
}

fn is_query(l: &Located) -> bool {
    matches!(l.statement, Statement::Query(_))
}

/// Prints what a finished job skipped; turns its failure into a message.
fn report_job(name: &str, outcome: Result<JobStats, EngineError>) -> Result<(), String> {
    match outcome {
        Ok(stats) => {
            let c = &stats.checkpoints;
            if let Some(last) = &c.last {
                eprintln!(
                    "[INFO] Job '{name}': {} checkpoint(s), {:.1} ms and {} bytes each on average; the last, {}, took {:.1} ms for {} bytes",
                    c.completed,
                    c.total_duration.as_secs_f64() * 1e3 / c.completed as f64,
                    c.total_bytes / c.completed,
                    last.id,
                    last.duration.as_secs_f64() * 1e3,
                    last.bytes
                );
            }
            for (op, n) in stats.skipped {
                eprintln!("[WARN] Job '{name}': {op} skipped {n} unparseable row(s)");
            }
            for (op, n) in stats.late {
                match &stats.late_table {
                    None => eprintln!("[WARN] Job '{name}': {op} dropped {n} late row(s)"),
                    Some(t) => {
                        eprintln!("[WARN] Job '{name}': {op} sent {n} late row(s) to '{t}'")
                    }
                }
            }
            Ok(())
        }
        Err(EngineError::Cancelled) => Ok(()),
        Err(e) => Err(format!("[ERROR] Job '{name}' failed: {e}")),
    }
}

/// The error, and for parse/plan errors the script line with a caret.
pub fn print_error(source: &str, text: &str, e: &SqlError) {
    print_error_with_names(source, text, e, &[]);
}

/// [`print_error`], with a hint when the error names an unknown column or
/// table close to one of its valid fields or of `names`.
pub fn print_error_with_names(source: &str, text: &str, e: &SqlError, names: &[String]) {
    eprintln!("[ERROR] Could not execute SQL statement. Reason:\n{e}");
    if let Some(hint) = hint(&e.to_string(), names) {
        eprintln!("{hint}");
    }
    if let Some(loc) = e.location()
        && let Some(line) = text.lines().nth(loc.line.saturating_sub(1) as usize)
    {
        eprintln!("  --> {source}:{}:{}", loc.line, loc.column);
        eprintln!("   | {line}");
        eprintln!(
            "   | {}^",
            " ".repeat(loc.column.saturating_sub(1) as usize)
        );
    }
}

/// "Did you mean" for an unknown column (DataFusion lists the valid
/// fields) or table (among `names`).
fn hint(message: &str, names: &[String]) -> Option<String> {
    let unknown = |after: &str, until: char| -> Option<String> {
        let start = message.find(after)? + after.len();
        let rest = &message[start..];
        let end = rest.find(until).unwrap_or(rest.len());
        Some(
            rest[..end]
                .trim_matches(|c| c == '\'' || c == '"')
                .to_string(),
        )
    };
    let (name, candidates): (String, Vec<String>) = if let Some(n) = unknown("No field named ", '.')
    {
        let fields = message
            .split("Valid fields are ")
            .nth(1)
            .map(|f| {
                f.trim_end_matches('.')
                    .split(", ")
                    .map(|c| c.rsplit('.').next().unwrap_or(c).to_string())
                    .collect()
            })
            .unwrap_or_default();
        (n, fields)
    } else if let Some(n) = unknown("table '", '\'') {
        (
            n.rsplit('.').next().unwrap_or(&n).to_string(),
            names.to_vec(),
        )
    } else {
        return None;
    };
    let best = candidates
        .iter()
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, c)| *d > 0 && *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)?;
    Some(format!("[HINT] Did you mean '{}'?", best.1))
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cost = usize::from(ca != b[j]);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A bordered table as Flink's tableau result prints it.
pub fn render_table(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let border: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let line = |cells: &[String]| -> String {
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| format!("| {:>w$} ", cells.get(i).map_or("", |c| c.as_str()), w = *w))
            .collect::<String>()
            + "|\n"
    };
    let mut out = border.clone();
    out.push_str(&line(header));
    out.push_str(&border);
    for r in rows {
        out.push_str(&line(r));
    }
    out.push_str(&border);
    out.push_str(&format!(
        "{} row{} in set\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelled_column_or_table_gets_the_closest_name() {
        assert_eq!(
            hint(
                "Schema error: No field named amout. Valid fields are orders.oid, orders.amount.",
                &[]
            )
            .as_deref(),
            Some("[HINT] Did you mean 'amount'?")
        );
        assert_eq!(
            hint(
                "Error during planning: table 'datafusion.public.oders' not found",
                &["orders".into(), "rates".into()]
            )
            .as_deref(),
            Some("[HINT] Did you mean 'orders'?")
        );
        assert_eq!(hint("table 'zzz' not found", &["orders".into()]), None);
    }

    #[test]
    fn tables_render_with_borders_and_count() {
        let t = render_table(&["table name".into()], &[vec!["orders".into()]]);
        assert_eq!(
            t,
            "+------------+\n| table name |\n+------------+\n|     orders |\n+------------+\n1 row in set\n"
        );
    }
}

//! # Eddy
//!
//! A streaming SQL engine that speaks Flink SQL, on Apache Arrow and
//! DataFusion. This facade crate wires the parts together:
//!
//! ```text
//!   eddy-sql (parser, catalog, planner) ──> eddy-engine (dataflow runtime)
//!        ^ finds connectors through          ^ runs sources and sinks of
//!        | the factory registry              | eddy-connectors
//! ```
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut session = eddy::new_session();
//! let outcomes = eddy::run_script(&mut session, "SELECT 1 + 1;").await?;
//! # let _ = outcomes;
//! # Ok(()) }
//! ```

mod program_source;
pub mod table;

/// DataFusion, as Eddy uses it (`Expr` builders, plans).
pub use datafusion;
/// Arrow, as Eddy uses it (the batches of `from_stream` and changelogs).
pub use datafusion::arrow;
pub use eddy_connectors as connectors;
pub use eddy_engine as engine;
pub use eddy_engine::{ChangeBatch, RowKind};
pub use eddy_sql as sql;
pub use table::{Changelog, Table, TableEnvironment};

use eddy_sql::{Outcome, Session, SqlError};

/// A session with every built-in connector registered.
pub fn new_session() -> Session {
    Session::new(eddy_connectors::builtin_connectors())
}

/// Runs a script's statements in order, printing query results to stdout;
/// jobs are awaited before the next statement. Returns what each
/// statement produced (jobs as their final stats).
pub async fn run_script(session: &mut Session, script: &str) -> Result<Vec<String>, SqlError> {
    let mut out = vec![];
    for s in eddy_sql::split_statements(script) {
        let located = eddy_sql::parse_statement(&s)?;
        let sink = std::sync::Arc::new(eddy_connectors::print::changelog_printer());
        match session.execute(&located, sink).await? {
            Outcome::Done(m) | Outcome::Explain(m) => out.push(m),
            Outcome::Rows { rows, .. } => out.push(
                rows.iter()
                    .map(|r| r.join("\t"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Outcome::Job(job) => {
                let stats = job.wait().await?;
                out.push(format!("rows read: {}", stats.rows_read));
            }
        }
    }
    Ok(out)
}

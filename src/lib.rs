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
//! Its public surface is deliberate: the Table API ([`TableEnvironment`],
//! [`table`]), SQL sessions and scripts ([`Session`], [`run_script`]),
//! running jobs ([`job`]), Flink's text form of values ([`text`]), and
//! [`prelude`] for `use eddy::prelude::*`. DataFusion and Arrow are
//! re-exported because their types (`Expr`, `RecordBatch`) are part of it.
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
pub use eddy_engine::operator::OperatorFactory;
pub use eddy_engine::{ChangeBatch, EngineError, RowKind};
pub use eddy_sql::{
    Located, Location, Outcome, Session, SqlError, Statement, Vocabulary, is_complete,
    parse_statement, split_statements,
};
pub use table::{Changelog, Table, TableEnvironment};

/// User-defined functions: scalar, table and aggregate functions in Rust,
/// registered with [`TableEnvironment::create_temporary_function`].
pub mod udf {
    pub use eddy_sql::udf::{
        AggregateFunction, FunctionRef, RowFunction, RowsFunction, ScalarFunction, SqlArgs, SqlRow,
        SqlValue, TableFunction, UserFunction,
    };
}

/// What `use eddy::prelude::*` brings: the Table API and its expression
/// builders, the rows it returns, and its error.
pub mod prelude {
    pub use crate::table::{
        Changelog, Cumulate, Duration, Expr, Session, Slide, Table, TableEnvironment, Tumble,
        WindowProperties, avg, col, count, lit, max, min, sum,
    };
    pub use crate::{ChangeBatch, RowKind, SqlError};
}

/// Running jobs: their handles, metrics and final statistics.
pub mod job {
    pub use eddy_engine::message::MAX_WATERMARK;
    pub use eddy_engine::metrics::{JobMetrics, JobStats};
    pub use eddy_engine::runtime::{JobCanceller, JobHandle, Savepointer};
}

/// Values as Flink prints them (`+I[1, alice, 2024-01-01T10:00]`).
pub mod text {
    pub use eddy_engine::value_text::{change_lines, write_timestamp, write_value};
}

/// A sink printing a query's changes to stdout as Flink's `print`
/// connector does (what `eddy -f` does with a `SELECT`).
pub fn changelog_printer() -> impl OperatorFactory {
    eddy_connectors::print::changelog_printer()
}

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
        let outcome = session.execute(&located, sink).await?;
        for w in session.take_warnings() {
            eprintln!("[WARN] {w}");
        }
        match outcome {
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

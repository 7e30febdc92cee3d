//! A SQL session: the catalog, the configuration and the execution of
//! statements, shared by `eddy -f`, `eddy -e`, the shell and the Table
//! API. This module holds the session and its dispatch of statements; each
//! concern has a module of its own:
//!
//! ```text
//!   config   SET / RESET / SET;   checked against crate::options
//!   ddl      CREATE TABLE / VIEW, DROP
//!   show     SHOW, DESCRIBE, the shell's completion vocabulary
//!   plan     query -> optimized DataFusion plan; INSERT columns conformed to the sink
//!   job      plans -> JobGraph (with the session's options) -> a running job
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use eddy_engine::connector::ConnectorRegistry;
use eddy_engine::operator::OperatorFactory;
use eddy_engine::runtime::{self, JobHandle};

mod catalog;
mod config;
mod ddl;
mod hinted;
mod job;
mod plan;
mod show;
mod user_functions;

use crate::catalog::TableEntry;
use crate::error::{Location, Result, SqlError};
use crate::functions;
use crate::statement::{Located, Statement};

/// Names a session knows, for completion.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Tables and views.
    pub relations: Vec<String>,
    /// Columns of the tables.
    pub columns: Vec<String>,
    /// Scalar and aggregate functions.
    pub functions: Vec<String>,
    /// `SET` keys.
    pub keys: Vec<String>,
}

/// What executing a statement produced.
pub enum Outcome {
    /// A statement with no result (`CREATE`, `SET`, ...): a message.
    Done(String),
    /// A small table of text (`SHOW`, `DESCRIBE`, `SET;`).
    Rows {
        /// Column names.
        header: Vec<String>,
        /// Rows.
        rows: Vec<Vec<String>>,
    },
    /// Plan text (`EXPLAIN`).
    Explain(String),
    /// A started job (`INSERT`, `SELECT`, statement set).
    Job(JobHandle),
}

/// A Flink SQL session.
pub struct Session {
    ctx: SessionContext,
    tables: HashMap<String, TableEntry>,
    views: BTreeMap<String, String>,
    config: BTreeMap<String, String>,
    connectors: ConnectorRegistry,
    jobs_started: usize,
    warnings: Vec<String>,
    /// The hidden copies of tables a statement's `OPTIONS` hints made,
    /// and the tables they copy.
    hinted: HashMap<String, String>,
    /// User-defined functions, by lower-case name.
    user_functions: BTreeMap<String, user_functions::UserEntry>,
}

impl Session {
    /// A session using `connectors`.
    pub fn new(connectors: ConnectorRegistry) -> Self {
        let mut config = SessionConfig::new()
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
            .set_bool("datafusion.sql_parser.collect_spans", true)
            .set_str("datafusion.execution.time_zone", "UTC")
            // Flink orders NULL first ascending and last descending.
            .set_str("datafusion.sql_parser.default_null_ordering", "nulls_min");
        config.options_mut().optimizer.max_passes = 3;
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        if let Err(e) = functions::register(&mut state) {
            // Registration only fails on a name clash among our own functions.
            panic!("Flink functions could not be registered (this is a bug): {e}");
        }
        // A limit pushed into a scan, a sort or a union's inputs is a
        // batch optimization; a streaming LIMIT is a Top-N over its input.
        let ctx = SessionContext::new_with_state(state);
        ctx.remove_optimizer_rule("push_down_limit");
        Self {
            ctx,
            tables: HashMap::new(),
            views: BTreeMap::new(),
            config: BTreeMap::new(),
            connectors,
            jobs_started: 0,
            warnings: vec![],
            hinted: HashMap::new(),
            user_functions: BTreeMap::new(),
        }
    }

    pub(super) fn state(&self) -> SessionState {
        self.ctx.state()
    }

    /// Executes one statement. A `SELECT`'s rows go to `query_sink`
    /// (parallelism 1).
    pub async fn execute(
        &mut self,
        stmt: &Located,
        query_sink: Arc<dyn OperatorFactory>,
    ) -> Result<Outcome> {
        let at = stmt.location;
        let hints = crate::hints::check(&stmt.text, at)?;
        self.warnings.extend(hints);
        let hinted = self.apply_options_hints(stmt)?;
        let stmt = hinted.as_ref().unwrap_or(stmt);
        match &stmt.statement {
            Statement::CreateTable(t) if t.query.is_some() => {
                self.create_table_as(t, at, query_sink).await
            }
            Statement::CreateTable(t) => self.create_table_like(t, at),
            Statement::ShowCreate { view, name } => self.show_create(*view, name, at).await,
            Statement::ShowColumns { table, like } => {
                self.show_columns(table, like.as_deref(), at).await
            }
            Statement::Use { catalog, name } => self.use_(*catalog, name, at),
            Statement::AlterTable {
                name,
                if_exists,
                change,
            } => self.alter_table(name, *if_exists, change, at),
            Statement::AlterView {
                name,
                rename,
                query,
            } => {
                self.alter_view(name, rename.as_deref(), query.as_deref(), at)
                    .await
            }
            Statement::CreateView {
                name,
                if_not_exists,
                columns,
                query,
            } => {
                self.create_view(name, *if_not_exists, columns, query, &stmt.text, at)
                    .await
            }
            Statement::Drop {
                view,
                name,
                if_exists,
            } => self.drop(*view, name, *if_exists, at),
            Statement::Set(None) => Ok(self.list_config()),
            Statement::Set(Some((k, v))) => {
                self.set(k, v).map_err(|e| relocate(e, at))?;
                Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
            }
            Statement::Reset(key) => {
                self.reset(key.as_deref());
                Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
            }
            Statement::Show { what, like } => Ok(self.show(what, like.as_deref())),
            Statement::Describe(name) => self.describe(name, at).await,
            Statement::DescribeFunction { name, extended } => {
                self.describe_function(name, *extended, at)
            }
            Statement::DropFunction {
                name,
                system,
                if_exists,
            } => self.drop_function(name, *system, *if_exists, at),
            Statement::Explain(inner) => {
                let graph = self.plan_job(inner, at, query_sink).await?;
                Ok(Outcome::Explain(graph.1))
            }
            Statement::Insert { .. } | Statement::StatementSet(_) | Statement::Query(_) => {
                let (graph, _) = self.plan_job(&stmt.statement, at, query_sink).await?;
                self.jobs_started += 1;
                Ok(Outcome::Job(runtime::spawn(&graph)?))
            }
        }
    }
}

/// Views the Table API registers for its own use (windows over a derived
/// table) start with this; SHOW does not list them.
pub const HIDDEN_VIEW_PREFIX: &str = "__eddy_table_";

pub(super) fn is_hidden(view: &str) -> bool {
    view.starts_with(HIDDEN_VIEW_PREFIX)
}

pub(super) fn relocate(e: SqlError, at: Location) -> SqlError {
    match e {
        SqlError::Plan { message, .. } => SqlError::Plan {
            location: at,
            message,
        },
        other => other,
    }
}

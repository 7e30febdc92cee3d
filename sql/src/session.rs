//! A SQL session: the catalog, the `SET` configuration and the execution
//! of statements, shared by `eddy -f`, `eddy -e` and (later) the shell and
//! the Table API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::DFSchema;
use datafusion::datasource::ViewTable;
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast;
use eddy_engine::connector::ConnectorRegistry;
use eddy_engine::graph::JobGraph;
use eddy_engine::operator::OperatorFactory;
use eddy_engine::runtime::{self, JobHandle};

use crate::catalog::{CatalogTable, TableEntry};
use crate::error::{Location, Result, SqlError};
use crate::expr::{df_error, sql_expr};
use crate::functions;
use crate::planner::{Stream, StreamPlanner};
use crate::rewrite::rewrite_query;
use crate::statement::{ColumnKind, CreateTable, Located, Statement};
use crate::types::flink_type_name;

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
}

/// `SET` keys Eddy understands, with their defaults.
const KNOWN_KEYS: &[(&str, &str)] = &[
    ("parallelism.default", "1"),
    ("pipeline.name", ""),
    ("table.exec.source.idle-timeout", "0 ms"),
    ("table.exec.late-data.sink", ""),
    ("table.exec.state.ttl", "0 ms"),
    ("execution.runtime-mode", "streaming"),
    ("sql-client.execution.result-mode", "table"),
    ("table.local-time-zone", "UTC"),
];

impl Session {
    /// A session using `connectors`.
    pub fn new(connectors: ConnectorRegistry) -> Self {
        let mut config = SessionConfig::new()
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
            .set_bool("datafusion.sql_parser.collect_spans", true)
            .set_str("datafusion.execution.time_zone", "UTC");
        config.options_mut().optimizer.max_passes = 3;
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        if let Err(e) = functions::register(&mut state) {
            // Registration only fails on a name clash among our own functions.
            panic!("Flink functions could not be registered (this is a bug): {e}");
        }
        let ctx = SessionContext::new_with_state(state);
        Self {
            ctx,
            tables: HashMap::new(),
            views: BTreeMap::new(),
            config: BTreeMap::new(),
            connectors,
            jobs_started: 0,
        }
    }

    /// The value of a `SET` key.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config
            .get(key)
            .map(String::as_str)
            .or_else(|| KNOWN_KEYS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
    }

    /// Whether `key` was `SET` (not left at its default).
    pub fn is_set(&self, key: &str) -> bool {
        self.config.contains_key(key)
    }

    /// Sets a configuration key as `SET 'k' = 'v'` does.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if key == "parallelism.default" && value.parse::<usize>().map_or(true, |p| p == 0) {
            return Err(SqlError::Plan {
                location: Location::default(),
                message: format!("'parallelism.default' must be a positive integer, got '{value}'"),
            });
        }
        self.config.insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn parallelism(&self) -> usize {
        self.config("parallelism.default")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
    }

    fn state(&self) -> SessionState {
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
        match &stmt.statement {
            Statement::CreateTable(t) => self.create_table(t, at),
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
                match key {
                    None => self.config.clear(),
                    Some(k) => {
                        self.config.remove(k);
                    }
                }
                Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
            }
            Statement::Show(what) => Ok(self.show(what)),
            Statement::Describe(name) => self.describe(name, at),
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

    /// The name of the next job (`pipeline.name`, or Flink's default).
    fn job_name(&self, stmt: Option<&Statement>) -> String {
        if let Some(n) = self.config("pipeline.name").filter(|n| !n.is_empty()) {
            return n.to_string();
        }
        let kind = match stmt {
            Some(Statement::Insert { table, .. }) => format!("insert-into_{table}"),
            Some(Statement::StatementSet(_)) => "statement-set".into(),
            _ => "collect".into(),
        };
        format!("{kind}-{}", self.jobs_started + 1)
    }

    /// Plans an INSERT, statement set or query into a job graph and the
    /// text EXPLAIN shows.
    async fn plan_job(
        &self,
        stmt: &Statement,
        at: Location,
        query_sink: Arc<dyn OperatorFactory>,
    ) -> Result<(JobGraph, String)> {
        let inserts: Vec<&Statement> = match stmt {
            Statement::StatementSet(v) => v.iter().collect(),
            other => vec![other],
        };
        let mut queries = vec![];
        for s in inserts {
            match s {
                Statement::Query(q) => queries.push((self.plan_query(q, at).await?, None)),
                Statement::Insert {
                    table,
                    columns,
                    query,
                } => {
                    let plan = self.plan_query(query, at).await?;
                    let plan = self.conform_to_sink(plan, table, columns, at)?;
                    queries.push((plan, Some(table.as_str())));
                }
                _ => {
                    return Err(SqlError::Plan {
                        location: at,
                        message: "only INSERT and SELECT statements run as jobs".into(),
                    });
                }
            }
        }
        self.build_job(&self.job_name(Some(stmt)), queries, at, Some(query_sink))
    }

    /// Plans optimized logical plans into one job: each into the table it
    /// names, or into `query_sink` (parallelism 1; there must be one for
    /// such a query). Returns the graph and the text EXPLAIN shows.
    fn build_job(
        &self,
        name: &str,
        queries: Vec<(LogicalPlan, Option<&str>)>,
        at: Location,
        query_sink: Option<Arc<dyn OperatorFactory>>,
    ) -> Result<(JobGraph, String)> {
        let state = self.state();
        let mut planner = StreamPlanner::new(
            name,
            &state,
            &self.tables,
            &self.connectors,
            self.parallelism(),
            at,
        );
        // Before planning: sources read it (a Kafka partition's idleness).
        planner.graph.idle_timeout = match self.config("table.exec.source.idle-timeout") {
            None => None,
            Some(v) => Some(eddy_engine::connector::parse_duration(v).ok_or_else(|| SqlError::Plan {
                location: at,
                message: format!("Invalid value for 'table.exec.source.idle-timeout': '{v}' (expected a duration such as '10 s')"),
            })?),
        };
        planner.state_ttl = match self.config("table.exec.state.ttl") {
            None => None,
            Some(v) => {
                let ttl = eddy_engine::connector::parse_duration(v).ok_or_else(|| SqlError::Plan {
                    location: at,
                    message: format!("Invalid value for 'table.exec.state.ttl': '{v}' (expected a duration such as '1 h')"),
                })?;
                (!ttl.is_zero()).then_some(ttl)
            }
        };
        let mut logical = vec![];
        for (plan, table) in queries {
            let stream: Stream = planner.plan(&plan)?;
            match table {
                Some(table) => {
                    planner.add_table_sink(stream, table)?;
                }
                None => {
                    let Some(sink) = query_sink.clone() else {
                        return Err(SqlError::Plan {
                            location: at,
                            message: "a query needs somewhere to send its rows".into(),
                        });
                    };
                    let schema = crate::catalog::nullable_schema(plan.schema().as_arrow());
                    planner.add_sink(stream, sink, 1, schema)?;
                }
            }
            logical.push(plan);
        }
        if let Some(table) = self
            .config("table.exec.late-data.sink")
            .filter(|t| !t.is_empty())
        {
            planner.add_late_rows_sink(table)?;
        }
        planner.graph.settle_update_before();
        let get = |k: &str| self.config.get(k).map(String::as_str);
        planner.graph.checkpointing = crate::checkpointing::config(get, at)?;
        planner.graph.state_backend = crate::checkpointing::state_backend(get, at)?;
        let mut text = String::from("== Optimized Logical Plan ==\n");
        for p in &logical {
            text.push_str(&p.display_indent().to_string());
            text.push('\n');
        }
        text.push_str("\n== Streaming Plan ==\n");
        text.push_str(&planner.graph.to_string());
        Ok((planner.graph, text))
    }

    /// Plans the text of one query (`SELECT ..`, `VALUES ..`) to an
    /// optimized logical plan (the Table API's `sql_query`).
    pub async fn query_plan(&self, sql: &str) -> Result<LogicalPlan> {
        let statements = crate::split_statements(sql);
        let [one] = statements.as_slice() else {
            return Err(SqlError::Plan {
                location: Location { line: 1, column: 1 },
                message: format!("expected one query, got {} statements", statements.len()),
            });
        };
        let located = crate::parse_statement(one)?;
        match &located.statement {
            Statement::Query(q) => self.plan_query(q, located.location).await,
            _ => Err(SqlError::Plan {
                location: located.location,
                message:
                    "only a query (SELECT) makes a table; run other statements with execute_sql"
                        .into(),
            }),
        }
    }

    /// Optimizes a plan built outside SQL (the Table API) as SQL plans are.
    pub fn optimize(&self, plan: &LogicalPlan) -> Result<LogicalPlan> {
        let at = Location { line: 1, column: 1 };
        self.state().optimize(plan).map_err(|e| df_error(e, at))
    }

    /// The EXPLAIN text of running `plan` (optimized) as a query into `sink`.
    pub fn explain_plan(
        &self,
        plan: LogicalPlan,
        sink: Arc<dyn OperatorFactory>,
    ) -> Result<String> {
        let at = Location { line: 1, column: 1 };
        Ok(self
            .build_job(&self.job_name(None), vec![(plan, None)], at, Some(sink))?
            .1)
    }

    /// Starts a job running `plan` (optimized) as a query into `sink`.
    pub fn start_plan(
        &mut self,
        plan: LogicalPlan,
        sink: Arc<dyn OperatorFactory>,
    ) -> Result<JobHandle> {
        let at = Location { line: 1, column: 1 };
        let name = self.job_name(None);
        let (graph, _) = self.build_job(&name, vec![(plan, None)], at, Some(sink))?;
        self.jobs_started += 1;
        Ok(runtime::spawn(&graph)?)
    }

    /// Starts a job writing `plan` (optimized) into catalog table `table`,
    /// its columns cast to the table's as `INSERT INTO` does.
    pub fn start_insert(&mut self, plan: LogicalPlan, table: &str) -> Result<JobHandle> {
        let at = Location { line: 1, column: 1 };
        let plan = self.conform_to_sink(plan, table, &[], at)?;
        let name = self
            .job_name(None)
            .replacen("collect", &format!("insert-into_{table}"), 1);
        let (graph, _) = self.build_job(&name, vec![(plan, Some(table))], at, None)?;
        self.jobs_started += 1;
        Ok(runtime::spawn(&graph)?)
    }

    /// Plans a query to an optimized logical plan.
    pub async fn plan_query(&self, query: &ast::Query, at: Location) -> Result<LogicalPlan> {
        let mut query = query.clone();
        rewrite_query(&mut query);
        if query.to_string().contains(crate::system_time::VERSIONED) {
            let views = self.view_rowtimes().await;
            crate::system_time::versioned_joins(
                &mut query,
                &|name| self.versioned_rowtime(name, &views),
                at,
            )?;
        }
        let state = self.state();
        let stmt = DfStatement::Statement(Box::new(ast::Statement::Query(Box::new(query))));
        let plan = state
            .statement_to_plan(stmt)
            .await
            .map_err(|e| df_error(e, at))?;
        state.optimize(&plan).map_err(|e| df_error(e, at))
    }

    /// The rowtime column of each view that has one.
    async fn view_rowtimes(&self) -> HashMap<String, String> {
        let mut found = HashMap::new();
        for name in self.views.keys() {
            let Ok(provider) = self.ctx.table_provider(name.as_str()).await else {
                continue;
            };
            let Some(view) = (provider.as_ref() as &dyn std::any::Any).downcast_ref::<ViewTable>()
            else {
                continue;
            };
            let plan = view.logical_plan();
            let rowtime = plan.schema().fields().iter().find(|f| {
                crate::planner::traces_to_table_column(plan, f.name(), &|table, column| {
                    self.tables.get(table).is_some_and(|t| {
                        t.def.watermark.as_ref().is_some_and(|w| w.column == column)
                    })
                })
            });
            if let Some(f) = rowtime {
                found.insert(name.clone(), f.name().clone());
            }
        }
        found
    }

    /// The rowtime column of versioned table or view `name` (for
    /// `FOR SYSTEM_TIME AS OF`), or why it is none (Flink's words).
    fn versioned_rowtime(
        &self,
        name: &str,
        views: &HashMap<String, String>,
    ) -> std::result::Result<String, String> {
        if let Some(entry) = self.tables.get(name) {
            // Without a watermark the table may serve a lookup join; the
            // planner checks what the join needs.
            return match (&entry.def.watermark, entry.def.columns.first()) {
                (Some(w), _) => Ok(w.column.clone()),
                (None, Some(c)) => Ok(c.name.clone()),
                (None, None) => Err(format!("table '{name}' has no columns")),
            };
        }
        if self.views.contains_key(name) {
            return views.get(name).cloned().ok_or_else(|| {
                "Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table, but no row time attribute can be found.".into()
            });
        }
        Err(format!("Object '{name}' not found"))
    }

    /// Casts and renames a query's columns to the sink table's physical columns.
    fn conform_to_sink(
        &self,
        plan: LogicalPlan,
        table: &str,
        columns: &[String],
        at: Location,
    ) -> Result<LogicalPlan> {
        let entry = self.tables.get(table).ok_or_else(|| SqlError::Plan {
            location: at,
            message: format!("Object '{table}' not found"),
        })?;
        let sink = &entry.sink_schema();
        let targets: Vec<&Field> = if columns.is_empty() {
            entry
                .sink_columns()
                .iter()
                .filter_map(|c| sink.field_with_name(c).ok())
                .collect()
        } else {
            columns
                .iter()
                .map(|c| {
                    sink.field_with_name(c).map_err(|_| SqlError::Plan {
                        location: at,
                        message: format!("Unknown target column '{c}'"),
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        let fields = plan.schema().fields().len();
        if fields != targets.len() {
            return Err(SqlError::Plan {
                location: at,
                message: format!(
                    "Column types of query result and sink for '{table}' do not match.\nCause: Different number of columns.\n\nQuery schema: [{}]\nSink schema:  [{}]",
                    plan.schema()
                        .fields()
                        .iter()
                        .map(|f| format!("{}: {}", f.name(), flink_type_name(f.data_type())))
                        .collect::<Vec<_>>()
                        .join(", "),
                    targets
                        .iter()
                        .map(|f| format!("{}: {}", f.name(), flink_type_name(f.data_type())))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let mut exprs = vec![];
        for f in sink.fields() {
            let e = match targets.iter().position(|t| t.name() == f.name()) {
                Some(i) => {
                    let (q, src) = plan.schema().qualified_field(i);
                    let col = Expr::Column(datafusion::common::Column::new(q.cloned(), src.name()));
                    if src.data_type() == f.data_type() {
                        col
                    } else {
                        datafusion::logical_expr::cast(col, f.data_type().clone())
                    }
                }
                None => Expr::Literal(
                    datafusion::common::ScalarValue::try_from(f.data_type())
                        .map_err(|e| df_error(e, at))?,
                    None,
                ),
            };
            exprs.push(e.alias(f.name()));
        }
        datafusion::logical_expr::LogicalPlanBuilder::from(plan)
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, at))
    }

    fn create_table(&mut self, t: &CreateTable, at: Location) -> Result<Outcome> {
        if self.tables.contains_key(&t.name) || self.views.contains_key(&t.name) {
            if t.if_not_exists {
                return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
            }
            return Err(SqlError::Plan {
                location: at,
                message: format!("Table '{}' already exists", t.name),
            });
        }
        let mut physical = vec![];
        for c in &t.columns {
            if let ColumnKind::Physical(ty) = &c.kind {
                physical.push(Field::new(
                    &c.name,
                    ty.data_type.clone(),
                    ty.nullable && !t.primary_key.contains(&c.name),
                ));
            }
        }
        let physical_schema = Arc::new(Schema::new(physical));
        // Computed columns may use metadata columns too.
        let readable_schema = crate::catalog::schema_with_metadata(&physical_schema, t, |_| true);
        let physical_df =
            DFSchema::try_from(readable_schema.as_ref().clone()).map_err(|e| df_error(e, at))?;
        let state = self.state();
        let mut fields = vec![];
        let mut extras = BTreeMap::new();
        for c in &t.columns {
            let field = match &c.kind {
                ColumnKind::Physical(ty) => Field::new(
                    &c.name,
                    ty.data_type.clone(),
                    ty.nullable && !t.primary_key.contains(&c.name),
                ),
                ColumnKind::Metadata { data_type, .. } => {
                    Field::new(&c.name, data_type.data_type.clone(), true)
                }
                ColumnKind::Computed(ast) => {
                    let e = sql_expr(&state, ast, &physical_df, c.location)?;
                    let phys = state
                        .create_physical_expr(e, &physical_df)
                        .map_err(|e| df_error(e, c.location))?;
                    let dt = phys
                        .data_type(&readable_schema)
                        .map_err(|e| df_error(e, c.location))?;
                    extras.insert(
                        c.name.clone(),
                        format!("AS {}", crate::rewrite::quoted(ast)),
                    );
                    // The processing time is never NULL.
                    Field::new(&c.name, dt, !crate::catalog::is_proctime_call(ast))
                }
            };
            fields.push(field);
        }
        let schema = Arc::new(Schema::new(fields));
        if let Some(w) = &t.watermark {
            let Ok(rowtime) = schema.field_with_name(&w.column) else {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!(
                        "The rowtime attribute field '{}' is not defined in the table schema, at {}",
                        w.column, at
                    ),
                });
            };
            if !matches!(
                rowtime.data_type(),
                datafusion::arrow::datatypes::DataType::Timestamp(_, _)
            ) {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!(
                        "Invalid data type of time field for watermark definition. The field must be of type TIMESTAMP(p) or TIMESTAMP_LTZ(p), the supported precision 'p' is from 0 to 3, but the time field type is {}",
                        flink_type_name(rowtime.data_type())
                    ),
                });
            }
            let full = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| df_error(e, at))?;
            let e = sql_expr(&state, &w.expr, &full, at)?;
            state
                .create_physical_expr(e, &full)
                .map_err(|e| df_error(e, at))?;
        }
        for k in &t.primary_key {
            if schema.field_with_name(k).is_err() {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!("Primary key column '{k}' is not defined in the table"),
                });
            }
        }
        let entry = TableEntry {
            def: t.clone(),
            schema: schema.clone(),
            physical_schema,
            extras,
        };
        // Validate the options now, as Flink does when the table is used.
        self.ctx
            .register_table(
                t.name.as_str(),
                Arc::new(CatalogTable {
                    name: t.name.clone(),
                    schema,
                }),
            )
            .map_err(|e| df_error(e, at))?;
        self.tables.insert(t.name.clone(), entry);
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }

    async fn create_view(
        &mut self,
        name: &str,
        if_not_exists: bool,
        columns: &[String],
        query: &ast::Query,
        text: &str,
        at: Location,
    ) -> Result<Outcome> {
        if self.tables.contains_key(name) || self.views.contains_key(name) {
            if if_not_exists {
                return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
            }
            return Err(SqlError::Plan {
                location: at,
                message: format!("View '{name}' already exists"),
            });
        }
        let mut plan = self.plan_query(query, at).await?;
        if !columns.is_empty() {
            if columns.len() != plan.schema().fields().len() {
                return Err(SqlError::Plan {
                    location: at,
                    message: "the view's column list does not match its query".into(),
                });
            }
            let exprs: Vec<Expr> = plan
                .schema()
                .iter()
                .zip(columns)
                .map(|((q, f), n)| {
                    Expr::Column(datafusion::common::Column::new(q.cloned(), f.name())).alias(n)
                })
                .collect();
            plan = datafusion::logical_expr::LogicalPlanBuilder::from(plan)
                .project(exprs)
                .and_then(|b| b.build())
                .map_err(|e| df_error(e, at))?;
        }
        self.register_view(name, plan, text)
            .map_err(|e| relocate(e, at))?;
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }

    /// Registers `plan` as view `name` (`text`: its definition, for
    /// messages), replacing a view of that name (the Table API's
    /// `create_temporary_view`). A table of that name is an error.
    pub fn register_view(&mut self, name: &str, plan: LogicalPlan, text: &str) -> Result<()> {
        let at = Location { line: 1, column: 1 };
        if self.tables.contains_key(name) {
            return Err(SqlError::Plan {
                location: at,
                message: format!("Table '{name}' already exists"),
            });
        }
        let view = ViewTable::new(plan, Some(text.to_string()));
        self.ctx
            .deregister_table(name)
            .map_err(|e| df_error(e, at))?;
        self.ctx
            .register_table(name, Arc::new(view))
            .map_err(|e| df_error(e, at))?;
        self.views.insert(name.to_string(), text.to_string());
        Ok(())
    }

    fn drop(&mut self, view: bool, name: &str, if_exists: bool, at: Location) -> Result<Outcome> {
        let existed = if view {
            self.views.remove(name).is_some()
        } else {
            self.tables.remove(name).is_some()
        };
        if existed {
            let _ = self.ctx.deregister_table(name);
        } else if !if_exists {
            let what = if view { "View" } else { "Table" };
            return Err(SqlError::Plan {
                location: at,
                message: format!(
                    "{what} with identifier 'default_catalog.default_database.{name}' does not exist."
                ),
            });
        }
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }

    /// The names a shell completes: tables and views, their columns,
    /// functions and `SET` keys.
    pub fn vocabulary(&self) -> Vocabulary {
        let state = self.state();
        let mut v = Vocabulary {
            relations: self
                .tables
                .keys()
                .chain(self.views.keys().filter(|n| !is_hidden(n)))
                .cloned()
                .collect(),
            columns: self
                .tables
                .values()
                .flat_map(|t| t.schema.fields().iter().map(|f| f.name().clone()))
                .collect(),
            functions: state
                .scalar_functions()
                .keys()
                .chain(state.aggregate_functions().keys())
                .cloned()
                .collect(),
            keys: KNOWN_KEYS
                .iter()
                .chain(crate::checkpointing::KEYS)
                .map(|(k, _)| k.to_string())
                .collect(),
        };
        for list in [
            &mut v.relations,
            &mut v.columns,
            &mut v.functions,
            &mut v.keys,
        ] {
            list.sort();
            list.dedup();
        }
        v
    }

    fn list_config(&self) -> Outcome {
        let mut all: BTreeMap<String, String> = KNOWN_KEYS
            .iter()
            .chain(crate::checkpointing::KEYS)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.extend(self.config.clone());
        Outcome::Rows {
            header: vec!["key".into(), "value".into()],
            rows: all.into_iter().map(|(k, v)| vec![k, v]).collect(),
        }
    }

    fn show(&self, what: &str) -> Outcome {
        let (header, mut names): (&str, Vec<String>) = match what {
            "VIEWS" => (
                "view name",
                self.views
                    .keys()
                    .filter(|v| !is_hidden(v))
                    .cloned()
                    .collect(),
            ),
            "TABLES" => (
                "table name",
                self.tables
                    .keys()
                    .chain(self.views.keys().filter(|v| !is_hidden(v)))
                    .cloned()
                    .collect(),
            ),
            "FUNCTIONS" => (
                "function name",
                self.state().scalar_functions().keys().cloned().collect(),
            ),
            _ => ("job id", vec![]),
        };
        names.sort();
        Outcome::Rows {
            header: vec![header.into()],
            rows: names.into_iter().map(|n| vec![n]).collect(),
        }
    }

    fn describe(&self, name: &str, at: Location) -> Result<Outcome> {
        let header = ["name", "type", "null", "key", "extras", "watermark"]
            .map(String::from)
            .to_vec();
        if let Some(t) = self.tables.get(name) {
            let wm = t.def.watermark.as_ref();
            let rows = t
                .schema
                .fields()
                .iter()
                .map(|f| {
                    let is_rowtime = wm.is_some_and(|w| &w.column == f.name());
                    let mut ty = flink_type_name(f.data_type());
                    if is_rowtime {
                        ty.push_str(" *ROWTIME*");
                    } else if t.is_proctime(f.name()) {
                        ty.push_str(" *PROCTIME*");
                    }
                    let extra = t.extras.get(f.name()).cloned().unwrap_or_default();
                    vec![
                        f.name().clone(),
                        ty,
                        f.is_nullable().to_string().to_uppercase(),
                        if t.def.primary_key.contains(f.name()) {
                            "PRI(".to_string() + f.name() + ")"
                        } else {
                            String::new()
                        },
                        extra,
                        if is_rowtime {
                            wm.map(|w| crate::rewrite::quoted(&w.expr))
                                .unwrap_or_default()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            return Ok(Outcome::Rows { header, rows });
        }
        if self.views.contains_key(name) {
            let provider = self.ctx.table_provider(name);
            let schema = futures_lite_block(provider)
                .map_err(|e| df_error(e, at))?
                .schema();
            let rows = schema
                .fields()
                .iter()
                .map(|f| {
                    vec![
                        f.name().clone(),
                        flink_type_name(f.data_type()),
                        f.is_nullable().to_string().to_uppercase(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]
                })
                .collect();
            return Ok(Outcome::Rows { header, rows });
        }
        Err(SqlError::Plan {
            location: at,
            message: format!(
                "Tables or views with the identifier 'default_catalog.default_database.{name}' doesn't exist."
            ),
        })
    }
}

/// Polls a future that is ready at once (DataFusion's in-memory catalog).
fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Views the Table API registers for its own use (windows over a derived
/// table) start with this; SHOW does not list them.
pub const HIDDEN_VIEW_PREFIX: &str = "__eddy_table_";

fn is_hidden(view: &str) -> bool {
    view.starts_with(HIDDEN_VIEW_PREFIX)
}

fn relocate(e: SqlError, at: Location) -> SqlError {
    match e {
        SqlError::Plan { message, .. } => SqlError::Plan {
            location: at,
            message,
        },
        other => other,
    }
}

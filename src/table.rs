//! The Table API: streaming queries built in Rust, on the planner SQL uses.
//!
//! A [`TableEnvironment`] holds a session (catalog, `SET` options). A
//! [`Table`] is a DataFusion `LogicalPlan`, made from SQL
//! ([`TableEnvironment::sql_query`]), from a catalog table
//! ([`TableEnvironment::from_path`]) or from another table by an operation
//! ([`Table::select`], [`Table::filter`]). Running it plans the same job a
//! SQL query would; its changes come back to the program as a
//! [`Changelog`] of [`ChangeBatch`]es.
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), eddy::sql::SqlError> {
//! use eddy::table::{TableEnvironment, col, lit};
//!
//! let env = TableEnvironment::new();
//! let t = env
//!     .sql_query("SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS t(id, name)")
//!     .await?
//!     .filter(col("id").gt(lit(1)))?
//!     .select([col("name")])?;
//! let mut names = vec![];
//! for batch in t.collect().await? {
//!     let column = batch.data.column(0);
//!     let column = column
//!         .as_any()
//!         .downcast_ref::<datafusion::arrow::array::StringArray>()
//!         .expect("a string column");
//!     names.extend(column.iter().flatten().map(String::from));
//! }
//! names.sort();
//! assert_eq!(names, ["b", "c"]);
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use eddy_engine::error::EngineError;
use eddy_engine::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use eddy_engine::runtime::{JobCanceller, JobHandle};
use eddy_sql::{Location, Outcome, SqlError};
use tokio::sync::{Mutex, mpsc};

pub use datafusion::functions_aggregate::expr_fn::{avg, count, max, min, sum};
pub use datafusion::logical_expr::{Expr, JoinType};
pub use datafusion::prelude::{col, lit};
pub use eddy_engine::ChangeBatch;

/// Batches in flight between a running query and its [`Changelog`].
const CHANGELOG_CAPACITY: usize = 8;

/// A streaming table environment: a catalog and the `SET` options, shared
/// by the tables made from it (cloning it shares them too).
#[derive(Clone)]
pub struct TableEnvironment {
    session: Arc<Mutex<eddy_sql::Session>>,
    /// The rows of tables made by `from_stream`, until a job reads them.
    streams: crate::program_source::ProgramStreams,
    /// Views registered for the environment's own use so far.
    hidden_views: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for TableEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl TableEnvironment {
    /// An environment with every built-in connector.
    pub fn new() -> Self {
        let streams = crate::program_source::ProgramStreams::default();
        let mut connectors = eddy_connectors::builtin_connectors();
        connectors.register(Arc::new(streams.clone()));
        Self {
            session: Arc::new(Mutex::new(eddy_sql::Session::new(connectors))),
            streams,
            hidden_views: Arc::default(),
        }
    }

    /// Runs one SQL statement: DDL, `SET`, `INSERT` (the job runs in the
    /// background; await it through [`Outcome::Job`]), `EXPLAIN`, `SHOW`,
    /// `DESCRIBE`. A `SELECT` prints its changelog to stdout, as in `eddy
    /// -f`; use [`TableEnvironment::sql_query`] to get its rows instead.
    pub async fn execute_sql(&self, sql: &str) -> Result<Outcome, SqlError> {
        let statements = eddy_sql::split_statements(sql);
        let [one] = statements.as_slice() else {
            return Err(plan_error(format!(
                "execute_sql runs one statement, got {}",
                statements.len()
            )));
        };
        let located = eddy_sql::parse_statement(one)?;
        let printer = Arc::new(eddy_connectors::print::changelog_printer());
        self.session.lock().await.execute(&located, printer).await
    }

    /// The table a query's text defines.
    pub async fn sql_query(&self, sql: &str) -> Result<Table, SqlError> {
        let plan = self.session.lock().await.query_plan(sql).await?;
        Ok(Table {
            env: self.clone(),
            plan,
            source: None,
        })
    }

    /// The table of `rows` (Flink's `fromValues`): columns `f0`, `f1`, ..
    /// of the rows' common types.
    pub fn from_values(&self, rows: Vec<Vec<Expr>>) -> Result<Table, SqlError> {
        let plan = LogicalPlanBuilder::values(rows)
            .and_then(|b| b.build())
            .map_err(|e| plan_error(e.to_string()))?;
        let names: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .enumerate()
            .map(|(i, c)| Expr::Column(c).alias(format!("f{i}")))
            .collect();
        Table {
            env: self.clone(),
            plan,
            source: None,
        }
        .select(names)
    }

    /// The catalog table or view `path`.
    pub async fn from_path(&self, path: &str) -> Result<Table, SqlError> {
        let mut table = self
            .sql_query(&format!("SELECT * FROM {}", quoted(path)))
            .await?;
        table.source = Some(path.to_string());
        Ok(table)
    }

    /// Table `name` (in the catalog, for SQL too) of the batches `stream`
    /// yields, of `schema`; `watermark` names its time attribute column
    /// (`TIMESTAMP(3)`) and how far out of order rows may come, as
    /// `WATERMARK FOR ts AS ts - delay`. The table is unbounded until the
    /// stream ends, and one job reads it.
    pub async fn from_stream(
        &self,
        name: &str,
        schema: datafusion::arrow::datatypes::SchemaRef,
        watermark: Option<(&str, Duration)>,
        stream: impl futures::Stream<Item = datafusion::arrow::record_batch::RecordBatch>
        + Send
        + 'static,
    ) -> Result<Table, SqlError> {
        let mut columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    quoted(f.name()),
                    eddy_sql::types::flink_type_name(f.data_type())
                )
            })
            .collect();
        if let Some((column, delay)) = watermark {
            let c = quoted(column);
            columns.push(format!("WATERMARK FOR {c} AS {c} - {}", interval(delay)));
        }
        let id = format!(
            "{name}-{}",
            self.hidden_views
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.execute_sql(&format!(
            "CREATE TABLE {} ({}) WITH ('connector' = '{}', 'stream-id' = '{}')",
            quoted(name),
            columns.join(", "),
            crate::program_source::IDENTIFIER,
            id.replace('\'', "''")
        ))
        .await?;
        self.streams.add(&id, Box::pin(stream));
        self.from_path(name).await
    }

    /// Registers `table` as view `name`, for SQL and [`TableEnvironment::from_path`].
    pub async fn create_temporary_view(&self, name: &str, table: &Table) -> Result<(), SqlError> {
        let text = format!("(Table API)\n{}", table.plan.display_indent());
        self.session
            .lock()
            .await
            .register_view(name, table.plan.clone(), &text)
    }

    /// Sets a configuration option, as `SET 'key' = 'value'` does.
    pub async fn set(&self, key: &str, value: &str) -> Result<(), SqlError> {
        self.session.lock().await.set(key, value)
    }

    /// A configuration option's value, if set or defaulted.
    pub async fn get(&self, key: &str) -> Option<String> {
        self.session.lock().await.config(key).map(String::from)
    }
}

/// A table: a query not yet running. Operations return new tables.
#[derive(Clone)]
pub struct Table {
    env: TableEnvironment,
    plan: LogicalPlan,
    /// The catalog table or view this table reads unchanged, if it does.
    source: Option<String>,
}

impl Table {
    /// The logical plan (DataFusion's), as SQL would plan it.
    pub fn logical_plan(&self) -> &LogicalPlan {
        &self.plan
    }

    /// The table of `exprs` over each row (`SELECT exprs`).
    pub fn select(self, exprs: impl IntoIterator<Item = Expr>) -> Result<Table, SqlError> {
        self.build(|b| b.project(exprs))
    }

    /// The rows where `predicate` is true (`WHERE predicate`).
    pub fn filter(self, predicate: Expr) -> Result<Table, SqlError> {
        self.build(|b| b.filter(predicate))
    }

    /// The same as [`Table::filter`] (Flink's `where`).
    pub fn where_(self, predicate: Expr) -> Result<Table, SqlError> {
        self.filter(predicate)
    }

    /// The columns, as expressions.
    fn columns(&self) -> Vec<Expr> {
        self.plan
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect()
    }

    /// Every column, then `exprs` (`SELECT *, exprs`).
    pub fn add_columns(self, exprs: impl IntoIterator<Item = Expr>) -> Result<Table, SqlError> {
        let mut all = self.columns();
        all.extend(exprs);
        self.select(all)
    }

    /// Renames columns: `(old, new)` pairs.
    pub fn rename_columns(self, renames: &[(&str, &str)]) -> Result<Table, SqlError> {
        let mut left: Vec<&str> = renames.iter().map(|(old, _)| *old).collect();
        let exprs: Vec<Expr> = self
            .plan
            .schema()
            .columns()
            .into_iter()
            .map(|c| match renames.iter().find(|(old, _)| *old == c.name) {
                Some((old, new)) => {
                    left.retain(|l| l != old);
                    Expr::Column(c).alias(*new)
                }
                None => Expr::Column(c),
            })
            .collect();
        if let Some(missing) = left.first() {
            return Err(plan_error(format!("no column '{missing}' to rename")));
        }
        self.select(exprs)
    }

    /// Every column but `names`.
    pub fn drop_columns(self, names: &[&str]) -> Result<Table, SqlError> {
        let columns = self.plan.schema().columns();
        if let Some(missing) = names
            .iter()
            .find(|n| !columns.iter().any(|c| c.name == **n))
        {
            return Err(plan_error(format!("no column '{missing}' to drop")));
        }
        let kept = columns
            .into_iter()
            .filter(|c| !names.contains(&c.name.as_str()))
            .map(Expr::Column);
        self.select(kept)
    }

    /// The distinct rows (`SELECT DISTINCT *`): an updating table.
    pub fn distinct(self) -> Result<Table, SqlError> {
        self.build(|b| b.distinct())
    }

    /// This table's rows, then `other`'s (`UNION ALL`); the schemas must agree.
    pub fn union_all(self, other: Table) -> Result<Table, SqlError> {
        self.build(|b| b.union(other.plan))
    }

    /// Joins `other` on `on`, keeping the pairs that match
    /// (`INNER JOIN .. ON`).
    pub fn join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Inner, other, on)
    }

    /// Joins `other`, keeping unmatched rows of this table with NULLs.
    pub fn left_outer_join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Left, other, on)
    }

    /// Joins `other`, keeping unmatched rows of both tables with NULLs.
    pub fn full_outer_join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Full, other, on)
    }

    fn join_as(self, kind: JoinType, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.build(|b| b.join_on(other.plan, kind, [on]))
    }

    /// Groups the rows into `window` (event time or processing time), for
    /// [`WindowedTable::group_by`].
    pub fn window(self, window: GroupWindow) -> WindowedTable {
        WindowedTable {
            table: self,
            window,
        }
    }

    /// A name SQL can read this table by: its catalog name, or a view the
    /// environment registers for it.
    async fn relation(&self) -> Result<String, SqlError> {
        if let Some(source) = &self.source {
            return Ok(quoted(source));
        }
        let n = self
            .env
            .hidden_views
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{}{}", eddy_sql::HIDDEN_VIEW_PREFIX, n + 1);
        self.env.create_temporary_view(&name, self).await?;
        Ok(quoted(&name))
    }

    /// Groups the rows by `keys`, for [`GroupedTable::select`].
    pub fn group_by(self, keys: impl IntoIterator<Item = Expr>) -> GroupedTable {
        GroupedTable {
            table: self,
            keys: keys.into_iter().collect(),
        }
    }

    /// The table `step` makes of this one's plan.
    fn build(
        self,
        step: impl FnOnce(LogicalPlanBuilder) -> datafusion::error::Result<LogicalPlanBuilder>,
    ) -> Result<Table, SqlError> {
        let plan = step(LogicalPlanBuilder::from(self.plan))
            .and_then(|b| b.build())
            .map_err(|e| plan_error(e.to_string()))?;
        Ok(Table {
            env: self.env,
            plan,
            source: None,
        })
    }

    /// The plans `EXPLAIN` shows for this query: the optimized logical plan
    /// and the streaming job.
    pub async fn explain(&self) -> Result<String, SqlError> {
        let session = self.env.session.lock().await;
        let plan = session.optimize(&self.plan)?;
        let (tx, _rx) = mpsc::channel(1);
        session.explain_plan(plan, Arc::new(ChannelSink { tx }))
    }

    /// Starts the query: its changes (`+I`, `-U`, `+U`, `-D`) as they come.
    pub async fn execute(&self) -> Result<Changelog, SqlError> {
        let mut session = self.env.session.lock().await;
        let plan = session.optimize(&self.plan)?;
        let (tx, rx) = mpsc::channel(CHANGELOG_CAPACITY);
        let job = session.start_plan(plan, Arc::new(ChannelSink { tx }))?;
        Ok(Changelog {
            rx,
            canceller: job.canceller(),
            job: Some(job),
        })
    }

    /// Starts a job writing this table into catalog table `sink` (as
    /// `INSERT INTO sink SELECT ..`); await [`JobHandle::wait`] for its end.
    pub async fn execute_insert(&self, sink: &str) -> Result<JobHandle, SqlError> {
        let mut session = self.env.session.lock().await;
        let plan = session.optimize(&self.plan)?;
        session.start_insert(plan, sink)
    }

    /// Runs the query to its end (its sources must be bounded) and returns
    /// every change batch.
    pub async fn collect(&self) -> Result<Vec<ChangeBatch>, SqlError> {
        let mut changes = self.execute().await?;
        let mut out = vec![];
        while let Some(batch) = changes.next().await {
            out.push(batch?);
        }
        Ok(out)
    }
}

/// A table grouped by keys (unbounded `GROUP BY`): an updating table once
/// aggregated.
pub struct GroupedTable {
    table: Table,
    keys: Vec<Expr>,
}

impl GroupedTable {
    /// The keys and aggregates per group: `exprs` may name the keys and
    /// aggregate the other columns (`count(col("x"))`, `sum(..)`).
    pub fn select(self, exprs: impl IntoIterator<Item = Expr>) -> Result<Table, SqlError> {
        let exprs: Vec<Expr> = exprs.into_iter().collect();
        let aggregates = datafusion::logical_expr::utils::find_aggregate_exprs(exprs.iter());
        let keys = self.keys;
        self.table
            .build(|b| b.aggregate(keys, aggregates))?
            .select(exprs)
    }
}

/// Flink's tumbling window: `Tumble::over(size).on("ts").alias("w")`.
pub struct Tumble;

impl Tumble {
    /// Windows of `size`, one after another.
    pub fn over(size: Duration) -> WindowBuilder {
        WindowBuilder(WindowKind::Tumble { size })
    }
}

/// Flink's sliding (hopping) window: `Slide::over(size).every(slide)`.
pub struct Slide;

impl Slide {
    /// Windows of `size`; see [`SlideBuilder::every`].
    pub fn over(size: Duration) -> SlideBuilder {
        SlideBuilder { size }
    }
}

/// A sliding window missing its slide.
pub struct SlideBuilder {
    size: Duration,
}

impl SlideBuilder {
    /// A window starting every `slide`.
    pub fn every(self, slide: Duration) -> WindowBuilder {
        WindowBuilder(WindowKind::Hop {
            size: self.size,
            slide,
        })
    }
}

/// Flink's session window: `Session::with_gap(gap)`; sessions are per
/// group key.
pub struct Session;

impl Session {
    /// Rows closer than `gap` share a session.
    pub fn with_gap(gap: Duration) -> WindowBuilder {
        WindowBuilder(WindowKind::Session { gap })
    }
}

/// Flink's cumulating window: `Cumulate::over(max_size).step(step)`.
pub struct Cumulate;

impl Cumulate {
    /// Windows growing to `max_size`; see [`CumulateBuilder::step`].
    pub fn over(max_size: Duration) -> CumulateBuilder {
        CumulateBuilder { max_size }
    }
}

/// A cumulating window missing its step.
pub struct CumulateBuilder {
    max_size: Duration,
}

impl CumulateBuilder {
    /// Windows ending every `step` from the start.
    pub fn step(self, step: Duration) -> WindowBuilder {
        WindowBuilder(WindowKind::Cumulate {
            step,
            max_size: self.max_size,
        })
    }
}

pub use std::time::Duration;

#[derive(Clone, Debug)]
enum WindowKind {
    Tumble { size: Duration },
    Hop { size: Duration, slide: Duration },
    Session { gap: Duration },
    Cumulate { step: Duration, max_size: Duration },
}

/// A window missing its time attribute and name.
pub struct WindowBuilder(WindowKind);

impl WindowBuilder {
    /// Windows by time attribute `time` (a watermarked column or
    /// `PROCTIME()` column).
    pub fn on(self, time: &str) -> TimedWindowBuilder {
        TimedWindowBuilder {
            kind: self.0,
            time: time.to_string(),
        }
    }
}

/// A window missing its name.
pub struct TimedWindowBuilder {
    kind: WindowKind,
    time: String,
}

impl TimedWindowBuilder {
    /// Names the window, for `group_by(col(name))` and its properties.
    pub fn alias(self, name: &str) -> GroupWindow {
        GroupWindow {
            kind: self.kind,
            time: self.time,
            name: name.to_string(),
        }
    }
}

/// A group window: a window kind, a time attribute and a name.
#[derive(Clone, Debug)]
pub struct GroupWindow {
    kind: WindowKind,
    time: String,
    name: String,
}

/// The properties of a group window named by `col(name)`, in
/// [`WindowGroupedTable::select`]: `col("w").start()`, `.end()`,
/// `.rowtime()`.
pub trait WindowProperties {
    /// The window's start (`window_start`).
    fn start(self) -> Expr;
    /// The window's end (`window_end`).
    fn end(self) -> Expr;
    /// The window's time attribute, its end less 1 ms (`window_time`).
    fn rowtime(self) -> Expr;
}

impl WindowProperties for Expr {
    fn start(self) -> Expr {
        col("window_start")
    }
    fn end(self) -> Expr {
        col("window_end")
    }
    fn rowtime(self) -> Expr {
        col("window_time")
    }
}

/// An SQL interval literal of `d`.
fn interval(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("INTERVAL '{}' SECOND", ms / 1000)
    } else {
        format!("INTERVAL '{ms}' MILLISECOND")
    }
}

/// A table with a group window, for [`WindowedTable::group_by`].
pub struct WindowedTable {
    table: Table,
    window: GroupWindow,
}

impl WindowedTable {
    /// Groups by `keys`, which name the window (`col(alias)`) and may add
    /// other keys.
    pub fn group_by(self, keys: impl IntoIterator<Item = Expr>) -> WindowGroupedTable {
        WindowGroupedTable {
            windowed: self,
            keys: keys.into_iter().collect(),
        }
    }
}

/// A windowed table grouped by its window and keys.
pub struct WindowGroupedTable {
    windowed: WindowedTable,
    keys: Vec<Expr>,
}

impl WindowGroupedTable {
    /// The keys, window properties and aggregates per window and group:
    /// planned as SQL's window table function with `GROUP BY
    /// window_start, window_end, keys`.
    pub async fn select(self, exprs: impl IntoIterator<Item = Expr>) -> Result<Table, SqlError> {
        let WindowedTable { table, window } = self.windowed;
        let names_window = |e: &Expr| matches!(e, Expr::Column(c) if c.name == window.name);
        if !self.keys.iter().any(names_window) {
            return Err(plan_error(format!(
                "group_by must name the window '{}'",
                window.name
            )));
        }
        let others: Vec<Expr> = self
            .keys
            .iter()
            .filter(|e| !names_window(e))
            .cloned()
            .collect();
        let relation = table.relation().await?;
        let time = quoted(&window.time);
        let tvf = match &window.kind {
            WindowKind::Tumble { size } => {
                format!(
                    "TUMBLE(TABLE {relation}, DESCRIPTOR({time}), {})",
                    interval(*size)
                )
            }
            WindowKind::Hop { size, slide } => format!(
                "HOP(TABLE {relation}, DESCRIPTOR({time}), {}, {})",
                interval(*slide),
                interval(*size)
            ),
            WindowKind::Cumulate { step, max_size } => format!(
                "CUMULATE(TABLE {relation}, DESCRIPTOR({time}), {}, {})",
                interval(*step),
                interval(*max_size)
            ),
            WindowKind::Session { gap } => {
                let mut partition = vec![];
                for k in &others {
                    match k {
                        Expr::Column(c) => partition.push(quoted(&c.name)),
                        other => {
                            return Err(plan_error(format!(
                                "session windows group by columns, not {other}"
                            )));
                        }
                    }
                }
                let by = if partition.is_empty() {
                    String::new()
                } else {
                    format!(" PARTITION BY {}", partition.join(", "))
                };
                format!(
                    "SESSION(TABLE {relation}{by}, DESCRIPTOR({time}), {})",
                    interval(*gap)
                )
            }
        };
        let windowed = table
            .env
            .sql_query(&format!("SELECT * FROM TABLE({tvf})"))
            .await?;
        let exprs: Vec<Expr> = exprs.into_iter().collect();
        let mut keys = vec![col("window_start"), col("window_end")];
        if exprs
            .iter()
            .any(|e| e.column_refs().iter().any(|c| c.name == "window_time"))
        {
            keys.push(col("window_time"));
        }
        keys.extend(others);
        windowed.group_by(keys).select(exprs)
    }
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The changes of a running query, in order. Dropping it stops the query.
pub struct Changelog {
    rx: mpsc::Receiver<ChangeBatch>,
    canceller: JobCanceller,
    job: Option<JobHandle>,
}

impl Changelog {
    /// The next batch of changes; `None` once the query has ended (a
    /// failure comes as the last item).
    pub async fn next(&mut self) -> Option<Result<ChangeBatch, SqlError>> {
        if let Some(batch) = self.rx.recv().await {
            return Some(Ok(batch));
        }
        match self.job.take()?.wait().await {
            Ok(_) | Err(EngineError::Cancelled) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Stops the query; [`Changelog::next`] then returns what is in flight
    /// and ends.
    pub fn cancel(&self) {
        self.canceller.cancel();
    }
}

impl Drop for Changelog {
    fn drop(&mut self) {
        if self.job.is_some() {
            self.canceller.cancel();
        }
    }
}

/// The sink of a [`Changelog`]: sends each batch to the program.
struct ChannelSink {
    tx: mpsc::Sender<ChangeBatch>,
}

impl OperatorFactory for ChannelSink {
    fn name(&self) -> String {
        "Sink: changelog".into()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> eddy_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(ChannelSink {
            tx: self.tx.clone(),
        }))
    }
}

#[async_trait]
impl Operator for ChannelSink {
    fn name(&self) -> String {
        "Sink: changelog".into()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> eddy_engine::Result<()> {
        // The program dropped its changelog: stop.
        self.tx
            .send(batch)
            .await
            .map_err(|_| EngineError::Cancelled)
    }
}

/// A planning error at the start of the (program-built) query.
fn plan_error(message: String) -> SqlError {
    SqlError::Plan {
        location: Location { line: 1, column: 1 },
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bounded table of bids over the conformance data.
    async fn env_with_bids() -> TableEnvironment {
        let env = TableEnvironment::new();
        let data = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/conformance/data/nexmark/bid/bids-000.csv"
        );
        env.execute_sql(&format!(
            "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, \
             `dateTime` TIMESTAMP(3), extra STRING, \
             WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) \
             WITH ('connector' = 'filesystem', 'path' = '{data}', 'format' = 'csv')"
        ))
        .await
        .expect("create table");
        env
    }

    /// The changes as `+I[..]` lines, sorted.
    fn lines(batches: &[ChangeBatch]) -> Vec<String> {
        let mut out = vec![];
        for b in batches {
            for row in 0..b.num_rows() {
                let mut line = String::new();
                eddy_engine::value_text::write_row(&mut line, b.kind(row), b.data.columns(), row);
                out.push(line);
            }
        }
        out.sort();
        out
    }

    /// The streaming plan part of EXPLAIN, without the job-specific sink.
    fn streaming_plan(explain: &str) -> String {
        explain
            .split("== Streaming Plan ==")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    #[tokio::test]
    async fn a_table_api_query_plans_and_runs_as_its_sql() {
        let env = env_with_bids().await;
        let sql = env
            .sql_query("SELECT auction, price * 2 AS doubled FROM bid WHERE price > 1000")
            .await
            .expect("sql");
        let api = env
            .from_path("bid")
            .await
            .expect("table")
            .filter(col("price").gt(lit(1000i64)))
            .expect("filter")
            .select([col("auction"), (col("price") * lit(2i64)).alias("doubled")])
            .expect("select");
        assert_eq!(
            streaming_plan(&api.explain().await.expect("explain")),
            streaming_plan(&sql.explain().await.expect("explain"))
        );
        let (a, s) = (
            api.collect().await.expect("run"),
            sql.collect().await.expect("run"),
        );
        assert!(!lines(&s).is_empty());
        assert_eq!(lines(&a), lines(&s));
    }

    #[tokio::test]
    async fn an_updating_query_comes_back_as_a_changelog() {
        let env = env_with_bids().await;
        let t = env
            // Each read of the file is one batch: counted twice, the
            // counts change once.
            .sql_query(
                "SELECT channel, COUNT(*) AS n FROM \
                 (SELECT channel FROM bid UNION ALL SELECT channel FROM bid) GROUP BY channel",
            )
            .await
            .expect("sql");
        let changes = lines(&t.collect().await.expect("run"));
        assert!(changes.iter().any(|l| l.starts_with("+I[")));
        assert!(changes.iter().any(|l| l.starts_with("-U[")));
        assert!(changes.iter().any(|l| l.starts_with("+U[")));
    }

    #[tokio::test]
    async fn a_cancelled_changelog_ends() {
        let env = TableEnvironment::new();
        env.execute_sql(
            "CREATE TABLE g (x BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100')",
        )
        .await
        .expect("create");
        let t = env.from_path("g").await.expect("table");
        let mut changes = t.execute().await.expect("start");
        assert!(changes.next().await.is_some());
        changes.cancel();
        while let Some(batch) = changes.next().await {
            batch.expect("no failure");
        }
    }

    #[tokio::test]
    async fn a_statement_that_is_no_query_makes_no_table() {
        let env = TableEnvironment::new();
        let err = env
            .sql_query("SET 'a' = 'b'")
            .await
            .err()
            .expect("an error");
        assert!(err.to_string().contains("only a query"), "{err}");
    }

    /// Asserts that `api` plans and runs as the SQL query `sql` does.
    async fn assert_same_as_sql(env: &TableEnvironment, api: Table, sql: &str) {
        let sql = env.sql_query(sql).await.expect("sql");
        assert_eq!(
            streaming_plan(&api.explain().await.expect("explain")),
            streaming_plan(&sql.explain().await.expect("explain"))
        );
        let want = lines(&sql.collect().await.expect("run"));
        assert!(!want.is_empty());
        assert_eq!(lines(&api.collect().await.expect("run")), want);
    }

    #[tokio::test]
    async fn an_updating_aggregate_plans_and_runs_as_its_sql() {
        let env = env_with_bids().await;
        let api = env
            .from_path("bid")
            .await
            .expect("table")
            .group_by([col("channel")])
            .select([
                col("channel"),
                count(col("price")).alias("n"),
                max(col("price")).alias("top"),
            ])
            .expect("aggregate");
        assert_same_as_sql(
            &env,
            api,
            "SELECT channel, COUNT(price) AS n, MAX(price) AS top FROM bid GROUP BY channel",
        )
        .await;
    }

    #[tokio::test]
    async fn column_operations_plan_and_run_as_their_sql() {
        let env = env_with_bids().await;
        let api = env
            .from_path("bid")
            .await
            .expect("table")
            .drop_columns(&["url", "extra", "dateTime"])
            .expect("drop")
            .rename_columns(&[("price", "amount")])
            .expect("rename")
            .add_columns([(col("amount") / lit(100i64)).alias("hundreds")])
            .expect("add")
            .filter(col("auction").lt(lit(1010i64)))
            .expect("filter");
        assert_same_as_sql(
            &env,
            api,
            "SELECT auction, bidder, amount, channel, amount / 100 AS hundreds FROM \
             (SELECT auction, bidder, price AS amount, channel FROM bid) WHERE auction < 1010",
        )
        .await;
    }

    #[tokio::test]
    async fn a_view_made_by_the_table_api_serves_sql_and_distinct_unions() {
        let env = env_with_bids().await;
        let cheap = env
            .from_path("bid")
            .await
            .expect("table")
            .filter(col("price").lt(lit(10i64)))
            .expect("filter")
            .select([col("channel")])
            .expect("select");
        env.create_temporary_view("cheap", &cheap)
            .await
            .expect("view");
        let api = cheap
            .clone()
            .union_all(cheap)
            .expect("union")
            .distinct()
            .expect("distinct");
        assert_same_as_sql(
            &env,
            api,
            "SELECT DISTINCT channel FROM (SELECT channel FROM cheap UNION ALL SELECT channel FROM cheap)",
        )
        .await;
        let unknown = env
            .from_path("bid")
            .await
            .expect("table")
            .drop_columns(&["nope"]);
        assert!(
            unknown
                .err()
                .expect("an error")
                .to_string()
                .contains("no column 'nope'")
        );
    }

    #[tokio::test]
    async fn a_window_aggregate_plans_and_runs_as_its_sql() {
        let env = env_with_bids().await;
        let api = env
            .from_path("bid")
            .await
            .expect("table")
            .window(
                Tumble::over(Duration::from_secs(10))
                    .on("dateTime")
                    .alias("w"),
            )
            .group_by([col("w"), col("auction")])
            .select([
                col("auction"),
                col("w").start(),
                col("w").end(),
                count(col("price")).alias("n"),
            ])
            .await
            .expect("window aggregate");
        assert_same_as_sql(
            &env,
            api,
            "SELECT auction, window_start, window_end, COUNT(price) AS n FROM \
             TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) \
             GROUP BY window_start, window_end, auction",
        )
        .await;
    }

    #[tokio::test]
    async fn windows_over_a_derived_table_give_the_rows_of_their_sql() {
        let env = env_with_bids().await;
        let hot = env
            .from_path("bid")
            .await
            .expect("table")
            .filter(col("auction").lt(lit(1010i64)))
            .expect("filter");
        let windows = [
            Session::with_gap(Duration::from_secs(2))
                .on("dateTime")
                .alias("s"),
            Slide::over(Duration::from_secs(4))
                .every(Duration::from_secs(2))
                .on("dateTime")
                .alias("s"),
            Cumulate::over(Duration::from_secs(4))
                .step(Duration::from_millis(500))
                .on("dateTime")
                .alias("s"),
        ];
        let tvfs = [
            "SESSION(TABLE hot PARTITION BY auction, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND)",
            "HOP(TABLE hot, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '4' SECOND)",
            "CUMULATE(TABLE hot, DESCRIPTOR(`dateTime`), INTERVAL '500' MILLISECOND, INTERVAL '4' SECOND)",
        ];
        env.create_temporary_view("hot", &hot).await.expect("view");
        for (window, tvf) in windows.into_iter().zip(tvfs) {
            let api = hot
                .clone()
                .window(window)
                .group_by([col("auction"), col("s")])
                .select([
                    col("auction"),
                    col("s").end(),
                    sum(col("price")).alias("total"),
                ])
                .await
                .expect("window aggregate");
            let sql = env
                .sql_query(&format!(
                    "SELECT auction, window_end, SUM(price) AS total FROM TABLE({tvf}) \
                     GROUP BY window_start, window_end, auction"
                ))
                .await
                .expect("sql");
            let want = lines(&sql.collect().await.expect("run"));
            assert!(!want.is_empty(), "{tvf}");
            assert_eq!(lines(&api.collect().await.expect("run")), want, "{tvf}");
        }
        // The views the environment made for itself are not listed.
        match env.execute_sql("SHOW VIEWS").await.expect("show") {
            Outcome::Rows { rows, .. } => assert_eq!(rows, [["hot"]]),
            _ => panic!("SHOW VIEWS gives rows"),
        }
    }

    #[tokio::test]
    async fn rows_sent_by_the_program_are_windowed_by_their_watermark() {
        use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
        use datafusion::arrow::record_batch::RecordBatch;

        let schema = Arc::new(Schema::new(vec![
            Field::new("user", DataType::Utf8, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]));
        let batch = |rows: &[(&str, i64)]| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                    Arc::new(TimestampMillisecondArray::from_iter_values(
                        rows.iter().map(|r| r.1),
                    )),
                ],
            )
            .expect("batch")
        };
        let (tx, rx) = mpsc::channel(4);
        let clicks =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
        let env = TableEnvironment::new();
        let t = env
            .from_stream(
                "clicks",
                schema.clone(),
                Some(("ts", Duration::from_secs(1))),
                clicks,
            )
            .await
            .expect("table")
            .window(Tumble::over(Duration::from_secs(10)).on("ts").alias("w"))
            .group_by([col("w"), col("user")])
            .select([col("user"), col("w").end(), count(col("ts")).alias("n")])
            .await
            .expect("window aggregate");
        let mut changes = t.execute().await.expect("start");
        tx.send(batch(&[("ann", 1_000), ("bob", 2_000), ("ann", 9_000)]))
            .await
            .expect("send");
        // The watermark passes 10 s - 1 ms only with this batch: the first
        // window fires now, before the program ends its stream.
        tx.send(batch(&[("ann", 12_000)])).await.expect("send");
        let first = changes.next().await.expect("a window").expect("no failure");
        let mut fired = lines(&[first]);
        assert_eq!(
            fired,
            [
                "+I[ann, 1970-01-01T00:00:10, 2]",
                "+I[bob, 1970-01-01T00:00:10, 1]"
            ]
        );
        drop(tx);
        let mut rest = vec![];
        while let Some(b) = changes.next().await {
            rest.push(b.expect("no failure"));
        }
        fired = lines(&rest);
        assert_eq!(fired, ["+I[ann, 1970-01-01T00:00:20, 1]"]);
    }

    #[tokio::test]
    async fn values_inserted_into_a_table_land_in_its_files() {
        let dir = std::env::temp_dir().join(format!("eddy-table-api-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = TableEnvironment::new();
        env.execute_sql(&format!(
            "CREATE TABLE out (name STRING, n BIGINT) WITH ('connector' = 'filesystem', \
             'path' = '{}', 'format' = 'csv')",
            dir.display()
        ))
        .await
        .expect("create");
        let t = env
            .from_values(vec![vec![lit("a"), lit(1i64)], vec![lit("b"), lit(2i64)]])
            .expect("values");
        assert_eq!(t.logical_plan().schema().field_names(), ["f0", "f1"]);
        t.execute_insert("out")
            .await
            .expect("start")
            .wait()
            .await
            .expect("run");
        let mut written = String::new();
        for file in std::fs::read_dir(&dir).expect("dir") {
            written.push_str(&std::fs::read_to_string(file.expect("file").path()).expect("read"));
        }
        let mut lines: Vec<&str> = written.lines().collect();
        lines.sort();
        assert_eq!(lines, ["a,1", "b,2"]);
        let _ = std::fs::remove_dir_all(&dir);
        let err = t.execute_insert("nowhere").await.err().expect("an error");
        assert!(err.to_string().contains("nowhere"), "{err}");
    }
}

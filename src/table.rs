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

use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use eddy_engine::runtime::JobHandle;
use eddy_sql::{Location, Outcome, SqlError};
use tokio::sync::{Mutex, mpsc};

mod changelog;
mod rows;
mod window;

pub use changelog::Changelog;
pub use datafusion::functions_aggregate::expr_fn::{avg, count, max, min, sum};
pub use datafusion::logical_expr::{Expr, JoinType};
pub use datafusion::prelude::{col, lit};
pub use eddy_engine::ChangeBatch;
pub use std::time::Duration;
pub use window::{
    Cumulate, CumulateBuilder, GroupWindow, Session, Slide, SlideBuilder, TimedWindowBuilder,
    Tumble, WindowBuilder, WindowGroupedTable, WindowProperties, WindowedTable,
};

use changelog::ChannelSink;
use window::interval;

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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// let env = eddy::TableEnvironment::new();
    /// env.set("parallelism.default", "2").await?;
    /// assert_eq!(env.get("parallelism.default").await.as_deref(), Some("2"));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// let env = eddy::TableEnvironment::new();
    /// env.execute_sql("CREATE TABLE t (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5')").await?;
    /// let t = env.from_path("t").await?;
    /// assert_eq!(t.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.sql_query("SELECT 1 + 1 AS two").await?;
    /// assert_eq!(t.logical_plan().schema().field_names(), ["two"]);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// assert_eq!(t.logical_plan().schema().field_names(), ["f0", "f1"]);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// let env = eddy::TableEnvironment::new();
    /// env.execute_sql("CREATE VIEW v AS SELECT 7 AS n").await?;
    /// let t = env.from_path("v").await?;
    /// let names: Vec<&String> = t.logical_plan().schema().fields().iter().map(|f| f.name()).collect();
    /// assert_eq!(names, ["n"]);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use std::sync::Arc;
    /// use datafusion::arrow::array::Int64Array;
    /// use datafusion::arrow::datatypes::{DataType, Field, Schema};
    /// use datafusion::arrow::record_batch::RecordBatch;
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).expect("batch");
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_stream("xs", schema, None, futures::stream::iter([batch])).await?;
    /// assert_eq!(t.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    /// # Ok(()) }
    /// ```
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

    /// Table `name` of the program's `rows` (serde values whose fields are
    /// the columns of `schema`), as [`TableEnvironment::from_stream`] makes
    /// it from one batch.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use std::sync::Arc;
    /// use datafusion::arrow::datatypes::{DataType, Field, Schema};
    /// #[derive(serde::Serialize)]
    /// struct Reading { sensor: String, value: f64 }
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("sensor", DataType::Utf8, true),
    ///     Field::new("value", DataType::Float64, true),
    /// ]));
    /// let env = eddy::TableEnvironment::new();
    /// let rows = [Reading { sensor: "a".into(), value: 1.5 }];
    /// let t = env.from_rows("readings", schema, None, &rows).await?;
    /// assert_eq!(t.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    /// # Ok(()) }
    /// ```
    pub async fn from_rows<T: serde::Serialize>(
        &self,
        name: &str,
        schema: datafusion::arrow::datatypes::SchemaRef,
        watermark: Option<(&str, Duration)>,
        rows: &[T],
    ) -> Result<Table, SqlError> {
        let batch = rows::batch_of(&schema, rows)?;
        self.from_stream(name, schema, watermark, futures::stream::iter([batch]))
            .await
    }

    /// Registers `table` as view `name`, for SQL and [`TableEnvironment::from_path`].
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// env.create_temporary_view("pairs", &t).await?;
    /// let n = env.sql_query("SELECT COUNT(*) AS n FROM pairs").await?;
    /// assert!(!n.collect().await?.is_empty());
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// assert!(t.logical_plan().display_indent().to_string().contains("Values"));
    /// # Ok(()) }
    /// ```
    pub fn logical_plan(&self) -> &LogicalPlan {
        &self.plan
    }

    /// The table of `exprs` over each row (`SELECT exprs`).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let t = t.select([(col("f0") * lit(10i64)).alias("tens")])?;
    /// assert_eq!(t.logical_plan().schema().field_names(), ["tens"]);
    /// # Ok(()) }
    /// ```
    pub fn select(self, exprs: impl IntoIterator<Item = Expr>) -> Result<Table, SqlError> {
        self.build(|b| b.project(exprs))
    }

    /// The rows where `predicate` is true (`WHERE predicate`).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let t = t.filter(col("f0").gt(lit(1i64)))?;
    /// assert_eq!(t.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    /// # Ok(()) }
    /// ```
    pub fn filter(self, predicate: Expr) -> Result<Table, SqlError> {
        self.build(|b| b.filter(predicate))
    }

    /// The same as [`Table::filter`] (Flink's `where`).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let t = t.where_(col("f1").eq(lit("b")))?;
    /// assert_eq!(t.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let t = t.add_columns([(col("f0") + lit(1i64)).alias("next")])?;
    /// assert_eq!(t.logical_plan().schema().field_names(), ["f0", "f1", "next"]);
    /// # Ok(()) }
    /// ```
    pub fn add_columns(self, exprs: impl IntoIterator<Item = Expr>) -> Result<Table, SqlError> {
        let mut all = self.columns();
        all.extend(exprs);
        self.select(all)
    }

    /// Renames columns: `(old, new)` pairs.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let t = t.rename_columns(&[("f0", "id"), ("f1", "name")])?;
    /// assert_eq!(t.logical_plan().schema().field_names(), ["id", "name"]);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let t = t.drop_columns(&["f1"])?;
    /// assert_eq!(t.logical_plan().schema().field_names(), ["f0"]);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let t = t.clone().union_all(t)?.distinct()?;
    /// assert!(!t.collect().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn distinct(self) -> Result<Table, SqlError> {
        self.build(|b| b.distinct())
    }

    /// This table's rows, then `other`'s (`UNION ALL`); the schemas must agree.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let both = t.clone().union_all(t)?;
    /// assert_eq!(both.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>(), 4);
    /// # Ok(()) }
    /// ```
    pub fn union_all(self, other: Table) -> Result<Table, SqlError> {
        self.build(|b| b.union(other.plan))
    }

    /// Joins `other` on `on`, keeping the pairs that match
    /// (`INNER JOIN .. ON`).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let names = env
    ///     .from_values(vec![vec![lit(1i64), lit("one")]])?
    ///     .rename_columns(&[("f0", "id"), ("f1", "word")])?;
    /// // Planned like SQL's JOIN; running regular joins comes with the joins work.
    /// let joined = t.join(names, col("f0").eq(col("id")))?;
    /// assert_eq!(joined.logical_plan().schema().field_names(), ["f0", "f1", "id", "word"]);
    /// # Ok(()) }
    /// ```
    pub fn join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Inner, other, on)
    }

    /// Joins `other`, keeping unmatched rows of this table with NULLs.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let other = env.from_values(vec![vec![lit(1i64)]])?.rename_columns(&[("f0", "id")])?;
    /// let joined = t.left_outer_join(other, col("f0").eq(col("id")))?;
    /// assert!(joined.logical_plan().display_indent().to_string().contains("Left Join"));
    /// # Ok(()) }
    /// ```
    pub fn left_outer_join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Left, other, on)
    }

    /// Joins `other`, keeping unmatched rows of both tables with NULLs.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let other = env.from_values(vec![vec![lit(1i64)]])?.rename_columns(&[("f0", "id")])?;
    /// let joined = t.full_outer_join(other, col("f0").eq(col("id")))?;
    /// assert!(joined.logical_plan().display_indent().to_string().contains("Full Join"));
    /// # Ok(()) }
    /// ```
    pub fn full_outer_join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Full, other, on)
    }

    fn join_as(self, kind: JoinType, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.build(|b| b.join_on(other.plan, kind, [on]))
    }

    /// Groups the rows into `window` (event time or processing time), for
    /// [`WindowedTable::group_by`].
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// let env = eddy::TableEnvironment::new();
    /// env.execute_sql("CREATE TABLE clicks (u STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '10')").await?;
    /// let clicks = env.from_path("clicks").await?;
    /// use eddy::table::{col, count, Duration, WindowProperties};
    /// use eddy::table::Tumble;
    /// let per_minute = clicks
    ///     .window(Tumble::over(Duration::from_secs(60)).on("ts").alias("w"))
    ///     .group_by([col("w")])
    ///     .select([col("w").end(), count(col("u")).alias("n")])
    ///     .await?;
    /// assert!(!per_minute.collect().await?.is_empty());
    /// # Ok(()) }
    /// ```
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

    /// Orders the rows by `keys` (`col("x").sort(ascending, nulls_first)`),
    /// for [`OrderedTable::fetch`]: a Top-N.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let top = t.order_by([col("f0").sort(false, true)]).fetch(1).await?;
    /// let rows: Vec<(eddy::RowKind, serde_json::Value)> = top.collect_rows().await?;
    /// assert_eq!(rows.last().map(|r| r.1["f0"].clone()), Some(serde_json::json!(2)));
    /// # Ok(()) }
    /// ```
    pub fn order_by(
        self,
        keys: impl IntoIterator<Item = datafusion::logical_expr::SortExpr>,
    ) -> OrderedTable {
        OrderedTable {
            table: self,
            keys: keys.into_iter().collect(),
        }
    }

    /// Groups the rows by `keys`, for [`GroupedTable::select`].
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// use eddy::table::count;
    /// let per_name = t.group_by([col("f1")]).select([col("f1"), count(col("f0")).alias("n")])?;
    /// assert_eq!(per_name.logical_plan().schema().field_names(), ["f1", "n"]);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let plan = t.explain().await?;
    /// assert!(plan.contains("== Streaming Plan =="));
    /// # Ok(()) }
    /// ```
    pub async fn explain(&self) -> Result<String, SqlError> {
        let session = self.env.session.lock().await;
        let plan = session.optimize(&self.plan)?;
        let (tx, _rx) = mpsc::channel(1);
        session.explain_plan(plan, Arc::new(ChannelSink { tx }))
    }

    /// Starts the query: its changes (`+I`, `-U`, `+U`, `-D`) as they come.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let mut changes = t.execute().await?;
    /// let mut rows = 0;
    /// while let Some(batch) = changes.next().await {
    ///     rows += batch?.num_rows();
    /// }
    /// assert_eq!(rows, 2);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// env.execute_sql("CREATE TABLE sink (id BIGINT, name STRING) WITH ('connector' = 'blackhole')").await?;
    /// t.execute_insert("sink").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute_insert(&self, sink: &str) -> Result<JobHandle, SqlError> {
        let mut session = self.env.session.lock().await;
        let plan = session.optimize(&self.plan)?;
        session.start_insert(plan, sink)
    }

    /// Runs the query to its end (its sources must be bounded) and returns
    /// every change as its kind and a `T` of the row's values (see
    /// [`Changelog::next_rows`]).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let rows: Vec<(eddy::RowKind, std::collections::HashMap<String, serde_json::Value>)> = t.collect_rows().await?;
    /// assert_eq!(rows.len(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn collect_rows<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<Vec<(eddy_engine::RowKind, T)>, SqlError> {
        let mut out = vec![];
        for batch in self.collect().await? {
            out.extend(rows::rows_of(&batch)?);
        }
        Ok(out)
    }

    /// Runs the query to its end (its sources must be bounded) and returns
    /// every change batch.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let batches = t.collect().await?;
    /// assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn collect(&self) -> Result<Vec<ChangeBatch>, SqlError> {
        let mut changes = self.execute().await?;
        let mut out = vec![];
        while let Some(batch) = changes.next().await {
            out.push(batch?);
        }
        Ok(out)
    }
}

/// A table ordered by keys, for [`OrderedTable::fetch`].
pub struct OrderedTable {
    table: Table,
    keys: Vec<datafusion::logical_expr::SortExpr>,
}

impl OrderedTable {
    /// The first `n` rows by the order: per window when the table is a
    /// window result (it has `window_start` and `window_end`: window
    /// Top-N, emitted as each window fires), else over the whole table (an
    /// updating Top-N). Planned as SQL's `ROW_NUMBER() OVER (..) <= n`.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let top = t.order_by([col("f1").sort(true, true)]).fetch(1).await?;
    /// assert!(!top.collect().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn fetch(self, n: usize) -> Result<Table, SqlError> {
        let mut order = vec![];
        for key in &self.keys {
            let Expr::Column(c) = &key.expr else {
                return Err(plan_error(format!(
                    "order_by takes columns, not {}",
                    key.expr
                )));
            };
            order.push(format!(
                "{} {} NULLS {}",
                quoted(&c.name),
                if key.asc { "ASC" } else { "DESC" },
                if key.nulls_first { "FIRST" } else { "LAST" }
            ));
        }
        if order.is_empty() {
            return Err(plan_error("order_by needs a key".into()));
        }
        let columns = self.table.plan.schema().columns();
        let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
        let windowed = ["window_start", "window_end"]
            .iter()
            .all(|w| columns.iter().any(|c| c.name == *w));
        let partition = if windowed {
            "PARTITION BY window_start, window_end "
        } else {
            ""
        };
        let relation = self.table.relation().await?;
        self.table
            .env
            .sql_query(&format!(
                "SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER ({partition}ORDER BY {order}) AS `__rank` \
                 FROM {relation}) WHERE `__rank` <= {n}",
                cols = names.join(", "),
                order = order.join(", "),
            ))
            .await
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::sql::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// use eddy::table::sum;
    /// let totals = t.group_by([col("f1")]).select([col("f1"), sum(col("f0")).alias("total")])?;
    /// assert_eq!(totals.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    /// # Ok(()) }
    /// ```
    pub fn select(self, exprs: impl IntoIterator<Item = Expr>) -> Result<Table, SqlError> {
        let exprs: Vec<Expr> = exprs.into_iter().collect();
        let aggregates = datafusion::logical_expr::utils::find_aggregate_exprs(exprs.iter());
        let keys = self.keys;
        self.table
            .build(|b| b.aggregate(keys, aggregates))?
            .select(exprs)
    }
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A planning error at the start of the (program-built) query.
fn plan_error(message: String) -> SqlError {
    SqlError::Plan {
        location: Location { line: 1, column: 1 },
        message,
    }
}

#[cfg(test)]
mod tests;

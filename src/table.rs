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
//! # async fn main() -> Result<(), eddy::SqlError> {
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
use eddy_sql::{Location, SqlError};
use tokio::sync::mpsc;

mod changelog;
mod environment;
mod rows;
mod window;

pub use changelog::{Changelog, channel_sink};
pub use datafusion::functions_aggregate::expr_fn::{avg, count, max, min, sum};
pub use datafusion::logical_expr::{Expr, JoinType};
pub use datafusion::prelude::{col, lit};
pub use eddy_engine::ChangeBatch;
pub use environment::TableEnvironment;
pub use std::time::Duration;
pub use window::{
    Cumulate, CumulateBuilder, GroupWindow, Session, Slide, SlideBuilder, TimedWindowBuilder,
    Tumble, WindowBuilder, WindowGroupedTable, WindowProperties, WindowedTable,
};

use changelog::ChannelSink;

/// Batches in flight between a running query and its [`Changelog`].
const CHANGELOG_CAPACITY: usize = 8;

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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let names = env
    ///     .from_values(vec![vec![lit(1i64), lit("one")]])?
    ///     .rename_columns(&[("f0", "id"), ("f1", "word")])?;
    /// let joined = t.join(names, col("f0").eq(col("id")))?;
    /// assert_eq!(joined.logical_plan().schema().field_names(), ["f0", "f1", "id", "word"]);
    /// let rows: Vec<String> = joined
    ///     .collect()
    ///     .await?
    ///     .iter()
    ///     .flat_map(eddy::text::change_lines)
    ///     .collect();
    /// assert_eq!(rows, ["+I[1, a, 1, one]"]);
    /// # Ok(()) }
    /// ```
    pub fn join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Inner, other, on)
    }

    /// Joins `other`, keeping unmatched rows of this table with NULLs.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let other = env.from_values(vec![vec![lit(1i64)]])?.rename_columns(&[("f0", "id")])?;
    /// let joined = t.left_outer_join(other, col("f0").eq(col("id")))?;
    /// assert!(joined.logical_plan().display_indent().to_string().contains("Left Join"));
    /// // The changelog folds to the left rows, each with its match or NULLs.
    /// let batches = joined.collect().await?;
    /// let mut rows: Vec<String> =
    ///     batches.iter().flat_map(eddy::text::change_lines).collect();
    /// rows.retain(|r| r.starts_with("+I"));
    /// assert!(rows.contains(&"+I[2, b, null]".to_string()));
    /// # Ok(()) }
    /// ```
    pub fn left_outer_join(self, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.join_as(JoinType::Left, other, on)
    }

    /// Joins `other`, keeping unmatched rows of both tables with NULLs.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
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

    /// Joins the rows a table function gives for each row (Flink's
    /// `joinLateral`): `call` is [`TableEnvironment::call`] of a table
    /// function; rows it gives none for are dropped.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::{col, lit};
    /// use eddy::udf::TableFunction;
    /// let env = eddy::TableEnvironment::new();
    /// let split = TableFunction::new(|s: String| s.split(' ').map(String::from).collect::<Vec<_>>())
    ///     .with_names(["word"]);
    /// env.create_temporary_function("words", split).await?;
    /// let t = env.from_values(vec![vec![lit("a b")], vec![lit("")]])?;
    /// let t = t.join_lateral(env.call("words", [col("f0")])?)?.select([col("word")])?;
    /// let lines: Vec<String> = t.collect().await?.iter().flat_map(eddy::text::change_lines).collect();
    /// assert_eq!(lines, ["+I[a]", "+I[b]", "+I[]"]);
    /// # Ok(()) }
    /// ```
    pub fn join_lateral(self, call: Expr) -> Result<Table, SqlError> {
        self.lateral(call, false)
    }

    /// As [`Table::join_lateral`], keeping a row the function gives no
    /// rows for, with NULLs (Flink's `leftOuterJoinLateral`).
    pub fn left_outer_join_lateral(self, call: Expr) -> Result<Table, SqlError> {
        self.lateral(call, true)
    }

    fn lateral(self, call: Expr, keep_unmatched: bool) -> Result<Table, SqlError> {
        let plan = eddy_sql::lateral::join_lateral(self.plan, call, keep_unmatched)
            .map_err(|e| plan_error(e.to_string()))?;
        Ok(Table {
            env: self.env,
            plan,
            source: None,
        })
    }

    fn join_as(self, kind: JoinType, other: Table, on: Expr) -> Result<Table, SqlError> {
        self.build(|b| b.join_on(other.plan, kind, [on]))
    }

    /// Groups the rows into `window` (event time or processing time), for
    /// [`WindowedTable::group_by`].
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
#[cfg(test)]
mod udf_tests;

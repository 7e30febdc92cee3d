//! The Table API's environment: the session tables are planned in, and
//! the ways to make a table (SQL, catalog, values, the program's rows).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::logical_expr::LogicalPlanBuilder;
use eddy_sql::udf::{FunctionRef, UserFunction};
use eddy_sql::{Outcome, SqlError};
use tokio::sync::Mutex;

use super::window::interval;
use super::{Duration, Expr, Table, plan_error, quoted, rows};

/// A streaming table environment: a catalog and the `SET` options, shared
/// by the tables made from it (cloning it shares them too).
#[derive(Clone)]
pub struct TableEnvironment {
    pub(super) session: Arc<Mutex<eddy_sql::Session>>,
    /// The rows of tables made by `from_stream`, until a job reads them.
    pub(super) streams: crate::program_source::ProgramStreams,
    /// Views registered for the environment's own use so far.
    pub(super) hidden_views: Arc<std::sync::atomic::AtomicUsize>,
    /// The user functions registered through the environment, by
    /// lower-case name, for [`TableEnvironment::call`].
    functions: Arc<std::sync::RwLock<HashMap<String, FunctionRef>>>,
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
            functions: Arc::default(),
        }
    }

    /// Runs one SQL statement: DDL, `SET`, `INSERT` (the job runs in the
    /// background; await it through [`Outcome::Job`]), `EXPLAIN`, `SHOW`,
    /// `DESCRIBE`. A `SELECT` prints its changelog to stdout, as in `eddy
    /// -f`; use [`TableEnvironment::sql_query`] to get its rows instead.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
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

    /// Registers a user-defined function (Flink's
    /// `createTemporaryFunction`): a [`ScalarFunction`](crate::udf::ScalarFunction),
    /// a [`TableFunction`](crate::udf::TableFunction) or an
    /// [`AggregateFunction`](crate::udf::AggregateFunction) (through
    /// [`UserFunction::aggregate`]), called by `name` from SQL and through
    /// [`TableEnvironment::call`]. The name may not be a built-in
    /// function's (see [`TableEnvironment::create_temporary_system_function`]).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::udf::ScalarFunction;
    /// let env = eddy::TableEnvironment::new();
    /// env.create_temporary_function("shout", ScalarFunction::new(|s: String| s.to_uppercase() + "!"))
    ///     .await?;
    /// let t = env.sql_query("SELECT shout(name) AS s FROM (VALUES ('hi')) AS t(name)").await?;
    /// let lines: Vec<String> = t.collect().await?.iter().flat_map(eddy::text::change_lines).collect();
    /// assert_eq!(lines, ["+I[HI!]"]);
    /// # Ok(()) }
    /// ```
    pub async fn create_temporary_function(
        &self,
        name: &str,
        function: impl Into<UserFunction>,
    ) -> Result<(), SqlError> {
        self.register_function(name, function.into(), false).await
    }

    /// Registers a user-defined function as a temporary system function
    /// (Flink's `createTemporarySystemFunction`): it may take a built-in
    /// function's name, replacing the built-in until it is dropped.
    pub async fn create_temporary_system_function(
        &self,
        name: &str,
        function: impl Into<UserFunction>,
    ) -> Result<(), SqlError> {
        self.register_function(name, function.into(), true).await
    }

    async fn register_function(
        &self,
        name: &str,
        function: UserFunction,
        system: bool,
    ) -> Result<(), SqlError> {
        let mut session = self.session.lock().await;
        session.create_function(name, function, system)?;
        if let Some(f) = session.function_ref(name) {
            self.functions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.to_ascii_lowercase(), f);
        }
        Ok(())
    }

    /// Drops a temporary function (Flink's `dropTemporaryFunction`);
    /// false if there was none of that name.
    pub async fn drop_temporary_function(&self, name: &str) -> Result<bool, SqlError> {
        self.unregister_function(name, false).await
    }

    /// Drops a temporary system function, bringing back the built-in it
    /// replaced (Flink's `dropTemporarySystemFunction`); false if there
    /// was none of that name.
    pub async fn drop_temporary_system_function(&self, name: &str) -> Result<bool, SqlError> {
        self.unregister_function(name, true).await
    }

    async fn unregister_function(&self, name: &str, system: bool) -> Result<bool, SqlError> {
        let lower = name.to_ascii_lowercase();
        let known = self
            .functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&lower)
            .is_some();
        if !known {
            return Ok(false);
        }
        let at = eddy_sql::Location { line: 1, column: 1 };
        self.session
            .lock()
            .await
            .drop_function(name, system, false, at)?;
        Ok(true)
    }

    /// A call of the user function `name` on `args` (Flink's
    /// `call("name", ..)`), for [`Table::select`] and the like, or, for a
    /// table function, [`Table::join_lateral`].
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::{col, lit};
    /// use eddy::udf::ScalarFunction;
    /// let env = eddy::TableEnvironment::new();
    /// env.create_temporary_function("twice", ScalarFunction::new(|x: i64| 2 * x)).await?;
    /// let t = env.from_values(vec![vec![lit(4i64)]])?;
    /// let t = t.select([env.call("twice", [col("f0")])?.alias("y")])?;
    /// let lines: Vec<String> = t.collect().await?.iter().flat_map(eddy::text::change_lines).collect();
    /// assert_eq!(lines, ["+I[8]"]);
    /// # Ok(()) }
    /// ```
    pub fn call(&self, name: &str, args: impl IntoIterator<Item = Expr>) -> Result<Expr, SqlError> {
        let functions = self.functions.read().unwrap_or_else(|e| e.into_inner());
        match functions.get(&name.to_ascii_lowercase()) {
            Some(f) => Ok(f.call(args.into_iter().collect())),
            None => {
                let mut known = functions.keys().cloned().collect::<Vec<_>>();
                known.sort();
                Err(plan_error(format!(
                    "No user function named {name} (registered: {}); built-in functions are \
                     DataFusion's expression functions, re-exported as eddy::datafusion::functions",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )))
            }
        }
    }

    /// The table a query's text defines.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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
    /// # async fn main() -> Result<(), eddy::SqlError> {
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

    /// The warnings of what ran since the last call: options set that
    /// Eddy does not act on, named with the reason (`SET` in the shell
    /// prints them).
    pub async fn take_warnings(&self) -> Vec<String> {
        self.session.lock().await.take_warnings()
    }

    /// A configuration option's value, if set or defaulted.
    pub async fn get(&self, key: &str) -> Option<String> {
        self.session.lock().await.config(key).map(String::from)
    }
}

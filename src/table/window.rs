//! Group windows of the Table API: `Tumble`, `Slide`, `Session` and
//! `Cumulate`, planned through SQL's window table functions.

use std::time::Duration;

use datafusion::prelude::col;
use eddy_sql::SqlError;

use super::{Expr, Table, plan_error, quoted};

/// Flink's tumbling window: `Tumble::over(size).on("ts").alias("w")`.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), eddy::SqlError> {
/// use eddy::table::{Duration, Tumble, WindowProperties, col, count};
/// let env = eddy::TableEnvironment::new();
/// env.execute_sql("CREATE TABLE clicks (u STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '10')").await?;
/// let per_minute = env
///     .from_path("clicks")
///     .await?
///     .window(Tumble::over(Duration::from_secs(60)).on("ts").alias("w"))
///     .group_by([col("w"), col("u")])
///     .select([col("u"), col("w").start(), count(col("ts")).alias("n")])
///     .await?;
/// let names: Vec<&String> = per_minute.logical_plan().schema().fields().iter().map(|f| f.name()).collect();
/// assert_eq!(names, ["u", "window_start", "n"]);
/// # Ok(()) }
/// ```
pub struct Tumble;

impl Tumble {
    /// Windows of `size`, one after another.
    pub fn over(size: Duration) -> WindowBuilder {
        WindowBuilder(WindowKind::Tumble { size })
    }
}

/// Flink's sliding (hopping) window: `Slide::over(size).every(slide)`.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), eddy::SqlError> {
/// let env = eddy::TableEnvironment::new();
/// env.execute_sql("CREATE TABLE clicks (u STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '10')").await?;
/// let clicks = env.from_path("clicks").await?;
/// use eddy::table::{col, count, Duration, WindowProperties};
/// use eddy::table::Slide;
/// let t = clicks
///     .window(Slide::over(Duration::from_secs(60)).every(Duration::from_secs(10)).on("ts").alias("w"))
///     .group_by([col("w")])
///     .select([col("w").start(), count(col("u")).alias("n")])
///     .await?;
/// assert!(!t.collect().await?.is_empty());
/// # Ok(()) }
/// ```
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
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), eddy::SqlError> {
/// let env = eddy::TableEnvironment::new();
/// env.execute_sql("CREATE TABLE clicks (u STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '10')").await?;
/// let clicks = env.from_path("clicks").await?;
/// use eddy::table::{col, count, Duration, WindowProperties};
/// use eddy::table::Cumulate;
/// let t = clicks
///     .window(Cumulate::over(Duration::from_secs(60)).step(Duration::from_secs(10)).on("ts").alias("w"))
///     .group_by([col("w")])
///     .select([col("w").end(), count(col("u")).alias("n")])
///     .await?;
/// assert!(!t.collect().await?.is_empty());
/// # Ok(()) }
/// ```
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
pub(super) fn interval(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("INTERVAL '{}' SECOND", ms / 1000)
    } else {
        format!("INTERVAL '{ms}' MILLISECOND")
    }
}

/// A table with a group window, for [`WindowedTable::group_by`].
pub struct WindowedTable {
    pub(super) table: Table,
    pub(super) window: GroupWindow,
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
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// let env = eddy::TableEnvironment::new();
    /// env.execute_sql("CREATE TABLE clicks (u STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '10')").await?;
    /// let clicks = env.from_path("clicks").await?;
    /// use eddy::table::{col, count, Duration, WindowProperties};
    /// use eddy::table::Session;
    /// let sessions = clicks
    ///     .window(Session::with_gap(Duration::from_secs(5)).on("ts").alias("s"))
    ///     .group_by([col("s"), col("u")])
    ///     .select([col("u"), col("s").start(), col("s").end(), count(col("ts")).alias("n")])
    ///     .await?;
    /// assert!(!sessions.collect().await?.is_empty());
    /// # Ok(()) }
    /// ```
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

//! A running query's changes, as the program receives them.

use async_trait::async_trait;
use eddy_engine::ChangeBatch;
use eddy_engine::error::EngineError;
use eddy_engine::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use eddy_engine::runtime::{JobCanceller, JobHandle};
use eddy_sql::SqlError;
use tokio::sync::mpsc;

/// The changes of a running query, in order. Dropping it stops the query.
pub struct Changelog {
    pub(super) rx: mpsc::Receiver<ChangeBatch>,
    pub(super) canceller: JobCanceller,
    pub(super) job: Option<JobHandle>,
}

impl Changelog {
    /// The next batch of changes; `None` once the query has ended (a
    /// failure comes as the last item).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let mut changes = t.execute().await?;
    /// while let Some(batch) = changes.next().await {
    ///     println!("{} changes", batch?.num_rows());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next(&mut self) -> Option<Result<ChangeBatch, SqlError>> {
        if let Some(batch) = self.rx.recv().await {
            return Some(Ok(batch));
        }
        match self.job.take()?.wait().await {
            Ok(_) | Err(EngineError::Cancelled) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// The next batch of changes as typed rows: each row's kind and its
    /// values as a `T`, whose fields are the columns (through JSON objects
    /// as Flink's `json` format writes them: timestamps are
    /// `yyyy-MM-dd HH:mm:ss[.fff]` strings).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::{col, lit};
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64), lit("a")], vec![lit(2i64), lit("b")]])?;
    /// let mut changes = t.execute().await?;
    /// let mut n = 0;
    /// while let Some(rows) = changes.next_rows::<serde_json::Value>().await {
    ///     n += rows?.len();
    /// }
    /// assert_eq!(n, 2);
    /// # Ok(()) }
    /// ```
    pub async fn next_rows<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Option<Result<Vec<(eddy_engine::RowKind, T)>, SqlError>> {
        Some(self.next().await?.and_then(|b| super::rows::rows_of(&b)))
    }

    /// The changes as an async [`futures::Stream`] of batches, for
    /// combinators (`map`, `filter`, `forward` into a sink of the program).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::lit;
    /// use futures::StreamExt;
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit(1i64)], vec![lit(2i64)]])?;
    /// let rows: usize = t
    ///     .execute()
    ///     .await?
    ///     .into_stream()
    ///     .map(|b| b.map(|b| b.num_rows()).unwrap_or(0))
    ///     .fold(0, |n, r| async move { n + r })
    ///     .await;
    /// assert_eq!(rows, 2);
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<ChangeBatch, SqlError>> {
        futures::stream::unfold(self, |mut changes| async move {
            let item = changes.next().await?;
            Some((item, changes))
        })
    }

    /// The changes as an async stream of typed rows (see
    /// [`Changelog::next_rows`]), one item per row.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::{col, lit};
    /// use futures::StreamExt;
    /// #[derive(serde::Deserialize)]
    /// struct Word {
    ///     f0: String,
    /// }
    /// let env = eddy::TableEnvironment::new();
    /// let t = env.from_values(vec![vec![lit("a")], vec![lit("b")]])?;
    /// let words: Vec<String> = t
    ///     .execute()
    ///     .await?
    ///     .into_row_stream::<Word>()
    ///     .filter_map(|r| async move { r.ok().map(|(_, w)| w.f0) })
    ///     .collect()
    ///     .await;
    /// assert_eq!(words, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn into_row_stream<T: serde::de::DeserializeOwned>(
        self,
    ) -> impl futures::Stream<Item = Result<(eddy_engine::RowKind, T), SqlError>> {
        use futures::StreamExt;
        futures::stream::unfold(self, |mut changes| async move {
            let item = changes.next_rows::<T>().await?;
            Some((item, changes))
        })
        .flat_map(|batch| {
            let rows: Vec<Result<(eddy_engine::RowKind, T), SqlError>> = match batch {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(rows)
        })
    }

    /// Stops the query; [`Changelog::next`] then returns what is in flight
    /// and ends.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), eddy::SqlError> {
    /// use eddy::table::col;
    /// let env = eddy::TableEnvironment::new();
    /// env.execute_sql("CREATE TABLE g (x BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10')").await?;
    /// let mut changes = env.from_path("g").await?.select([col("x")])?.execute().await?;
    /// changes.cancel();
    /// while let Some(batch) = changes.next().await {
    ///     batch?;
    /// }
    /// # Ok(()) }
    /// ```
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

/// A sink sending a query's changes to the program, and the receiving
/// end (what [`crate::Table::execute`] runs a query into; the shell shows
/// query results from it). The job stops when the receiver is dropped.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), eddy::SqlError> {
/// let mut session = eddy::new_session();
/// let (sink, mut rx) = eddy::table::channel_sink(8);
/// let stmt = eddy::parse_statement(&eddy::split_statements("SELECT 1")[0])?;
/// if let eddy::Outcome::Job(job) = session.execute(&stmt, sink).await? {
///     let batch = rx.recv().await.expect("a batch");
///     assert_eq!(batch.num_rows(), 1);
///     job.wait().await?;
/// }
/// # Ok(()) }
/// ```
pub fn channel_sink(
    capacity: usize,
) -> (
    std::sync::Arc<dyn OperatorFactory>,
    mpsc::Receiver<ChangeBatch>,
) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (std::sync::Arc::new(ChannelSink { tx }), rx)
}

/// The sink of a [`Changelog`]: sends each batch to the program.
pub(super) struct ChannelSink {
    pub(super) tx: mpsc::Sender<ChangeBatch>,
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

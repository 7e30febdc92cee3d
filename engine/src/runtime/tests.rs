use std::sync::Mutex;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use super::*;
use crate::graph::Edge;
use crate::operator::{OperatorFactory, SourceFactory};

/// What a collecting sink saw, per subtask: rows and watermarks.
type Seen = Arc<Mutex<Vec<(usize, String)>>>;

#[derive(Clone)]
struct Collect(Seen);

struct CollectSink {
    seen: Seen,
    subtask: usize,
}

#[async_trait]
impl Operator for CollectSink {
    fn name(&self) -> String {
        "collect".into()
    }
    async fn process(
        &mut self,
        _i: usize,
        b: ChangeBatch,
        _c: &mut Context,
        _o: &mut dyn Emitter,
    ) -> Result<()> {
        let col = b
            .data
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned();
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| EngineError::Internal("lock".into()))?;
        for i in 0..b.num_rows() {
            let v = col.as_ref().map_or(-1, |c| c.value(i));
            seen.push((self.subtask, format!("row {v}")));
        }
        Ok(())
    }
    async fn on_watermark(&mut self, w: i64, _c: &mut Context, _o: &mut dyn Emitter) -> Result<()> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| EngineError::Internal("lock".into()))?;
        seen.push((self.subtask, format!("wm {w}")));
        Ok(())
    }
}

impl OperatorFactory for Collect {
    fn name(&self) -> String {
        "collect".into()
    }
    fn create(&self, s: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(CollectSink {
            seen: self.0.clone(),
            subtask: s.index,
        }))
    }
}

/// Emits `rows` values per subtask, `start + subtask * 1000 ..`, in
/// batches of 10 each on its own split.
struct Numbers {
    rows: i64,
}

struct NumbersSource {
    next: i64,
    end: i64,
    schema: SchemaRef,
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]))
}

impl SourceFactory for Numbers {
    fn name(&self) -> String {
        "numbers".into()
    }
    fn is_bounded(&self) -> bool {
        true
    }
    fn create(&self, s: &SubtaskInfo) -> Result<Box<dyn Source>> {
        let start = s.index as i64 * 1000;
        Ok(Box::new(NumbersSource {
            next: start,
            end: start + self.rows,
            schema: schema(),
        }))
    }
}

#[async_trait]
impl Source for NumbersSource {
    fn name(&self) -> String {
        "numbers".into()
    }
    async fn next(&mut self, _c: &mut Context) -> Result<SourceEvent> {
        if self.next >= self.end {
            return Ok(SourceEvent::End);
        }
        let to = (self.next + 10).min(self.end);
        let data = RecordBatch::try_new(
            self.schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(self.next..to))],
        )?;
        self.next = to;
        Ok(SourceEvent::Batch {
            split: 0,
            batch: ChangeBatch::inserts(data),
        })
    }
}

async fn run(
    source_parallelism: usize,
    sink_parallelism: usize,
    partitioning: Partitioning,
) -> Vec<(usize, String)> {
    let seen: Seen = Arc::default();
    let mut g = JobGraph::new("test");
    let src = g.add_source(
        Arc::new(Numbers { rows: 95 }),
        None,
        source_parallelism,
        schema(),
    );
    g.add_operator(
        Arc::new(Collect(seen.clone())),
        sink_parallelism,
        vec![Edge {
            from: src,
            input: 0,
            partitioning,
        }],
        schema(),
    )
    .expect("graph");
    let job = spawn(&g).expect("spawn");
    job.wait().await.expect("job");

    seen.lock().expect("lock").clone()
}

#[tokio::test]
async fn hash_exchange_delivers_every_row_once_and_one_key_to_one_subtask() {
    let seen = run(2, 3, Partitioning::Hash(vec![0])).await;
    let rows: Vec<&(usize, String)> = seen.iter().filter(|(_, s)| s.starts_with("row")).collect();
    assert_eq!(rows.len(), 190);
    let mut owner = HashMap::new();
    for (subtask, row) in rows {
        assert_eq!(
            *owner.entry(row.clone()).or_insert(*subtask),
            *subtask,
            "{row}"
        );
    }
    assert_eq!(owner.len(), 190, "no duplicates");
}

#[tokio::test]
async fn every_sink_subtask_ends_with_the_final_watermark() {
    let seen = run(2, 2, Partitioning::Rebalance).await;
    assert_eq!(
        seen.iter().filter(|(_, s)| s.starts_with("row")).count(),
        190
    );
    for subtask in 0..2 {
        let last = seen
            .iter()
            .rfind(|(s, _)| *s == subtask)
            .map(|(_, e)| e.clone());
        assert_eq!(
            last.as_deref(),
            Some(format!("wm {MAX_WATERMARK}").as_str())
        );
    }
}

#[tokio::test]
async fn forward_edges_are_chained_and_keep_order() {
    let seen = run(1, 1, Partitioning::Forward).await;
    let rows: Vec<String> = seen
        .iter()
        .filter(|(_, s)| s.starts_with("row"))
        .map(|(_, s)| s.clone())
        .collect();
    let expected: Vec<String> = (0..95).map(|v| format!("row {v}")).collect();
    assert_eq!(rows, expected);
}

/// A sink that stages rows until a checkpoint completes, as the
/// exactly-once Kafka sink does; records its closing and commits.
struct Committing {
    seen: Seen,
    staged: bool,
}

#[async_trait]
impl Operator for Committing {
    fn name(&self) -> String {
        "committing".into()
    }
    async fn process(
        &mut self,
        _i: usize,
        _b: ChangeBatch,
        _c: &mut Context,
        _o: &mut dyn Emitter,
    ) -> Result<()> {
        self.staged = true;
        Ok(())
    }
    fn awaits_final_commit(&self) -> bool {
        self.staged
    }
    async fn on_checkpoint_complete(&mut self, id: u64, _c: &mut Context) -> Result<()> {
        self.staged = false;
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| EngineError::Internal("lock".into()))?;
        seen.push((0, format!("commit {id}")));
        Ok(())
    }
    async fn close(&mut self, _c: &mut Context, _o: &mut dyn Emitter) -> Result<()> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| EngineError::Internal("lock".into()))?;
        seen.push((0, "close".into()));
        Ok(())
    }
}

struct CommittingFactory(Seen);

impl OperatorFactory for CommittingFactory {
    fn name(&self) -> String {
        "committing".into()
    }
    fn create(&self, _s: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(Committing {
            seen: self.0.clone(),
            staged: false,
        }))
    }
}

#[tokio::test]
async fn a_sink_awaiting_its_final_commit_gets_a_checkpoint_after_its_end() {
    let dir = std::env::temp_dir().join(format!("eddy-final-commit-{}", std::process::id()));
    let seen: Seen = Arc::default();
    let mut g = JobGraph::new("final-commit");
    let src = g.add_source(Arc::new(Numbers { rows: 95 }), None, 2, schema());
    g.add_operator(
        Arc::new(CommittingFactory(seen.clone())),
        1,
        vec![Edge {
            from: src,
            input: 0,
            partitioning: Partitioning::Rebalance,
        }],
        schema(),
    )
    .expect("graph");
    // No periodic checkpoint comes within the test: only the final one.
    g.checkpointing = Some(crate::checkpoint::CheckpointConfig {
        interval: Some(std::time::Duration::from_secs(3600)),
        dir: dir.clone(),
        retained: 1,
        savepoint_dir: None,
        restore_from: None,
    });
    let job = spawn(&g).expect("spawn");
    job.wait().await.expect("job");
    let _ = std::fs::remove_dir_all(&dir);
    let events: Vec<String> = seen
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, e)| e.clone())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], "close");
    assert!(events[1].starts_with("commit "), "{events:?}");
}

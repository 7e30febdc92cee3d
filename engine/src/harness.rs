//! Test harness for operators: feed batches and watermarks, take
//! snapshots, restore into a fresh instance, and read what came out as text.

use std::sync::Arc;

use crate::batch::ChangeBatch;
use crate::metrics::OperatorMetrics;
use crate::operator::{BufferEmitter, Context, Emitted, OperatorFactory, SubtaskInfo};
use crate::state::{MemorySnapshotStore, SnapshotStore};
use crate::value_text::write_row;

/// One step fed to an operator.
#[derive(Clone)]
pub enum Step {
    /// Rows on input 0.
    Batch(ChangeBatch),
    /// Rows on the given input.
    Input(usize, ChangeBatch),
    /// A watermark.
    Watermark(i64),
    /// The wall clock reaching this time (ms).
    Clock(i64),
}

fn context(store: Option<Arc<dyn SnapshotStore>>) -> Context {
    Context {
        subtask: SubtaskInfo {
            job_name: "harness".into(),
            operator_name: "operator".into(),
            operator_id: "node-0".into(),
            index: 0,
            parallelism: 1,
        },
        metrics: Arc::new(OperatorMetrics::new("operator")),
        state: store,
    }
}

/// What an operator emitted, one line per row (`+I[..]`) or watermark.
pub fn lines(out: &BufferEmitter) -> Vec<String> {
    let mut v = vec![];
    for e in &out.events {
        match e {
            Emitted::Batch(b) => {
                for row in 0..b.num_rows() {
                    let mut s = String::new();
                    write_row(&mut s, b.kind(row), b.data.columns(), row);
                    v.push(s);
                }
            }
            Emitted::Watermark(w) => v.push(format!("watermark {w}")),
            Emitted::LateRows(b) => {
                for row in 0..b.num_rows() {
                    let mut s = String::from("late ");
                    write_row(&mut s, b.kind(row), b.data.columns(), row);
                    v.push(s);
                }
            }
        }
    }
    v
}

/// Runs `steps` through a fresh instance, then closes it.
pub async fn run(factory: &dyn OperatorFactory, steps: &[Step]) -> Vec<String> {
    run_counting_late(factory, steps).await.0
}

/// [`run`], also returning how many rows the operator counted as late.
pub async fn run_counting_late(
    factory: &dyn OperatorFactory,
    steps: &[Step],
) -> (Vec<String>, u64) {
    let mut ctx = context(None);
    let mut op = factory.create(&ctx.subtask).expect("operator");
    let mut out = BufferEmitter::default();
    op.open(&mut ctx).await.expect("open");
    for s in steps {
        feed(op.as_mut(), s, &mut ctx, &mut out).await;
    }
    op.close(&mut ctx, &mut out).await.expect("close");
    let late = ctx
        .metrics
        .rows_late
        .load(std::sync::atomic::Ordering::Relaxed);
    (lines(&out), late)
}

async fn feed(
    op: &mut dyn crate::operator::Operator,
    step: &Step,
    ctx: &mut Context,
    out: &mut BufferEmitter,
) {
    match step {
        Step::Batch(b) => op.process(0, b.clone(), ctx, out).await.expect("process"),
        Step::Input(i, b) => op.process(*i, b.clone(), ctx, out).await.expect("process"),
        Step::Watermark(w) => op.on_watermark(*w, ctx, out).await.expect("watermark"),
        Step::Clock(now) => op
            .on_processing_time(*now, ctx, out)
            .await
            .expect("processing time"),
    }
}

/// Asserts that `upserting` (a variant emitting no `-U`) emits what
/// `retracting` does, less its `-U` rows. Returns how many those were.
pub async fn assert_same_less_update_before(
    retracting: &dyn OperatorFactory,
    upserting: &dyn OperatorFactory,
    steps: &[Step],
) -> usize {
    let (want, dropped): (Vec<String>, Vec<String>) = run(retracting, steps)
        .await
        .into_iter()
        .partition(|r| !r.starts_with("-U"));
    assert_eq!(run(upserting, steps).await, want);
    dropped.len()
}

/// Feeds `steps[..split]`, snapshots, restores into a fresh instance, feeds
/// the rest, and asserts the output equals that of an uninterrupted run.
pub async fn assert_snapshot_restore(factory: &dyn OperatorFactory, steps: &[Step], split: usize) {
    let expected = run(factory, steps).await;
    let store: Arc<dyn SnapshotStore> = Arc::new(MemorySnapshotStore::default());
    let mut out = BufferEmitter::default();
    let mut ctx = context(Some(store.clone()));
    let mut first = factory.create(&ctx.subtask).expect("operator");
    first.open(&mut ctx).await.expect("open");
    for s in &steps[..split] {
        feed(first.as_mut(), s, &mut ctx, &mut out).await;
    }
    first.snapshot(1, &mut ctx).await.expect("snapshot");
    drop(first);
    let mut ctx = context(Some(store));
    let mut second = factory.create(&ctx.subtask).expect("operator");
    second.open(&mut ctx).await.expect("restore");
    for s in &steps[split..] {
        feed(second.as_mut(), s, &mut ctx, &mut out).await;
    }
    second.close(&mut ctx, &mut out).await.expect("close");
    assert_eq!(
        lines(&out),
        expected,
        "restored run differs from an uninterrupted one"
    );
}

/// The schema of [`kv_changes`]: two BIGINT columns, `k` and `v`.
pub fn kv_schema() -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
    ]))
}

/// A batch of (kind, k, v) rows.
pub fn kv_changes(rows: &[(crate::batch::RowKind, i64, i64)]) -> Step {
    use datafusion::arrow::array::{Int8Array, Int64Array};
    let data = datafusion::arrow::record_batch::RecordBatch::try_new(
        kv_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .expect("batch");
    let kinds = Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8));
    Step::Batch(ChangeBatch::with_kinds(data, kinds))
}

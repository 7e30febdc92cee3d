//! `SlicingWindowAggregate`: HOP and CUMULATE window aggregation over
//! shared slices (Flink's slicing window operator). Time is cut into slices
//! of the slide (HOP) or step (CUMULATE); each row is aggregated once, into
//! its slice; when the watermark passes a window's end, the states of the
//! window's slices are merged into its result. A HOP window of size 10 and
//! slide 2 thus reads five slice states instead of holding every row five
//! times.
//!
//! Input: columns `0..key_count` are the group keys; the `window_end` key
//! holds the row's slice end, the other window keys are filled in on output.
//! A row is late, dropped and counted, once the last window of its slice
//! has fired; a row whose slice fired but some of whose windows have not
//! still counts in those (as in Flink).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::logical_expr::Accumulator;

use super::accumulator_state;
use super::aggregate::{
    AggregateCall, BatchArguments, FiredWindows, WindowColumns, new_accumulators,
};
use super::window_buffer::{fired, millis};
use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// How windows are made of slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slicing {
    /// Windows of `size` every `slide` ms (`size` a multiple of `slide`).
    Hop { slide: i64, size: i64, offset: i64 },
    /// Windows growing by `step` ms from the start of each `size` period.
    Cumulate { step: i64, size: i64, offset: i64 },
}

impl std::fmt::Display for Slicing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slicing::Hop {
                slide,
                size,
                offset,
            } => write!(f, "HOP(size={size}ms, slide={slide}ms, offset={offset}ms)"),
            Slicing::Cumulate { step, size, offset } => {
                write!(
                    f,
                    "CUMULATE(max_size={size}ms, step={step}ms, offset={offset}ms)"
                )
            }
        }
    }
}

impl Slicing {
    /// Length of a slice.
    fn slice(&self) -> i64 {
        match *self {
            Slicing::Hop { slide, .. } => slide,
            Slicing::Cumulate { step, .. } => step,
        }
    }

    /// Start of the window ending at `end`.
    fn window_start(&self, end: i64) -> i64 {
        match *self {
            Slicing::Hop { size, .. } => end - size,
            Slicing::Cumulate { size, offset, .. } => {
                (end - 1 - offset).div_euclid(size) * size + offset
            }
        }
    }

    /// End of the last window holding the slice ending at `slice_end`.
    fn last_window_end(&self, slice_end: i64) -> i64 {
        match *self {
            Slicing::Hop { slide, size, .. } => slice_end + size - slide,
            Slicing::Cumulate { size, .. } => self.window_start(slice_end) + size,
        }
    }
}

/// Configuration of a slicing window aggregation (the factory).
#[derive(Clone)]
pub struct SlicingWindowAggregate {
    /// Input columns `0..key_count` are the group keys.
    pub key_count: usize,
    /// Where the window columns sit among the keys.
    pub windows: WindowColumns,
    /// The window kind.
    pub slicing: Slicing,
    /// The aggregates, in output order after the keys.
    pub calls: Vec<AggregateCall>,
    /// Output: the keys, then one column per aggregate.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl SlicingWindowAggregate {
    fn other_keys(&self) -> Vec<usize> {
        (0..self.key_count)
            .filter(|i| !self.windows.contains(*i))
            .collect()
    }
}

impl OperatorFactory for SlicingWindowAggregate {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let others = self.other_keys();
        let mut fields: Vec<SortField> = others
            .iter()
            .map(|i| SortField::new(self.schema.field(*i).data_type().clone()))
            .collect();
        if fields.is_empty() {
            // No key but the window: one constant key.
            fields.push(SortField::new(
                datafusion::arrow::datatypes::DataType::Boolean,
            ));
        }
        Ok(Box::new(SlicingOperator {
            config: self.clone(),
            others,
            converter: RowConverter::new(fields)?,
            slices: BTreeMap::new(),
            watermark: MIN_WATERMARK,
        }))
    }
}

/// The aggregation of one key's rows in one slice. Reading an accumulator's
/// state consumes it, so a slice read for a window keeps its state as
/// arrays (`settled`), and rows arriving later (late for some windows, not
/// for all) go to fresh accumulators merged in at the next read.
#[derive(Default)]
struct Slice {
    settled: Option<Vec<Vec<ArrayRef>>>,
    open: Option<Vec<Box<dyn Accumulator>>>,
}

impl Slice {
    /// The slice's state per call, as one-row arrays.
    fn settle(&mut self) -> Result<&[Vec<ArrayRef>]> {
        if let Some(mut open) = self.open.take() {
            if let Some(settled) = &self.settled {
                for (acc, state) in open.iter_mut().zip(settled) {
                    acc.merge_batch(state)?;
                }
            }
            let mut states = Vec::with_capacity(open.len());
            for acc in open.iter_mut() {
                states.push(
                    acc.state()?
                        .into_iter()
                        .map(|v| v.to_array())
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            self.settled = Some(states);
        }
        Ok(self.settled.as_deref().unwrap_or(&[]))
    }

    /// Fresh accumulators holding the slice's whole state.
    fn accumulators(&mut self, calls: &[AggregateCall]) -> Result<Vec<Box<dyn Accumulator>>> {
        let mut accs = new_accumulators(calls)?;
        for (acc, state) in accs.iter_mut().zip(self.settle()?) {
            acc.merge_batch(state)?;
        }
        Ok(accs)
    }
}

struct SlicingOperator {
    config: SlicingWindowAggregate,
    /// The key columns that are not window columns.
    others: Vec<usize>,
    converter: RowConverter,
    /// Slice end → key → its aggregation.
    slices: BTreeMap<i64, HashMap<OwnedRow, Slice>>,
    watermark: i64,
}

impl SlicingOperator {
    /// Emits every window whose end `watermark` passed and `previous` had
    /// not, ordered by window end and key, then forgets the slices no
    /// window needs any more.
    fn fire(&mut self, previous: i64, watermark: i64) -> Result<Option<RecordBatch>> {
        let slicing = self.config.slicing;
        let step = slicing.slice();
        let mut ends = BTreeSet::new();
        for &slice_end in self
            .slices
            .range(..=watermark.saturating_add(1))
            .map(|(e, _)| e)
        {
            let mut end = slice_end;
            while end <= slicing.last_window_end(slice_end) && fired(end, watermark) {
                if !fired(end, previous) {
                    ends.insert(end);
                }
                end += step;
            }
        }
        let mut out = FiredWindows::default();
        let mut keys: Vec<OwnedRow> = vec![];
        for end in ends {
            let start = slicing.window_start(end);
            let mut windows: HashMap<OwnedRow, Vec<Box<dyn Accumulator>>> = HashMap::new();
            for (_, per_key) in self.slices.range_mut(start + 1..=end) {
                for (key, slice) in per_key.iter_mut() {
                    let states = slice.settle()?;
                    match windows.get_mut(key) {
                        Some(accs) => {
                            for (acc, state) in accs.iter_mut().zip(states) {
                                acc.merge_batch(state)?;
                            }
                        }
                        None => {
                            let accs = slice.accumulators(&self.config.calls)?;
                            windows.insert(key.clone(), accs);
                        }
                    }
                }
            }
            let mut results: Vec<_> = windows.into_iter().collect();
            results.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (key, mut accs) in results {
                out.push(start, end, &mut accs)?;
                keys.push(key);
            }
        }
        // A slice is done once the last window holding it fired.
        let done: Vec<i64> = self
            .slices
            .keys()
            .copied()
            .take_while(|e| fired(*e, watermark))
            .filter(|e| fired(slicing.last_window_end(*e), watermark))
            .collect();
        for e in done {
            self.slices.remove(&e);
        }
        if out.is_empty() {
            return Ok(None);
        }
        let other_keys = if self.others.is_empty() {
            vec![]
        } else {
            self.converter.convert_rows(keys.iter().map(|k| k.row()))?
        };
        Ok(Some(out.into_batch(
            &self.config.schema,
            self.config.key_count,
            Some(&self.config.windows),
            other_keys,
        )?))
    }
}

impl accumulator_state::AggregationState for SlicingOperator {
    /// The slices as one batch (see [`accumulator_state`]), keyed by slice end.
    fn state_batch(&mut self) -> Result<Option<RecordBatch>> {
        let calls = &self.config.calls;
        let mut held = vec![];
        for (end, per_key) in self.slices.iter_mut() {
            for (key, slice) in per_key.iter_mut() {
                held.push((
                    key.row().as_ref().to_vec(),
                    *end,
                    slice.accumulators(calls)?,
                ));
            }
        }
        let entries = held
            .iter_mut()
            .map(|(key, end, accs)| accumulator_state::Entry {
                key: std::mem::take(key),
                start: *end,
                end: *end,
                accumulators: accs,
            })
            .collect();
        accumulator_state::snapshot(entries)
    }

    /// Adds the slices of a state batch written by `state_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let parser = self.converter.parser();
        let slices = &mut self.slices;
        accumulator_state::restore(batch, &self.config.calls, |key, _, end, accumulators| {
            let slice = Slice {
                settled: None,
                open: Some(accumulators),
            };
            slices
                .entry(end)
                .or_default()
                .insert(parser.parse(key).owned(), slice);
            Ok(())
        })
    }

    fn clear_state(&mut self) {
        self.slices.clear();
    }

    fn watermark(&self) -> i64 {
        self.watermark
    }

    fn set_watermark(&mut self, watermark: i64) {
        self.watermark = watermark;
    }
}

#[async_trait]
impl Operator for SlicingOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        batch.ensure_append_only("a window aggregation")?;
        let data = &batch.data;
        let slice_ends = millis(data.column(self.config.windows.end))?;
        let keys: Vec<ArrayRef> = if self.others.is_empty() {
            vec![std::sync::Arc::new(
                datafusion::arrow::array::BooleanArray::from(vec![true; data.num_rows()]),
            )]
        } else {
            self.others
                .iter()
                .map(|i| data.column(*i).clone())
                .collect()
        };
        let rows = self.converter.convert_columns(&keys)?;
        let slicing = self.config.slicing;
        // Rows per (slice end, key), in order of first appearance.
        let mut members: HashMap<(i64, datafusion::arrow::row::Row<'_>), Vec<u32>> = HashMap::new();
        let mut order = vec![];
        let mut late = 0u64;
        for (i, end) in slice_ends.iter().enumerate() {
            match end {
                Some(e) if !fired(slicing.last_window_end(*e), self.watermark) => {
                    let group = members.entry((*e, rows.row(i))).or_insert_with(|| {
                        order.push((*e, i));
                        vec![]
                    });
                    group.push(i as u32);
                }
                _ => late += 1,
            }
        }
        if late > 0 {
            ctx.metrics.add_late(late);
        }
        let arguments = BatchArguments::evaluate(&self.config.calls, data)?;
        for (end, first) in order {
            let row = rows.row(first);
            let Some(indices) = members.remove(&(end, row)) else {
                continue;
            };
            let slice = self
                .slices
                .entry(end)
                .or_default()
                .entry(row.owned())
                .or_default();
            if slice.open.is_none() {
                slice.open = Some(new_accumulators(&self.config.calls)?);
            }
            if let Some(open) = slice.open.as_mut() {
                arguments.update(open, &UInt32Array::from(indices))?;
            }
        }
        Ok(())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        accumulator_state::restore_from_store(self, ctx)
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        accumulator_state::snapshot_to_store(self, checkpoint, ctx)
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        let previous = self.watermark;
        self.watermark = previous.max(watermark);
        if let Some(batch) = self.fire(previous, self.watermark)? {
            out.emit(ChangeBatch::inserts(batch)).await?;
        }
        out.emit_watermark(watermark).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{Step, assert_snapshot_restore, run_counting_late};

    fn ts() -> DataType {
        DataType::Timestamp(TimeUnit::Millisecond, None)
    }

    /// Input: the slice end, a key and a value.
    fn input_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("window_end", ts(), true),
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]))
    }

    fn factory(slicing: Slicing) -> SlicingWindowAggregate {
        let input = input_schema();
        let sum = AggregateExprBuilder::new(
            datafusion::functions_aggregate::sum::sum_udaf(),
            vec![col("v", &input).expect("column")],
        )
        .schema(input)
        .alias("s")
        .build()
        .expect("sum");
        SlicingWindowAggregate {
            key_count: 2,
            windows: WindowColumns {
                start: None,
                end: 0,
                time: None,
            },
            slicing,
            calls: vec![AggregateCall {
                function: Arc::new(sum),
                filter: None,
            }],
            schema: Arc::new(Schema::new(vec![
                Field::new("window_end", ts(), true),
                Field::new("k", DataType::Int64, true),
                Field::new("s", DataType::Int64, true),
            ])),
            description: "test".into(),
        }
    }

    fn batch(rows: &[(i64, i64, i64)]) -> Step {
        Step::Batch(ChangeBatch::inserts(
            RecordBatch::try_new(
                input_schema(),
                vec![
                    Arc::new(TimestampMillisecondArray::from_iter_values(
                        rows.iter().map(|r| r.0),
                    )),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                ],
            )
            .expect("batch"),
        ))
    }

    /// The result rows as `end key=sum` (ends under a second), without
    /// the watermarks.
    fn results(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix("+I[1970-01-01T00:00:00."))
            .map(|l| {
                let f: Vec<&str> = l.trim_end_matches(']').split(", ").collect();
                let end: i64 = f[0].parse().expect("millis");
                format!("{end} {}={}", f[1], f[2])
            })
            .collect()
    }

    #[tokio::test]
    async fn hop_windows_merge_the_slices_they_cover() {
        let hop = Slicing::Hop {
            slide: 10,
            size: 20,
            offset: 0,
        };
        // Slices end at 10, 20, 30; windows of 20 end every 10.
        let steps = vec![
            batch(&[(10, 1, 1), (20, 1, 2), (20, 2, 5)]),
            Step::Watermark(9),
            batch(&[(30, 1, 4)]),
            Step::Watermark(1000),
        ];
        let (out, late) = run_counting_late(&factory(hop), &steps).await;
        assert_eq!(
            results(&out),
            vec!["10 1=1", "20 1=3", "20 2=5", "30 1=6", "30 2=5", "40 1=4"]
        );
        assert_eq!(late, 0);
    }

    #[tokio::test]
    async fn a_row_late_for_some_of_its_windows_counts_in_the_others() {
        let hop = Slicing::Hop {
            slide: 10,
            size: 30,
            offset: 0,
        };
        let steps = vec![
            batch(&[(10, 1, 1)]),
            // Fires the window ending at 10 only.
            Step::Watermark(9),
            // Slice 10 fired, but windows ending at 20 and 30 hold it too.
            batch(&[(10, 1, 100)]),
            Step::Watermark(29),
            // Every window of slice 10 fired: late.
            batch(&[(10, 1, 1000), (40, 1, 7)]),
            Step::Watermark(1000),
        ];
        let (out, late) = run_counting_late(&factory(hop), &steps).await;
        assert_eq!(
            results(&out),
            vec![
                "10 1=1", "20 1=101", "30 1=101", "40 1=7", "50 1=7", "60 1=7"
            ]
        );
        assert_eq!(late, 1);
    }

    #[tokio::test]
    async fn cumulate_windows_grow_from_their_period_start() {
        let cumulate = Slicing::Cumulate {
            step: 10,
            size: 30,
            offset: 0,
        };
        let steps = vec![
            batch(&[(10, 1, 1), (30, 1, 4), (40, 1, 8), (20, 2, 3)]),
            Step::Watermark(1000),
        ];
        let (out, _) = run_counting_late(&factory(cumulate), &steps).await;
        assert_eq!(
            results(&out),
            vec![
                "10 1=1", "20 1=1", "20 2=3", "30 1=5", "30 2=3", "40 1=8", "50 1=8", "60 1=8"
            ]
        );
    }

    #[tokio::test]
    async fn restored_slices_give_the_output_of_an_uninterrupted_run() {
        let hop = Slicing::Hop {
            slide: 10,
            size: 30,
            offset: 5,
        };
        let steps = vec![
            batch(&[(15, 1, 1), (25, 2, 2), (35, 1, 3)]),
            Step::Watermark(14),
            batch(&[(15, 1, 10), (25, 1, 4)]),
            Step::Watermark(30),
            batch(&[(45, 2, 6), (15, 1, 1000)]),
            Step::Watermark(10_000),
        ];
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory(hop), &steps, split).await;
        }
    }
}

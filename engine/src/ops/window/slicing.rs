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
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, Int64Array, TimestampMillisecondArray, UInt32Array,
};
use datafusion::arrow::compute::{cast, concat, take};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use foldhash::fast::RandomState;

use crate::batch::ChangeBatch;
use crate::error::{EngineError, Result};
use crate::late::Late;
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::ops::aggregate::accumulator_state;
use crate::ops::aggregate::{
    AggregateCall, BatchArguments, FiredWindows, GroupKeys, WindowColumns, new_groups_accumulators,
};
use crate::ops::window::buffer::{fired, millis};

/// How windows are made of slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slicing {
    /// Each window is one slice, its end given by the input's `window_end`
    /// (TUMBLE, or rows of windows computed upstream).
    Given,
    /// Windows of `size` every `slide` ms (`size` a multiple of `slide`).
    Hop {
        /// Milliseconds between window starts.
        slide: i64,
        /// Milliseconds a window spans.
        size: i64,
        /// Milliseconds the windows are shifted from the epoch.
        offset: i64,
    },
    /// Windows growing by `step` ms from the start of each `size` period.
    Cumulate {
        /// Milliseconds each window grows by.
        step: i64,
        /// Milliseconds of the largest window.
        size: i64,
        /// Milliseconds the periods are shifted from the epoch.
        offset: i64,
    },
}

impl std::fmt::Display for Slicing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slicing::Given => write!(f, "given by window_end"),
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
    /// Length of a slice, when windows are made of several.
    fn slice(&self) -> Option<i64> {
        match *self {
            Slicing::Given => None,
            Slicing::Hop { slide, .. } => Some(slide),
            Slicing::Cumulate { step, .. } => Some(step),
        }
    }

    /// Start of the window ending at `end` (exclusive: slices ending after
    /// it belong to the window).
    fn window_start(&self, end: i64) -> i64 {
        match *self {
            Slicing::Given => end - 1,
            Slicing::Hop { size, .. } => end - size,
            Slicing::Cumulate { size, offset, .. } => end
                .wrapping_sub(1)
                .wrapping_sub(offset)
                .div_euclid(size)
                .wrapping_mul(size)
                .wrapping_add(offset),
        }
    }

    /// End of the last window holding the slice ending at `slice_end`.
    fn last_window_end(&self, slice_end: i64) -> i64 {
        match *self {
            Slicing::Given => slice_end,
            Slicing::Hop { slide, size, .. } => slice_end + size - slide,
            Slicing::Cumulate { size, .. } => self.window_start(slice_end) + size,
        }
    }
}

/// How long after its end a processing-time window fires: rows stamped
/// with the processing time at the source reach the window a little later.
pub const PROCESSING_GRACE_MS: i64 = 1000;

/// How often processing-time windows check the clock.
const PROCESSING_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Configuration of a slicing window aggregation (the factory).
#[derive(Clone)]
pub struct SlicingWindowAggregate {
    /// Input columns `0..key_count` are the group keys.
    pub key_count: usize,
    /// Where the window columns sit among the keys.
    pub windows: WindowColumns,
    /// The window kind.
    pub slicing: Slicing,
    /// Windows of processing time: they fire by the wall clock (less
    /// [`PROCESSING_GRACE_MS`]), not by watermarks, and not at the end of
    /// input (as in Flink).
    pub processing_time: bool,
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

    /// The input columns the exchange feeding it hashes, as the planner
    /// partitions a window aggregation: every group key when the input
    /// gives the windows, else the keys other than the window columns (a
    /// row's windows span several slices, so only those keys keep a key's
    /// windows together).
    pub fn exchange_keys(&self) -> Vec<usize> {
        match self.slicing {
            Slicing::Given => (0..self.key_count).collect(),
            _ => self.other_keys(),
        }
    }
}

impl OperatorFactory for SlicingWindowAggregate {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(SlicingOperator {
            config: self.clone(),
            keys: GroupKeys::new(&self.schema, self.other_keys())?,
            slices: BTreeMap::new(),
            watermark: MIN_WATERMARK,
        }))
    }
}

/// The aggregation of one slice: its keys (as row bytes, by group index)
/// and DataFusion groups accumulators. Reading a groups accumulator's state
/// consumes it, so a slice read for a window keeps its state as arrays
/// (`settled`, one row per group), and rows arriving later (late for some
/// of the slice's windows, not for all) go to fresh accumulators merged in
/// at the next read.
#[derive(Default)]
struct Slice {
    keys: Vec<Box<[u8]>>,
    index: HashMap<Box<[u8]>, usize, RandomState>,
    settled: Option<Vec<Vec<ArrayRef>>>,
    open: Option<Vec<Box<dyn GroupsAccumulator>>>,
}

impl Slice {
    /// The group of `key`, added if new.
    fn group(&mut self, key: &[u8]) -> usize {
        if let Some(g) = self.index.get(key) {
            return *g;
        }
        let g = self.keys.len();
        self.keys.push(key.into());
        self.index.insert(key.into(), g);
        g
    }

    /// The open accumulators, created if there are none.
    fn open(&mut self, calls: &[AggregateCall]) -> Result<&mut [Box<dyn GroupsAccumulator>]> {
        if self.open.is_none() {
            self.open = Some(new_groups_accumulators(calls)?);
        }
        Ok(self.open.as_deref_mut().unwrap_or_default())
    }

    /// The slice's state per call: arrays with one row per group.
    fn settle(&mut self) -> Result<&[Vec<ArrayRef>]> {
        let total = self.keys.len();
        if let Some(mut open) = self.open.take() {
            if let Some(settled) = &self.settled {
                let groups: Vec<usize> = (0..settled_rows(settled)).collect();
                for (acc, state) in open.iter_mut().zip(settled) {
                    acc.merge_batch(state, &groups, total)?;
                }
            }
            let states = open
                .iter_mut()
                .map(|acc| acc.state(EmitTo::All))
                .collect::<Result<Vec<_>, _>>()?;
            self.settled = Some(states);
        }
        Ok(self.settled.as_deref().unwrap_or_default())
    }
}

/// Rows of a settled state.
fn settled_rows(states: &[Vec<ArrayRef>]) -> usize {
    states
        .first()
        .and_then(|s| s.first())
        .map_or(0, |a| a.len())
}

struct SlicingOperator {
    config: SlicingWindowAggregate,
    /// The keys that are not window columns.
    keys: GroupKeys,
    /// Slices by end.
    slices: BTreeMap<i64, Slice>,
    watermark: i64,
}

impl SlicingOperator {
    /// Keys held, summed over slices.
    fn state_entries(&self) -> usize {
        self.slices.values().map(|s| s.keys.len()).sum()
    }

    /// Adds the results of the window ending at `end` (starting at
    /// `start`), merged from its slices, to `out`.
    fn window(&mut self, start: i64, end: i64, out: &mut Results) -> Result<()> {
        let last = self.config.slicing.last_window_end(end) == end;
        let mut range = self.slices.range_mut(start + 1..=end);
        // A window of one slice no later window needs: its accumulators
        // evaluate directly.
        if let (Some((_, only)), None) = (range.next(), range.next())
            && last
            && only.settled.is_none()
        {
            let mut open = only.open.take().unwrap_or_default();
            let values = open
                .iter_mut()
                .map(|acc| acc.evaluate(EmitTo::All))
                .collect::<Result<Vec<_>, _>>()?;
            let keys: Vec<&[u8]> = only.keys.iter().map(|k| k.as_ref()).collect();
            return out.add(&self.keys, start, end, &keys, values);
        }
        for (_, slice) in self.slices.range_mut(start + 1..=end) {
            slice.settle()?;
        }
        let slices: Vec<&Slice> = self
            .slices
            .range(start + 1..=end)
            .map(|(_, s)| s)
            .filter(|s| s.settled.as_deref().is_some_and(|s| settled_rows(s) > 0))
            .collect();
        let most = slices.iter().map(|s| s.keys.len()).max().unwrap_or(0);
        let mut keys: Vec<&[u8]> = Vec::with_capacity(most);
        let mut index: HashMap<&[u8], usize, RandomState> =
            HashMap::with_capacity_and_hasher(most, RandomState::default());
        let mut accs = new_groups_accumulators(&self.config.calls)?;
        for slice in slices {
            let groups: Vec<usize> = slice
                .keys
                .iter()
                .map(|k| {
                    *index.entry(k).or_insert_with(|| {
                        keys.push(k);
                        keys.len() - 1
                    })
                })
                .collect();
            for (acc, state) in accs.iter_mut().zip(slice.settled.iter().flatten()) {
                acc.merge_batch(state, &groups, keys.len())?;
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        let values = accs
            .iter_mut()
            .map(|acc| acc.evaluate(EmitTo::All))
            .collect::<Result<Vec<_>, _>>()?;
        out.add(&self.keys, start, end, &keys, values)
    }

    /// Emits every window whose end `watermark` passed and `previous` had
    /// not, ordered by window end and key, then forgets the slices no
    /// window needs any more.
    fn fire(&mut self, previous: i64, watermark: i64) -> Result<Option<RecordBatch>> {
        let slicing = self.config.slicing;
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
                match slicing.slice() {
                    Some(step) => end += step,
                    None => break,
                }
            }
        }
        let mut out = Results {
            with_keys: !self.keys.is_empty(),
            ..Results::default()
        };
        for end in ends {
            self.window(slicing.window_start(end), end, &mut out)?;
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
        if out.windows.is_empty() {
            return Ok(None);
        }
        let other_keys = out
            .keys
            .iter()
            .map(|parts| {
                let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                concat(&parts)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(out.windows.into_batch(
            &self.config.schema,
            self.config.key_count,
            Some(&self.config.windows),
            other_keys,
        )?))
    }
}

/// Fired windows' results being gathered.
#[derive(Default)]
struct Results {
    /// Whether there are key columns besides the window's.
    with_keys: bool,
    windows: FiredWindows,
    /// Per key column, one array per window.
    keys: Vec<Vec<ArrayRef>>,
}

impl Results {
    /// Adds one window's results, ordered by key.
    fn add(
        &mut self,
        group_keys: &GroupKeys,
        start: i64,
        end: i64,
        keys: &[&[u8]],
        values: Vec<ArrayRef>,
    ) -> Result<()> {
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_unstable_by(|a, b| keys[*a as usize].cmp(keys[*b as usize]));
        if self.with_keys {
            let columns = group_keys.columns(order.iter().map(|i| keys[*i as usize]))?;
            if self.keys.is_empty() {
                self.keys.resize_with(columns.len(), Vec::new);
            }
            for (c, column) in columns.into_iter().enumerate() {
                self.keys[c].push(column);
            }
        }
        let order = UInt32Array::from(order);
        let values = values
            .iter()
            .map(|v| take(v.as_ref(), &order, None))
            .collect::<Result<Vec<_>, _>>()?;
        self.windows.push_arrays(start, end, keys.len(), values)
    }
}

impl accumulator_state::AggregationState for SlicingOperator {
    /// The slices as one batch: per slice and key, the key bytes, the
    /// slice end (twice: start and end columns) and the state columns.
    fn state_batch(&mut self) -> Result<Option<RecordBatch>> {
        let (mut keys, mut ends) = (vec![], vec![]);
        let mut states: Vec<Vec<ArrayRef>> = vec![];
        for (end, slice) in self.slices.iter_mut() {
            let settled = slice.settle()?;
            if settled_rows(settled) == 0 {
                continue;
            }
            let columns: Vec<ArrayRef> = settled.iter().flatten().cloned().collect();
            if states.is_empty() {
                states.resize_with(columns.len(), Vec::new);
            }
            for (c, column) in columns.into_iter().enumerate() {
                states[c].push(column);
            }
            keys.extend(slice.keys.iter().map(|k| k.to_vec()));
            ends.extend(std::iter::repeat_n(*end, slice.keys.len()));
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(BinaryArray::from_iter_values(keys)),
            Arc::new(Int64Array::from(ends.clone())),
            Arc::new(Int64Array::from(ends)),
        ];
        for parts in states {
            let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            columns.push(concat(&parts)?);
        }
        accumulator_state::state_batch(columns).map(Some)
    }

    /// Adds the slices of a state batch written by `state_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let widths = accumulator_state::state_widths(&self.config.calls)?;
        let (keys, _, ends) = accumulator_state::entry_columns(batch, &widths)?;
        let mut rows_of: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for (row, end) in ends.values().iter().enumerate() {
            rows_of.entry(*end).or_default().push(row as u32);
        }
        for (end, rows) in rows_of {
            let slice = self.slices.entry(end).or_default();
            let groups: Vec<usize> = rows
                .iter()
                .map(|r| slice.group(keys.value(*r as usize)))
                .collect();
            let total = slice.keys.len();
            let rows = UInt32Array::from(rows);
            let mut column = 3;
            let accs = slice.open(&self.config.calls)?;
            for (acc, width) in accs.iter_mut().zip(&widths) {
                let state = (column..column + width)
                    .map(|c| take(batch.column(c).as_ref(), &rows, None))
                    .collect::<Result<Vec<_>, _>>()?;
                acc.merge_batch(&state, &groups, total)?;
                column += width;
            }
        }
        Ok(())
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

    fn exchange_key_count(&self) -> usize {
        self.config.exchange_keys().len()
    }

    /// The exchange's keys of each state row: the other keys from their
    /// bytes, a window column from the slice end, as the input had them.
    fn exchange_keys(&self, state: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let widths = accumulator_state::state_widths(&self.config.calls)?;
        let (keys, _, ends) = accumulator_state::entry_columns(state, &widths)?;
        let others = self.keys.columns(keys.iter().flatten())?;
        let other_keys = self.config.other_keys();
        let windows = &self.config.windows;
        let slicing = self.config.slicing;
        let timestamps = |f: &dyn Fn(i64) -> i64| -> ArrayRef {
            Arc::new(TimestampMillisecondArray::from_iter_values(
                ends.values().iter().map(|e| f(*e)),
            ))
        };
        self.config
            .exchange_keys()
            .into_iter()
            .map(|i| {
                let column = if i == windows.end {
                    timestamps(&|end| end)
                } else if Some(i) == windows.start {
                    timestamps(&|end| slicing.window_start(end))
                } else if Some(i) == windows.time {
                    timestamps(&|end| end - 1)
                } else {
                    let at = other_keys.iter().position(|k| *k == i);
                    return at.and_then(|at| others.get(at).cloned()).ok_or_else(|| {
                        EngineError::Internal("window key columns out of step".into())
                    });
                };
                Ok(cast(&column, self.config.schema.field(i).data_type())?)
            })
            .collect()
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
        out: &mut dyn Emitter,
    ) -> Result<()> {
        batch.ensure_append_only("a window aggregation")?;
        let data = &batch.data;
        let slice_ends = millis(data.column(self.config.windows.end))?;
        let rows = self.keys.rows(data)?;
        let slicing = self.config.slicing;
        // The batch's rows per slice (usually one or two slices).
        let mut per_slice: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        let mut late = Late::default();
        for (i, end) in slice_ends.iter().enumerate() {
            match end {
                Some(e) if !fired(slicing.last_window_end(*e), self.watermark) => {
                    per_slice.entry(*e).or_default().push(i as u32)
                }
                _ => late.push(i, *end),
            }
        }
        let whole = per_slice.len() == 1 && late.is_empty();
        // The row's values: the input after the group keys.
        let values = &data.columns()[self.config.key_count..];
        late.report(&self.config.description, values, self.watermark, ctx, out)
            .await?;
        let arguments = BatchArguments::evaluate(&self.config.calls, data)?;
        for (end, members) in per_slice {
            let slice = self.slices.entry(end).or_default();
            let groups: Vec<usize> = members
                .iter()
                .map(|i| slice.group(rows.row(*i as usize).as_ref()))
                .collect();
            let total = slice.keys.len();
            let members = (!whole).then(|| UInt32Array::from(members));
            let accs = slice.open(&self.config.calls)?;
            arguments.update_groups(accs, members.as_ref(), &groups, total)?;
        }
        ctx.metrics.set_state_entries(self.state_entries());
        Ok(())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        accumulator_state::restore_from_store(self, ctx)
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        accumulator_state::snapshot_to_store(self, checkpoint, ctx)
    }

    fn processing_timer(&self) -> Option<std::time::Duration> {
        self.config.processing_time.then_some(PROCESSING_TICK)
    }

    async fn on_processing_time(
        &mut self,
        now: i64,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        let previous = self.watermark;
        self.watermark = previous.max(now - PROCESSING_GRACE_MS);
        if let Some(batch) = self.fire(previous, self.watermark)? {
            out.emit(ChangeBatch::inserts(batch)).await?;
        }
        Ok(())
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        if self.config.processing_time {
            return out.emit_watermark(watermark).await;
        }
        let previous = self.watermark;
        self.watermark = previous.max(watermark);
        if let Some(batch) = self.fire(previous, self.watermark)? {
            out.emit(ChangeBatch::inserts(batch)).await?;
        }
        ctx.metrics.set_state_entries(self.state_entries());
        out.emit_watermark(watermark).await
    }
}

#[cfg(test)]
mod tests;

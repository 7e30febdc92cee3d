//! Snapshots of aggregation state: one row per (key, window) with the key's
//! row bytes, the window's start and end, and the state columns of every
//! accumulator (`Accumulator::state`), restored with `merge_batch`. In the
//! store, the columns the operator's input exchange hashes come first, so
//! that a checkpoint restores at another parallelism.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, BinaryArray, Int64Array};
use datafusion::arrow::datatypes::{Field, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;

use crate::error::{EngineError, Result};
use crate::operator::Context;
use crate::ops::aggregate::AggregateCall;
use crate::state::{split_watermark, watermark_batch};

/// One piece of state to snapshot.
pub struct Entry<'a> {
    /// The key as row bytes.
    pub key: Vec<u8>,
    /// Window start (ms).
    pub start: i64,
    /// Window end (ms).
    pub end: i64,
    /// Its accumulators; reading their state consumes it.
    pub accumulators: &'a mut [Box<dyn Accumulator>],
}

/// The entries as one batch, or `None` when there are none.
pub fn snapshot(entries: Vec<Entry<'_>>) -> Result<Option<RecordBatch>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::with_capacity(entries.len());
    let mut starts = Vec::with_capacity(entries.len());
    let mut ends = Vec::with_capacity(entries.len());
    let mut states: Vec<Vec<ScalarValue>> = vec![];
    for e in entries {
        keys.push(e.key);
        starts.push(e.start);
        ends.push(e.end);
        let mut column = 0;
        for acc in e.accumulators.iter_mut() {
            for value in acc.state()? {
                if states.len() <= column {
                    states.push(vec![]);
                }
                states[column].push(value);
                column += 1;
            }
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(keys)),
        Arc::new(Int64Array::from(starts)),
        Arc::new(Int64Array::from(ends)),
    ];
    for values in states {
        columns.push(ScalarValue::iter_to_array(values)?);
    }
    state_batch(columns).map(Some)
}

/// A state batch of `columns`: key bytes, window start, window end, then
/// the accumulators' state columns.
pub fn state_batch(columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// `state` with `keys` in front: the columns the exchange feeding the
/// operator hashes, one row per state row, so that a restore at another
/// parallelism can split the state by them
/// ([`Context::restored_keyed_state`]).
pub fn with_exchange_keys(keys: Vec<ArrayRef>, state: &RecordBatch) -> Result<RecordBatch> {
    let mut columns = keys;
    columns.extend(state.columns().iter().cloned());
    state_batch(columns)
}

/// A batch written by [`with_exchange_keys`] less its `keys` key columns.
pub fn without_exchange_keys(batch: &RecordBatch, keys: usize) -> Result<RecordBatch> {
    if keys > batch.num_columns() {
        return Err(EngineError::State(
            "aggregation state has fewer columns than keys".into(),
        ));
    }
    Ok(batch.project(&(keys..batch.num_columns()).collect::<Vec<_>>())?)
}

/// How many state columns each call's accumulator has.
pub fn state_widths(calls: &[AggregateCall]) -> Result<Vec<usize>> {
    Ok(calls
        .iter()
        .map(|c| c.function.state_fields().map(|f| f.len()))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The key, start and end columns of a state batch, checked against the
/// state widths of the calls.
pub fn entry_columns<'a>(
    batch: &'a RecordBatch,
    widths: &[usize],
) -> Result<(&'a BinaryArray, &'a Int64Array, &'a Int64Array)> {
    let bad = || EngineError::State("aggregation state has an unexpected layout".into());
    if batch.num_columns() != 3 + widths.iter().sum::<usize>() {
        return Err(bad());
    }
    let keys = batch.column(0).as_binary_opt::<i32>().ok_or_else(bad)?;
    let starts = batch
        .column(1)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(bad)?;
    let ends = batch
        .column(2)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(bad)?;
    Ok((keys, starts, ends))
}

/// Calls `add(key, start, end, accumulators)` for every entry of a batch
/// written by [`snapshot`], with fresh accumulators of `calls` holding the
/// entry's state.
pub fn restore(
    batch: &RecordBatch,
    calls: &[AggregateCall],
    mut add: impl FnMut(&[u8], i64, i64, Vec<Box<dyn Accumulator>>) -> Result<()>,
) -> Result<()> {
    let widths = state_widths(calls)?;
    let (keys, starts, ends) = entry_columns(batch, &widths)?;
    for row in 0..batch.num_rows() {
        let mut accumulators = Vec::with_capacity(calls.len());
        let mut column = 3;
        for (call, width) in calls.iter().zip(&widths) {
            let mut acc = call.function.create_accumulator()?;
            let state: Vec<ArrayRef> = (column..column + width)
                .map(|c| batch.column(c).slice(row, 1))
                .collect();
            acc.merge_batch(&state)?;
            accumulators.push(acc);
            column += width;
        }
        add(
            keys.value(row),
            starts.value(row),
            ends.value(row),
            accumulators,
        )?;
    }
    Ok(())
}

/// An aggregation operator whose state snapshots as one batch.
pub trait AggregationState {
    /// The state as one batch (see [`snapshot`]); reading accumulator state
    /// consumes it.
    fn state_batch(&mut self) -> Result<Option<RecordBatch>>;
    /// Adds the state of a batch written by `state_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Forgets all state.
    fn clear_state(&mut self);
    /// The watermark the operator has seen.
    fn watermark(&self) -> i64;
    /// Sets the watermark (on restore).
    fn set_watermark(&mut self, watermark: i64);
    /// How many columns the exchange feeding the operator hashes.
    fn exchange_key_count(&self) -> usize;
    /// The columns the exchange feeding the operator hashes, in its order
    /// and of its types, for each row of a batch written by `state_batch`
    /// (as many as [`AggregationState::exchange_key_count`]).
    fn exchange_keys(&self, state: &RecordBatch) -> Result<Vec<ArrayRef>>;
}

/// Restores an operator's state from the job's store, if it has one
/// (`open`): at another parallelism than the checkpoint's, the entries
/// whose exchange keys are now routed to this subtask.
pub fn restore_from_store(op: &mut impl AggregationState, ctx: &Context) -> Result<()> {
    let keys = op.exchange_key_count();
    let (watermark, batches) = split_watermark(ctx.restored_keyed_state(keys)?);
    if let Some(w) = watermark {
        op.set_watermark(w);
    }
    for batch in batches {
        op.restore_batch(&without_exchange_keys(&batch, keys)?)?;
    }
    Ok(())
}

/// Writes an operator's state to the job's store (`snapshot`), then
/// continues from that snapshot, since reading it consumed the accumulators.
pub fn snapshot_to_store(
    op: &mut impl AggregationState,
    checkpoint: u64,
    ctx: &Context,
) -> Result<()> {
    let Some(store) = ctx.state.clone() else {
        return Ok(());
    };
    let batch = op.state_batch()?;
    op.clear_state();
    if let Some(batch) = &batch {
        op.restore_batch(batch)?;
    }
    let mut batches = vec![watermark_batch(op.watermark())?];
    if let Some(batch) = &batch {
        batches.push(with_exchange_keys(op.exchange_keys(batch)?, batch)?);
    }
    store.write(checkpoint, &ctx.state_key(), batches)
}

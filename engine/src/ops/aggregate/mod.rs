//! What the window aggregation operators share: an aggregate call, its
//! arguments evaluated once per input batch, and the output batch of fired
//! windows (group keys with the window columns filled in, then one column
//! per aggregate).
//!
//! The family: [`group`] (unbounded GROUP BY, updating), its keyed
//! accumulator state ([`group_state`]) and the snapshot form of
//! accumulators that every aggregating operator shares
//! ([`accumulator_state`]). The windowed aggregates are in
//! [`crate::ops::window`], OVER in [`crate::ops::over`].

pub mod accumulator_state;
pub mod group;
pub mod group_state;

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, TimestampMillisecondArray};
use datafusion::arrow::compute::{cast, filter, prep_null_mask_filter, take};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Accumulator, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::{GroupsAccumulatorAdapter, PhysicalExpr};

use crate::error::{EngineError, Result};

/// One aggregate call: the function and its `FILTER (WHERE ..)`.
#[derive(Clone)]
pub struct AggregateCall {
    /// The function with its argument expressions.
    pub function: Arc<AggregateFunctionExpr>,
    /// Rows count only where this is true.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
}

/// Fresh accumulators, one per call.
pub fn new_accumulators(calls: &[AggregateCall]) -> Result<Vec<Box<dyn Accumulator>>> {
    Ok(calls
        .iter()
        .map(|c| c.function.create_accumulator())
        .collect::<Result<Vec<_>, _>>()?)
}

/// Fresh groups accumulators, one per call: DataFusion's vectorized ones
/// where the function has them, otherwise its row accumulators adapted.
pub fn new_groups_accumulators(calls: &[AggregateCall]) -> Result<Vec<Box<dyn GroupsAccumulator>>> {
    calls
        .iter()
        .map(|c| {
            if c.function.groups_accumulator_supported() {
                Ok(c.function.create_groups_accumulator()?)
            } else {
                let function = c.function.clone();
                Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
                    function.create_accumulator()
                })) as Box<dyn GroupsAccumulator>)
            }
        })
        .collect()
}

/// The arguments and filter masks of every call, evaluated once for a batch.
pub struct BatchArguments {
    args: Vec<Vec<ArrayRef>>,
    masks: Vec<Option<BooleanArray>>,
}

impl BatchArguments {
    /// Evaluates the calls' arguments and filters on `data`.
    pub fn evaluate(calls: &[AggregateCall], data: &RecordBatch) -> Result<Self> {
        let rows = data.num_rows();
        let mut args = Vec::with_capacity(calls.len());
        let mut masks = Vec::with_capacity(calls.len());
        for call in calls {
            args.push(
                call.function
                    .expressions()
                    .iter()
                    .map(|e| e.evaluate(data).and_then(|v| v.into_array(rows)))
                    .collect::<Result<Vec<_>, _>>()?,
            );
            masks.push(match &call.filter {
                Some(f) => {
                    let mask = f.evaluate(data)?.into_array(rows)?;
                    let Some(mask) = mask.as_any().downcast_ref::<BooleanArray>() else {
                        return Err(EngineError::Execution("FILTER is not a boolean".into()));
                    };
                    // NULL counts as false.
                    Some(if mask.null_count() > 0 {
                        prep_null_mask_filter(mask)
                    } else {
                        mask.clone()
                    })
                }
                None => None,
            });
        }
        Ok(Self { args, masks })
    }

    /// Feeds rows `indices` of the batch to `accumulators` (one per call),
    /// each call seeing only the rows its filter keeps.
    pub fn update(
        &self,
        accumulators: &mut [Box<dyn Accumulator>],
        indices: &datafusion::arrow::array::UInt32Array,
    ) -> Result<()> {
        for (c, acc) in accumulators.iter_mut().enumerate() {
            acc.update_batch(&self.values(c, indices)?)?;
        }
        Ok(())
    }

    /// The arguments of call `c` for every row, and its filter.
    pub fn of(&self, c: usize) -> (&[ArrayRef], Option<&BooleanArray>) {
        (&self.args[c], self.masks[c].as_ref())
    }

    /// The arguments of call `c` at rows `indices`, less the rows its
    /// filter drops.
    pub fn values(
        &self,
        c: usize,
        indices: &datafusion::arrow::array::UInt32Array,
    ) -> Result<Vec<ArrayRef>> {
        let mut values = self.args[c]
            .iter()
            .map(|a| take(a.as_ref(), indices, None))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(mask) = &self.masks[c] {
            let mask = take(mask, indices, None)?;
            let mask = mask
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| EngineError::Internal("filter mask".into()))?;
            values = values
                .iter()
                .map(|v| filter(v.as_ref(), mask))
                .collect::<Result<Vec<_>, _>>()?;
        }
        Ok(values)
    }
}

impl BatchArguments {
    /// Feeds rows `rows` of the batch (all when `None`) to groups
    /// accumulators (one per call), row `i` of them to group
    /// `groups[i]`, of `total` groups.
    pub fn update_groups(
        &self,
        accumulators: &mut [Box<dyn GroupsAccumulator>],
        rows: Option<&datafusion::arrow::array::UInt32Array>,
        groups: &[usize],
        total: usize,
    ) -> Result<()> {
        for (c, acc) in accumulators.iter_mut().enumerate() {
            let values = match rows {
                None => self.args[c].clone(),
                Some(rows) => self.args[c]
                    .iter()
                    .map(|a| take(a.as_ref(), rows, None))
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let mask = match (&self.masks[c], rows) {
                (None, _) => None,
                (Some(m), None) => Some(m.clone()),
                (Some(m), Some(rows)) => {
                    let m = take(m, rows, None)?;
                    Some(
                        m.as_any()
                            .downcast_ref::<BooleanArray>()
                            .ok_or_else(|| EngineError::Internal("filter mask".into()))?
                            .clone(),
                    )
                }
            };
            acc.update_batch(&values, groups, mask.as_ref(), total)?;
        }
        Ok(())
    }
}

/// Which group keys are window columns, filled in by the operator when a
/// window fires rather than taken from the input rows.
#[derive(Clone, Debug, Default)]
pub struct WindowColumns {
    /// `window_start`, if grouped by.
    pub start: Option<usize>,
    /// `window_end`.
    pub end: usize,
    /// `window_time`, if grouped by.
    pub time: Option<usize>,
}

impl WindowColumns {
    /// Whether key column `i` is a window column.
    pub fn contains(&self, i: usize) -> bool {
        i == self.end || Some(i) == self.start || Some(i) == self.time
    }
}

/// Fired windows being gathered into one output batch.
#[derive(Default)]
pub struct FiredWindows {
    starts: Vec<i64>,
    ends: Vec<i64>,
    /// Per call, the value arrays gathered so far.
    chunks: Vec<Vec<ArrayRef>>,
    /// Per call, values of rows pushed one by one, not yet in `chunks`.
    pending: Vec<Vec<ScalarValue>>,
}

impl FiredWindows {
    /// Adds one result row: the window and the final accumulators.
    pub fn push(
        &mut self,
        start: i64,
        end: i64,
        accumulators: &mut [Box<dyn Accumulator>],
    ) -> Result<()> {
        self.starts.push(start);
        self.ends.push(end);
        if self.pending.len() < accumulators.len() {
            self.pending.resize_with(accumulators.len(), Vec::new);
        }
        for (c, acc) in accumulators.iter_mut().enumerate() {
            self.pending[c].push(acc.evaluate()?);
        }
        Ok(())
    }

    /// Adds the results of one window for `rows` keys: one array per call.
    pub fn push_arrays(
        &mut self,
        start: i64,
        end: i64,
        rows: usize,
        values: Vec<ArrayRef>,
    ) -> Result<()> {
        self.flush()?;
        self.starts.extend(std::iter::repeat_n(start, rows));
        self.ends.extend(std::iter::repeat_n(end, rows));
        if self.chunks.len() < values.len() {
            self.chunks.resize_with(values.len(), Vec::new);
        }
        for (c, v) in values.into_iter().enumerate() {
            self.chunks[c].push(v);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.chunks.len() < self.pending.len() {
            self.chunks.resize_with(self.pending.len(), Vec::new);
        }
        for (c, values) in self.pending.iter_mut().enumerate() {
            if !values.is_empty() {
                self.chunks[c].push(ScalarValue::iter_to_array(std::mem::take(values))?);
            }
        }
        Ok(())
    }

    /// Whether no window fired.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The output batch: for each key column of `schema` a window column
    /// (when `windows` names it) or the next of `other_keys` (one row per
    /// result row), then the aggregate values, cast to the schema's types.
    pub fn into_batch(
        mut self,
        schema: &SchemaRef,
        key_count: usize,
        windows: Option<&WindowColumns>,
        other_keys: Vec<ArrayRef>,
    ) -> Result<RecordBatch> {
        let ts = |values: &[i64]| -> ArrayRef {
            Arc::new(TimestampMillisecondArray::from(values.to_vec()))
        };
        let mut columns = Vec::with_capacity(schema.fields().len());
        let mut others = other_keys.into_iter();
        for i in 0..key_count {
            let column = if windows.is_some_and(|w| i == w.end) {
                ts(&self.ends)
            } else if windows.is_some_and(|w| Some(i) == w.start) {
                ts(&self.starts)
            } else if windows.is_some_and(|w| Some(i) == w.time) {
                let times: Vec<i64> = self.ends.iter().map(|e| e - 1).collect();
                ts(&times)
            } else {
                others
                    .next()
                    .ok_or_else(|| EngineError::Internal("window key columns out of step".into()))?
            };
            columns.push(cast(&column, schema.field(i).data_type())?);
        }
        self.flush()?;
        for (c, chunks) in self.chunks.into_iter().enumerate() {
            let parts: Vec<&dyn Array> = chunks.iter().map(|a| a.as_ref()).collect();
            let array = datafusion::arrow::compute::concat(&parts)?;
            columns.push(cast(&array, schema.field(key_count + c).data_type())?);
        }
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// The group keys of a window aggregation other than the window columns,
/// as row bytes. With no such key, every row has one constant key.
pub struct GroupKeys {
    columns: Vec<usize>,
    converter: RowConverter,
}

impl GroupKeys {
    /// Keys from input columns `columns` of `schema` (the keys precede the
    /// other columns, so output and input positions agree).
    pub fn new(schema: &Schema, columns: Vec<usize>) -> Result<Self> {
        let mut fields: Vec<SortField> = columns
            .iter()
            .map(|i| SortField::new(schema.field(*i).data_type().clone()))
            .collect();
        if fields.is_empty() {
            fields.push(SortField::new(DataType::Boolean));
        }
        Ok(Self {
            columns,
            converter: RowConverter::new(fields)?,
        })
    }

    /// Whether there are no keys (one constant key).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The key of every row of `data`.
    pub fn rows(&self, data: &RecordBatch) -> Result<Rows> {
        let keys: Vec<ArrayRef> = if self.columns.is_empty() {
            vec![Arc::new(BooleanArray::from(vec![true; data.num_rows()]))]
        } else {
            self.columns
                .iter()
                .map(|i| data.column(*i).clone())
                .collect()
        };
        Ok(self.converter.convert_columns(&keys)?)
    }

    /// The key columns of the rows `keys` (row bytes), none when there are
    /// no keys.
    pub fn columns<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        if self.columns.is_empty() {
            return Ok(vec![]);
        }
        let parser = self.converter.parser();
        Ok(self
            .converter
            .convert_rows(keys.into_iter().map(|k| parser.parse(k)))?)
    }

    /// Parses key bytes (from a snapshot) into an owned row.
    pub fn owned(&self, key: &[u8]) -> OwnedRow {
        self.converter.parser().parse(key).owned()
    }
}

//! What the two-input operators (regular, interval, temporal, lookup and
//! window joins) share: the kinds of join, an input's columns, join keys
//! as dense ids, time columns in milliseconds, and the snapshot of each
//! side.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;

use crate::error::{EngineError, Result};
use crate::operator::Context;
use crate::state::{StateKey, split_watermark, watermark_batch};

/// Which unmatched rows a join keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Only matches.
    Inner,
    /// Matches and unmatched left rows.
    Left,
    /// Matches and unmatched right rows.
    Right,
    /// Matches and every unmatched row.
    Full,
    /// Left rows with a match (each once).
    LeftSemi,
    /// Left rows without a match.
    LeftAnti,
    /// Right rows with a match (each once).
    RightSemi,
    /// Right rows without a match.
    RightAnti,
}

impl JoinKind {
    /// The side whose rows alone a semi or anti join emits, and whether
    /// those are the matched ones.
    pub fn filtering(self) -> Option<(usize, bool)> {
        match self {
            JoinKind::LeftSemi => Some((0, true)),
            JoinKind::LeftAnti => Some((0, false)),
            JoinKind::RightSemi => Some((1, true)),
            JoinKind::RightAnti => Some((1, false)),
            _ => None,
        }
    }

    /// Whether the unmatched rows of `side` are emitted, padded.
    pub fn is_outer(self, side: usize) -> bool {
        match self {
            JoinKind::Left => side == 0,
            JoinKind::Right => side == 1,
            JoinKind::Full => true,
            _ => false,
        }
    }
}

/// The state key of one side of a two-input operator.
pub(crate) fn side_key(ctx: &Context, side: usize) -> StateKey {
    let mut key = ctx.state_key();
    key.operator = format!(
        "{}/{}",
        key.operator,
        if side == 0 { "left" } else { "right" }
    );
    key
}

/// What a two-input operator's snapshot held for each side: its
/// watermark and its batches (nothing without a snapshot store). `keys`
/// are, per side, the columns of its state batches that the side's input
/// exchange hashes: restored at another parallelism, a subtask keeps the
/// rows of the keys now routed to it (see [`Context::restored_keyed_state_of`]).
pub(crate) fn restore_sides(
    ctx: &Context,
    keys: [&[usize]; 2],
) -> Result<Vec<(Option<i64>, Vec<RecordBatch>)>> {
    if ctx.state.is_none() {
        return Ok(vec![]);
    }
    keys.iter()
        .enumerate()
        .map(|(side, keys)| {
            let state = side_key(ctx, side).operator;
            Ok(split_watermark(ctx.restored_keyed_state_of(&state, keys)?))
        })
        .collect()
}

/// Writes each side's batches, after the operator's watermark, for
/// `checkpoint` (nothing without a snapshot store).
pub(crate) fn save_sides(
    ctx: &Context,
    checkpoint: u64,
    watermark: i64,
    sides: [Vec<RecordBatch>; 2],
) -> Result<()> {
    let Some(store) = &ctx.state else {
        return Ok(());
    };
    for (side, batches) in sides.into_iter().enumerate() {
        let mut all = vec![watermark_batch(watermark)?];
        all.extend(batches);
        store.write(checkpoint, &side_key(ctx, side), all)?;
    }
    Ok(())
}

/// One input of a join.
#[derive(Clone)]
pub struct JoinInput {
    /// Schema of its rows: the columns the join outputs (the first
    /// `width`), then any key columns computed for the join.
    pub schema: SchemaRef,
    /// Columns of the side in the output (and in the residual condition).
    pub width: usize,
    /// Equi-join key columns; both sides' keys have the same types.
    pub keys: Vec<usize>,
    /// Interval joins: the side's time attribute column.
    pub time: Option<usize>,
    /// Whether the input retracts rows.
    pub updating: bool,
}

/// Join keys to dense ids, the same for both sides (DataFusion's
/// `GroupValues`).
pub(crate) struct KeyIds {
    ids: Box<dyn GroupValues>,
    /// The left side's key types; the right side's keys are cast to them.
    types: Vec<DataType>,
    nulls_equal: bool,
}

impl KeyIds {
    /// Ids for the keys of `left` (and of the other side, of the same
    /// types); NULL keys match only if `nulls_equal`.
    pub fn new(left: &JoinInput, nulls_equal: bool) -> Result<Self> {
        let types: Vec<DataType> = if left.keys.is_empty() {
            vec![DataType::Boolean]
        } else {
            left.keys
                .iter()
                .map(|k| left.schema.field(*k).data_type().clone())
                .collect()
        };
        let schema = Arc::new(Schema::new(
            types
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    datafusion::arrow::datatypes::Field::new(format!("k{i}"), t.clone(), true)
                })
                .collect::<Vec<_>>(),
        ));
        Ok(Self {
            ids: new_group_values(schema, &GroupOrdering::None)?,
            types,
            nulls_equal,
        })
    }

    /// Keys seen so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The key id of each row of `data` (a batch of `input`) into `ids`;
    /// returns which rows may match (no NULL key, unless NULLs are equal).
    pub fn intern(
        &mut self,
        input: &JoinInput,
        data: &RecordBatch,
        ids: &mut Vec<usize>,
    ) -> Result<Vec<bool>> {
        let columns: Vec<ArrayRef> = if input.keys.is_empty() {
            vec![Arc::new(BooleanArray::from(vec![true; data.num_rows()]))]
        } else {
            key_columns(data, &input.keys, &self.types)?
        };
        ids.clear();
        self.ids.intern(&columns, ids)?;
        let mut valid = vec![true; data.num_rows()];
        if !self.nulls_equal {
            for c in &columns {
                if let Some(nulls) = c.nulls() {
                    for (i, v) in valid.iter_mut().enumerate() {
                        *v &= nulls.is_valid(i);
                    }
                }
            }
        }
        Ok(valid)
    }
}

/// Columns `keys` of `data`, each cast to its type in `types` where it
/// differs (one side's keys as the other side's types).
pub(crate) fn key_columns(
    data: &RecordBatch,
    keys: &[usize],
    types: &[DataType],
) -> Result<Vec<ArrayRef>> {
    keys.iter()
        .zip(types)
        .map(|(k, t)| {
            let c = data.column(*k);
            Ok(if c.data_type() == t {
                c.clone()
            } else {
                cast(c, t)?
            })
        })
        .collect()
}

/// The milliseconds of a timestamp column (`i64::MIN` for NULL).
pub(crate) fn time_millis(c: &ArrayRef) -> Result<Vec<i64>> {
    let ms = match c.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) => c.clone(),
        DataType::Timestamp(_, tz) => {
            cast(c, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))?
        }
        other => {
            return Err(EngineError::Internal(format!(
                "a join's time column is {other}"
            )));
        }
    };
    let ms = cast(&ms, &DataType::Int64)?;
    let ms = ms.as_primitive::<Int64Type>();
    Ok((0..ms.len())
        .map(|i| if ms.is_null(i) { i64::MIN } else { ms.value(i) })
        .collect())
}

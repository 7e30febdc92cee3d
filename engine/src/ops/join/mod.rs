//! `StreamingJoin`: Flink's regular join and interval join, over
//! append-only or updating inputs.
//!
//! Each side keeps its rows ([`state::SideState`]), listed by join key
//! (dense ids shared by both sides, from DataFusion's `GroupValues`). A
//! batch from one side is matched against the other side's rows of the
//! same keys, the residual condition evaluated on all candidate pairs at
//! once; then its rows are applied in order: an added row joins its
//! matches and is kept, a retracted one retracts its joins and leaves.
//!
//! Outer sides count each row's matches, as Flink does: a row without
//! matches is emitted padded with NULLs, and that padding is retracted
//! when its first match arrives (and emitted again when its last match
//! leaves). Semi and anti joins emit the filtered side's rows as their
//! match counts cross zero. NULL keys never match, unless the join says
//! `IS NOT DISTINCT FROM`.
//!
//! An interval join (`a.ts BETWEEN b.ts - INTERVAL .. AND b.ts + ..` on
//! time attributes of append-only inputs) is the same join with two
//! differences: a row leaves once the watermark makes a match impossible,
//! and only then is an unmatched row of an outer side emitted with
//! padding, so the output stays append-only. Its output watermark is held
//! back by the larger bound, so the rows it emits are not late.
//!
//! The other joins of the family live beside it: [`window`] (window join),
//! [`temporal`] (event-time temporal join) and [`lookup`] (lookup join);
//! they share this module's key ids and side snapshots.

pub mod lookup;
pub mod temporal;
pub mod window;

mod input;
mod interval;
mod state;

pub use input::{JoinInput, JoinKind};
pub(crate) use input::{KeyIds, key_columns, restore_sides, save_sides, time_millis};
pub use interval::TimeBounds;

use std::cmp::Reverse;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int8Array, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_expr::PhysicalExpr;

use self::state::SideState;
use crate::batch::{ChangeBatch, RowKind};
use crate::error::{EngineError, Result};
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::state::row_store::{RowRef, RowStore};

/// Configuration of a streaming join (the factory).
#[derive(Clone)]
pub struct StreamingJoin {
    /// Input 0.
    pub left: JoinInput,
    /// Input 1.
    pub right: JoinInput,
    /// Which rows it emits.
    pub kind: JoinKind,
    /// Whether NULL keys match each other (`IS NOT DISTINCT FROM`).
    pub nulls_equal: bool,
    /// A left anti join for `NOT IN`: while the right side is empty every
    /// left row is emitted; otherwise a left row with a NULL key is not,
    /// and while the right side holds a NULL key, no row is. Both are facts
    /// about the whole right side, so such a join runs on one subtask, as
    /// in Flink ([`StreamingJoin::exchange_keys`]).
    pub null_aware: bool,
    /// A condition on the joined row (the left side's output columns,
    /// then the right side's), if any.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// Set for an interval join.
    pub interval: Option<TimeBounds>,
    /// Keys untouched this long are forgotten (`table.exec.state.ttl`).
    pub state_ttl: Option<std::time::Duration>,
    /// Output: the left side's columns, then the right side's (one side's
    /// for semi and anti joins).
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl StreamingJoin {
    fn input(&self, side: usize) -> &JoinInput {
        if side == 0 { &self.left } else { &self.right }
    }

    /// The columns the exchange into side `side` hashes, and by which its
    /// state is redistributed on a rescaled restore; none (every row to
    /// subtask 0) for a join without equi-keys and for a null-aware anti
    /// join, whose every row depends on the whole right side.
    pub fn exchange_keys(&self, side: usize) -> &[usize] {
        if self.null_aware {
            &[]
        } else {
            &self.input(side).keys
        }
    }
}

/// The match count held for a left row with a NULL key in a null-aware
/// anti join: every right row leaves it unknown, so it counts as matched
/// while the right side holds any row. Counting never touches it (a NULL
/// key pairs with nothing), and `matches == 0` never selects it.
const MATCHED_BY_ANY: u32 = u32::MAX;

impl OperatorFactory for StreamingJoin {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        if self.left.keys.len() != self.right.keys.len()
            || self.interval.is_some() && (self.left.time.is_none() || self.right.time.is_none())
        {
            return Err(EngineError::Internal(
                "a join's sides disagree on their keys or times".into(),
            ));
        }
        let ttl = self.state_ttl.is_some() && self.interval.is_none();
        let side = |s: usize| {
            let input = self.input(s);
            Ok::<_, EngineError>(SideState::new(
                RowStore::new(input.schema.clone())
                    .with_hot_budget(state::HOT_BYTES)
                    .on_disk(subtask.rows_on_disk(if s == 0 { "left" } else { "right" })?),
                input.updating,
                ttl,
            ))
        };
        Ok(Box::new(JoinOperator {
            config: self.clone(),
            keys: KeyIds::new(&self.left, self.nulls_equal)?,
            sides: [side(0)?, side(1)?],
            watermark: MIN_WATERMARK,
            ids: vec![],
            right_nulls: 0,
        }))
    }
}

/// A row to emit: a row of the input batch and a held row of the other
/// side, either of which may be padding.
struct Out {
    kind: RowKind,
    input: Option<u32>,
    other: Option<RowRef>,
}

impl Out {
    /// A row of the input batch without a partner.
    fn alone(kind: RowKind, input: Option<u32>) -> Self {
        Self {
            kind,
            input,
            other: None,
        }
    }
}

/// The candidate pairs of a batch: for row `i`, the other side's entries
/// `entries[offsets[i]..offsets[i + 1]]`.
#[derive(Default)]
struct Pairs {
    offsets: Vec<usize>,
    rows: Vec<u32>,
    entries: Vec<u32>,
}

impl Pairs {
    fn of(&self, i: usize) -> &[u32] {
        &self.entries[self.offsets[i]..self.offsets[i + 1]]
    }
}

struct JoinOperator {
    config: StreamingJoin,
    keys: KeyIds,
    sides: [SideState; 2],
    watermark: i64,
    /// Buffer: the key id of each row of a batch.
    ids: Vec<usize>,
    /// Null-aware anti joins: right rows held with a NULL key.
    right_nulls: u64,
}

impl JoinOperator {
    /// Gives the rows of `data` (side `side`) key ids (in `self.ids`);
    /// returns which rows may match.
    fn intern(&mut self, side: usize, data: &RecordBatch) -> Result<Vec<bool>> {
        let valid = self
            .keys
            .intern(self.config.input(side), data, &mut self.ids)?;
        for s in &mut self.sides {
            s.grow(self.keys.len());
        }
        Ok(valid)
    }

    /// The time attribute of each row of a batch of side `side`, in ms.
    fn times(&self, side: usize, data: &RecordBatch) -> Result<Option<Vec<i64>>> {
        self.config
            .input(side)
            .time
            .map(|c| time_millis(data.column(c)))
            .transpose()
    }

    /// The other side's rows each row of `data` (side `side`) joins with:
    /// same key, and the residual condition holds.
    fn pairs(&self, side: usize, data: &RecordBatch, valid: &[bool]) -> Result<Pairs> {
        let other = &self.sides[1 - side];
        let mut pairs = Pairs::default();
        for (i, id) in self.ids.iter().enumerate() {
            pairs.offsets.push(pairs.entries.len());
            if valid[i] {
                for e in other.list(*id) {
                    pairs.rows.push(i as u32);
                    pairs.entries.push(e);
                }
            }
        }
        pairs.offsets.push(pairs.entries.len());
        let Some(filter) = &self.config.filter else {
            return Ok(pairs);
        };
        if pairs.entries.is_empty() {
            return Ok(pairs);
        }
        let refs: Vec<Option<RowRef>> = pairs
            .entries
            .iter()
            .map(|e| Some(other.entry(*e).row))
            .collect();
        let input_rows = UInt32Array::from(pairs.rows.clone());
        let joined = self.joined_columns(side, data, &input_rows, &refs)?;
        let fields: Vec<_> = joined
            .iter()
            .enumerate()
            .map(|(i, c)| {
                datafusion::arrow::datatypes::Field::new(
                    format!("c{i}"),
                    c.data_type().clone(),
                    true,
                )
            })
            .collect();
        let joined = RecordBatch::try_new(Arc::new(Schema::new(fields)), joined)?;
        let mask = filter.evaluate(&joined)?.into_array(joined.num_rows())?;
        let mask = mask.as_boolean();
        let mut kept = Pairs::default();
        for i in 0..data.num_rows() {
            kept.offsets.push(kept.entries.len());
            for p in pairs.offsets[i]..pairs.offsets[i + 1] {
                if mask.is_valid(p) && mask.value(p) {
                    kept.rows.push(i as u32);
                    kept.entries.push(pairs.entries[p]);
                }
            }
        }
        kept.offsets.push(kept.entries.len());
        Ok(kept)
    }

    /// Joined rows as columns (left side's output columns, then the right
    /// side's): rows `input` of `data` (side `side`, NULL where the index
    /// is) with held rows `other` of the other side.
    fn joined_columns(
        &self,
        side: usize,
        data: &RecordBatch,
        input: &UInt32Array,
        other: &[Option<RowRef>],
    ) -> Result<Vec<ArrayRef>> {
        let width = self.config.input(side).width;
        let mine = data.columns()[..width]
            .iter()
            .map(|c| Ok(take(c, input, None)?))
            .collect::<Result<Vec<_>>>()?;
        let mut theirs = self.sides[1 - side].store.gather_or_null(other)?;
        theirs.truncate(self.config.input(1 - side).width);
        Ok(if side == 0 {
            mine.into_iter().chain(theirs).collect()
        } else {
            theirs.into_iter().chain(mine).collect()
        })
    }

    /// The output batch of `outs`.
    fn output(&self, side: usize, data: &RecordBatch, outs: &[Out]) -> Result<ChangeBatch> {
        let input = UInt32Array::from_iter(outs.iter().map(|o| o.input));
        let other: Vec<Option<RowRef>> = outs.iter().map(|o| o.other).collect();
        let mut columns = self.joined_columns(side, data, &input, &other)?;
        match self.config.kind.filtering() {
            Some((0, _)) => columns.truncate(self.config.left.width),
            Some(_) => {
                columns.drain(..self.config.left.width);
            }
            None => {}
        }
        let data = crate::batch::conform(&self.config.schema, columns)?;
        let kinds = Int8Array::from_iter_values(outs.iter().map(|o| o.kind as i8));
        Ok(if outs.iter().all(|o| o.kind == RowKind::Insert) {
            ChangeBatch::inserts(data)
        } else {
            ChangeBatch::with_kinds(data, kinds)
        })
    }

    /// Applies the rows of a batch of side `side` in order, returning what
    /// they emit.
    fn apply(
        &mut self,
        side: usize,
        batch: &ChangeBatch,
        pairs: &Pairs,
        valid: &[bool],
        times: Option<&[i64]>,
    ) -> Result<Vec<Out>> {
        let data = &batch.data;
        let other_side = 1 - side;
        let kind = self.config.kind;
        let interval = self.config.interval;
        let filtering = kind.filtering();
        let (me_outer, other_outer) = (kind.is_outer(side), kind.is_outer(other_side));
        // Match counts are kept on outer sides and the filtered side.
        let counts_mine = me_outer || filtering.is_some_and(|(f, _)| f == side);
        let counts_other = other_outer || filtering.is_some_and(|(f, _)| f == other_side);
        let hashes = if self.sides[side].hashes_rows() {
            let mut h = vec![0u64; data.num_rows()];
            datafusion::common::hash_utils::create_hashes(
                data.columns(),
                &foldhash::fast::FixedState::with_seed(0x10_1e),
                &mut h,
            )?;
            h
        } else {
            vec![]
        };
        let now = self.sides[side]
            .touched_at
            .is_some()
            .then(|| chrono::Utc::now().timestamp_millis());
        let chunk = self.sides[side].store.add(data.clone());
        let mut outs = vec![];
        let [left, right] = &mut self.sides;
        let (mine, other) = if side == 0 {
            (left, right)
        } else {
            (right, left)
        };
        for i in 0..data.num_rows() {
            let row_kind = batch.kind(i);
            let matched = pairs.of(i);
            let key = self.ids[i];
            let hash = hashes.get(i).copied().unwrap_or(0);
            if let (Some(t), Some(now)) = (&mut mine.touched_at, now) {
                t[key] = now;
            }
            let here = Some(i as u32);
            // Null-aware anti join: a left row with a NULL key shows only
            // while the right side is empty.
            let unknown_key = self.config.null_aware && side == 0 && !valid[i];
            if self.config.null_aware && side == 1 {
                if row_kind.is_addition() && mine.len() == 0 {
                    outs.extend(held_with_matches(other, MATCHED_BY_ANY, RowKind::Delete));
                }
                if !valid[i] {
                    // NOT IN over a set holding NULL is never true: every
                    // row emitted goes while a NULL is held.
                    let before = self.right_nulls;
                    if row_kind.is_addition() {
                        self.right_nulls += 1;
                    } else {
                        self.right_nulls = before.saturating_sub(1);
                    }
                    if (before == 0) != (self.right_nulls == 0) {
                        let kind = if before == 0 {
                            RowKind::Delete
                        } else {
                            RowKind::Insert
                        };
                        outs.extend(held_with_matches(other, 0, kind));
                    }
                }
            }
            let hidden = if unknown_key {
                other.len() > 0
            } else {
                self.right_nulls > 0
            };
            // A semi or anti join's filtered side emits its own row (added
            // or retracted) by its match count.
            if let Some((f, keep_matched)) = filtering
                && f == side
                && matched.is_empty() != keep_matched
                && !hidden
            {
                outs.push(Out::alone(row_kind, here));
            }
            if row_kind.is_addition() {
                if counts_other {
                    for e in matched {
                        let entry = other.entry_mut(*e);
                        entry.matches += 1;
                        let first = entry.matches == 1;
                        let row = Some(entry.row);
                        match filtering {
                            Some((_, keep_matched)) if first && !hidden => outs.push(Out {
                                kind: if keep_matched {
                                    RowKind::Insert
                                } else {
                                    RowKind::Delete
                                },
                                input: None,
                                other: row,
                            }),
                            None if first && interval.is_none() => outs.push(Out {
                                kind: RowKind::Delete,
                                input: None,
                                other: row,
                            }),
                            _ => {}
                        }
                    }
                }
                let expired = match (interval, times) {
                    (Some(b), Some(t)) => b.expiry(side, t[i]) <= self.watermark,
                    _ => false,
                };
                if filtering.is_none() {
                    let joined_kind = if me_outer || other_outer {
                        RowKind::Insert
                    } else {
                        row_kind
                    };
                    outs.extend(matched.iter().map(|e| Out {
                        kind: joined_kind,
                        input: here,
                        other: Some(other.entry(*e).row),
                    }));
                    if me_outer && matched.is_empty() && (interval.is_none() || expired) {
                        outs.push(Out::alone(RowKind::Insert, here));
                    }
                }
                if !expired {
                    let count = if unknown_key {
                        MATCHED_BY_ANY
                    } else if counts_mine {
                        matched.len() as u32
                    } else {
                        0
                    };
                    let e = mine.insert(
                        key,
                        RowRef {
                            chunk,
                            row: i as u32,
                        },
                        count,
                        hash,
                    );
                    if let (Some(b), Some(t)) = (interval, times) {
                        mine.expiries.push(Reverse((b.expiry(side, t[i]), e)));
                    }
                }
            } else {
                if let Some(e) = mine.find(key, hash, data, i)? {
                    mine.remove(e);
                    if self.config.null_aware && side == 1 && mine.len() == 0 {
                        outs.extend(held_with_matches(other, MATCHED_BY_ANY, RowKind::Insert));
                    }
                }
                if filtering.is_none() {
                    let joined_kind = if me_outer || other_outer {
                        RowKind::Delete
                    } else {
                        row_kind
                    };
                    if me_outer && matched.is_empty() {
                        outs.push(Out::alone(RowKind::Delete, here));
                    }
                    for e in matched {
                        outs.push(Out {
                            kind: joined_kind,
                            input: here,
                            other: Some(other.entry(*e).row),
                        });
                    }
                }
                if counts_other {
                    for e in matched {
                        let entry = other.entry_mut(*e);
                        entry.matches = entry.matches.saturating_sub(1);
                        if entry.matches > 0 {
                            continue;
                        }
                        let row = Some(entry.row);
                        match filtering {
                            Some(_) if hidden => {}
                            Some((_, keep_matched)) => outs.push(Out {
                                kind: if keep_matched {
                                    RowKind::Delete
                                } else {
                                    RowKind::Insert
                                },
                                input: None,
                                other: row,
                            }),
                            None => outs.push(Out {
                                kind: RowKind::Insert,
                                input: None,
                                other: row,
                            }),
                        }
                    }
                }
            }
        }
        Ok(outs)
    }

    fn set_state_entries(&self, ctx: &Context) {
        ctx.metrics
            .set_state_entries(self.sides[0].len() + self.sides[1].len());
    }

    /// Restores side `side` from the rows and match counts a snapshot wrote.
    fn restore_side(&mut self, side: usize, batch: &RecordBatch) -> Result<()> {
        let width = self.config.input(side).schema.fields().len();
        if batch.num_columns() != width + 1 {
            return Err(EngineError::State(
                "join state has an unexpected layout".into(),
            ));
        }
        let rows = RecordBatch::try_new(
            self.config.input(side).schema.clone(),
            batch.columns()[..width].to_vec(),
        )?;
        let matches = cast(batch.column(width), &DataType::UInt32)?;
        let matches = matches.as_primitive::<datafusion::arrow::datatypes::UInt32Type>();
        let valid = self.intern(side, &rows)?;
        if side == 1 {
            self.right_nulls += valid.iter().filter(|v| !**v).count() as u64;
        }
        let times = self.times(side, &rows)?;
        let hashes = if self.sides[side].hashes_rows() {
            let mut h = vec![0u64; rows.num_rows()];
            datafusion::common::hash_utils::create_hashes(
                rows.columns(),
                &foldhash::fast::FixedState::with_seed(0x10_1e),
                &mut h,
            )?;
            h
        } else {
            vec![0; rows.num_rows()]
        };
        let now = chrono::Utc::now().timestamp_millis();
        let interval = self.config.interval;
        let s = &mut self.sides[side];
        let chunk = s.store.add(rows);
        for (i, key) in self.ids.iter().enumerate() {
            let e = s.insert(
                *key,
                RowRef {
                    chunk,
                    row: i as u32,
                },
                matches.value(i),
                hashes[i],
            );
            if let (Some(b), Some(t)) = (interval, &times) {
                s.expiries.push(Reverse((b.expiry(side, t[i]), e)));
            }
            if let Some(t) = &mut s.touched_at {
                t[*key] = now;
            }
        }
        s.settle()
    }
}

/// Null-aware anti joins: the held left rows whose match count is
/// `matches` (0: unmatched; `MATCHED_BY_ANY`: a NULL key), emitted as
/// `kind` when a fact about the whole right side changes.
fn held_with_matches(
    left: &SideState,
    matches: u32,
    kind: RowKind,
) -> impl Iterator<Item = Out> + '_ {
    left.live()
        .filter(move |e| e.matches == matches)
        .map(move |e| Out {
            kind,
            input: None,
            other: Some(e.row),
        })
}

/// Rows per batch of a full snapshot of a side.
const SNAPSHOT_ROWS: usize = 65_536;

#[async_trait]
impl Operator for JoinOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    fn processing_timer(&self) -> Option<std::time::Duration> {
        self.config
            .state_ttl
            .filter(|_| self.config.interval.is_none())
            .map(crate::ops::aggregate::group::ttl_sweep_every)
    }

    /// Forgets the keys of a side no row of that side touched for the TTL,
    /// emitting nothing (as Flink).
    async fn on_processing_time(
        &mut self,
        now: i64,
        ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        let Some(ttl) = self.config.state_ttl else {
            return Ok(());
        };
        let deadline = now.saturating_sub(ttl.as_millis() as i64);
        // A null-aware join's right side is kept whole: its emptiness and
        // its NULLs decide every left row, and forgetting rows silently
        // would leave downstream with rows these facts retracted.
        let sides = if self.config.null_aware { 1 } else { 2 };
        for s in &mut self.sides[..sides] {
            let expired: Vec<usize> = match &s.touched_at {
                Some(t) => (0..s.keys()).filter(|k| t[*k] < deadline).collect(),
                None => vec![],
            };
            for k in expired {
                s.clear_key(k);
            }
            s.settle()?;
        }
        self.set_state_entries(ctx);
        Ok(())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // Each side's rows hold the columns its exchange hashes at `keys`.
        let keys = [self.config.exchange_keys(0), self.config.exchange_keys(1)];
        for (side, (watermark, batches)) in restore_sides(ctx, keys)?.into_iter().enumerate() {
            if let Some(w) = watermark {
                self.watermark = self.watermark.max(w);
            }
            for b in batches {
                self.restore_side(side, &b)?;
            }
        }
        self.set_state_entries(ctx);
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let Some(store) = ctx.state.clone() else {
            return Ok(());
        };
        let mut sides: [Vec<RecordBatch>; 2] = [vec![], vec![]];
        for (side, batches) in sides.iter_mut().enumerate() {
            let state = &self.sides[side];
            if state.len() == 0 {
                continue;
            }
            let (refs, matches) = state.held();
            // Incremental: the rows' chunks are written once, and referred to.
            if ctx.subtask.state_backend.incremental {
                let (chunks, positions) =
                    state.store.shared_refs(&refs, store.as_ref(), checkpoint)?;
                let matches: ArrayRef = Arc::new(matches);
                batches.push(crate::state::shared_rows_batch(
                    chunks,
                    positions,
                    vec![matches],
                )?);
                continue;
            }
            // Whole rows, in batches far from Arrow's 2 GB offsets.
            for (i, refs) in refs.chunks(SNAPSHOT_ROWS).enumerate() {
                let mut columns = state.store.gather(refs)?.columns().to_vec();
                columns.push(Arc::new(matches.slice(i * SNAPSHOT_ROWS, refs.len())));
                batches.push(crate::ops::aggregate::accumulator_state::state_batch(
                    columns,
                )?);
            }
        }
        save_sides(ctx, checkpoint, self.watermark, sides)
    }

    async fn process(
        &mut self,
        input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        let side = input.min(1);
        let data = &batch.data;
        if data.num_rows() == 0 {
            return Ok(());
        }
        let valid = self.intern(side, data)?;
        let times = self.times(side, data)?;
        let pairs = self.pairs(side, data, &valid)?;
        let outs = self.apply(side, &batch, &pairs, &valid, times.as_deref())?;
        let emitted = if outs.is_empty() {
            None
        } else {
            Some(self.output(side, data, &outs)?)
        };
        self.sides[side].settle()?;
        self.set_state_entries(ctx);
        if let Some(b) = emitted {
            out.emit(b).await?;
        }
        Ok(())
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        let Some(bounds) = self.config.interval else {
            return out.emit_watermark(watermark).await;
        };
        for b in self.expire()? {
            out.emit(b).await?;
        }
        self.set_state_entries(ctx);
        let delayed = if watermark == crate::message::MAX_WATERMARK {
            watermark
        } else {
            watermark.saturating_sub(bounds.watermark_delay())
        };
        out.emit_watermark(delayed).await
    }
}

#[cfg(test)]
mod tests;

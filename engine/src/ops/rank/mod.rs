//! `Rank`: unbounded Top-N and deduplication (Flink's rank operators):
//! `ROW_NUMBER() OVER (PARTITION BY k ORDER BY x) .. WHERE rn <= N`.
//!
//! Partition keys get dense ids (DataFusion's `GroupValues`, a batch at a
//! time). Per partition the operator holds its rows in rank order: only
//! the top N when the input never retracts, all of them otherwise, so a
//! retracted row's successor is known. The rows themselves stay in Arrow
//! batches ([`RowStore`]); a partition holds each row's order key and a
//! reference to it. After each batch, the partitions it touched compare
//! their top N before and after, rank by rank: a rank whose row changed
//! emits `-U` of the old row and `+U` of the new (`+I` for a rank newly
//! filled, `-D` for a rank emptied). Rows of equal order keys rank in
//! arrival order, or the newest first for keep-last deduplication.
//!
//! When the consumers need no `-U` (they apply `+U` as an upsert), a
//! deduplication of an append-only input keeps no rows at all: only each
//! partition's order key, since the row it replaces is never emitted again.
//!
//! [`window`] ranks within windows (window Top-N and deduplication).

pub mod window;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int8Array, UInt32Array, UInt64Array};
use datafusion::arrow::compute::{SortOptions, concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;

use crate::state::row_store::{RowRef, RowStore};

mod state;
use crate::batch::{ChangeBatch, RowKind};
use crate::error::Result;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Configuration of a rank (the factory).
#[derive(Clone)]
pub struct Rank {
    /// The partition keys, over the input.
    pub partition_by: Vec<Arc<dyn PhysicalExpr>>,
    /// The order, over the input.
    pub order_by: Vec<(Arc<dyn PhysicalExpr>, SortOptions)>,
    /// N: ranks above it are not emitted.
    pub limit: usize,
    /// Ranks up to this one are not emitted either (`LIMIT n OFFSET m`:
    /// ranks `m + 1` to `m + n` are, with `limit` = `m + n`).
    pub offset: usize,
    /// Rows of equal order keys rank the newest first (keep-last
    /// deduplication) rather than the oldest.
    pub newest_first_on_ties: bool,
    /// Whether the query uses the rank: if not, a row moving to another
    /// rank is no change, and only rows entering or leaving the top N are
    /// emitted (`+I`/`-D`; `-U`/`+U` for the one row of a deduplication).
    pub rank_number: bool,
    /// Whether the input may retract rows.
    pub updating_input: bool,
    /// Whether to emit `-U` before each `+U`; not when every consumer
    /// applies `+U` as an upsert (see `JobGraph::settle_update_before`).
    pub update_before: bool,
    /// Partitions untouched this long are forgotten (`table.exec.state.ttl`).
    pub state_ttl: Option<std::time::Duration>,
    /// The input's schema.
    pub input_schema: SchemaRef,
    /// Output: the input columns, then the rank.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl Rank {
    /// The schema of the partition key columns (a constant column when
    /// there are none).
    fn key_schema(&self) -> Result<SchemaRef> {
        let fields = if self.partition_by.is_empty() {
            vec![Field::new(
                "k",
                datafusion::arrow::datatypes::DataType::Boolean,
                true,
            )]
        } else {
            self.partition_by
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    Ok(Field::new(
                        format!("k{i}"),
                        e.data_type(&self.input_schema)?,
                        true,
                    ))
                })
                .collect::<Result<Vec<_>>>()?
        };
        Ok(Arc::new(Schema::new(fields)))
    }

    /// Whether the rows need not be kept: a deduplication of an append-only
    /// input whose replaced row is never emitted again (no `-U`).
    fn keeps_orders_only(&self) -> bool {
        self.limit == 1 && !self.updating_input && !self.update_before
    }
}

impl OperatorFactory for Rank {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn without_update_before(&self) -> Option<Arc<dyn OperatorFactory>> {
        Some(Arc::new(Rank {
            update_before: false,
            ..self.clone()
        }))
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let key_schema = self.key_schema()?;
        let mut order_fields = self
            .order_by
            .iter()
            .map(|(e, o)| {
                Ok(SortField::new_with_options(
                    e.data_type(&self.input_schema)?,
                    *o,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        if order_fields.is_empty() {
            order_fields.push(SortField::new(
                datafusion::arrow::datatypes::DataType::Boolean,
            ));
        }
        Ok(Box::new(RankOperator {
            keys: new_group_values(key_schema.clone(), &GroupOrdering::None)?,
            key_schema,
            order: RowConverter::new(order_fields)?,
            partitions: if self.keeps_orders_only() {
                Partitions::Orders(vec![])
            } else {
                Partitions::Rows(vec![])
            },
            store: RowStore::new(self.input_schema.clone()).on_disk(subtask.rows_on_disk("rows")?),
            marks: vec![],
            touched_at: vec![],
            epoch: 0,
            occupied: 0,
            ids: vec![],
            scratch: Scratch::default(),
            config: self.clone(),
        }))
    }
}

/// A row's order key (Arrow row bytes), inline when short.
#[derive(Clone)]
enum OrderKey {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<[u8]>),
}

impl OrderKey {
    fn new(key: &[u8]) -> Self {
        if key.len() <= 22 {
            let mut bytes = [0; 22];
            bytes[..key.len()].copy_from_slice(key);
            OrderKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            OrderKey::Heap(key.into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            OrderKey::Inline { len, bytes } => &bytes[..*len as usize],
            OrderKey::Heap(b) => b,
        }
    }
}

/// A row held by a partition.
struct Held {
    order: OrderKey,
    row: RowRef,
    /// Hash of the row's values (over an updating input, to find the row a
    /// retraction names).
    hash: u64,
}

/// Changes go out in batches of at most this many rows, so a batch that
/// shifts many ranks does not hand its consumers one huge batch.
const OUTPUT_ROWS: usize = 4096;

/// The partitions' state, by partition id.
enum Partitions {
    /// Deduplication emitting no `-U` over an append-only input: the order
    /// key of each partition's one row.
    Orders(Vec<Option<OrderKey>>),
    /// Each partition's held rows in rank order.
    Rows(Vec<Vec<Held>>),
}

impl Partitions {
    fn len(&self) -> usize {
        match self {
            Partitions::Orders(v) => v.len(),
            Partitions::Rows(v) => v.len(),
        }
    }

    fn grow(&mut self, n: usize) {
        match self {
            Partitions::Orders(v) => v.resize_with(n, || None),
            Partitions::Rows(v) => v.resize_with(n, Vec::new),
        }
    }

    fn is_occupied(&self, p: usize) -> bool {
        match self {
            Partitions::Orders(v) => v[p].is_some(),
            Partitions::Rows(v) => !v[p].is_empty(),
        }
    }
}

/// Whether a row of order key `new` ranks before a held row of `held`.
fn ranks_before(new: &[u8], held: &[u8], newest_first: bool) -> bool {
    match new.cmp(held) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => newest_first,
        std::cmp::Ordering::Greater => false,
    }
}

/// The hasher of row values (fixed, so restored hashes agree).
fn row_hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x5eed)
}

/// Buffers of a batch's processing, kept between batches.
#[derive(Default)]
struct Scratch {
    /// The partitions the batch touched.
    touched: Vec<Touch>,
    /// Their top N before it (ranges in `Touch::before`).
    before: Vec<RowRef>,
    /// The changes to emit: kind, row and rank.
    changes: Vec<(RowKind, RowRef, u64)>,
}

/// A partition touched by the batch being processed.
struct Touch {
    partition: u32,
    /// Its top N before the batch: a range of `before`.
    before: std::ops::Range<usize>,
    /// For `Partitions::Orders`: whether it had a row, and the batch row
    /// that replaced it.
    had_row: bool,
    winner: Option<u32>,
}

struct RankOperator {
    config: Rank,
    /// Partition key to dense id.
    keys: Box<dyn GroupValues>,
    key_schema: SchemaRef,
    order: RowConverter,
    partitions: Partitions,
    store: RowStore,
    /// Per partition: the batch that last touched it (high 32 bits) and its
    /// place in that batch's touched list.
    marks: Vec<u64>,
    /// Per partition, the wall clock (ms) when a row last touched it; kept
    /// only with a state TTL.
    touched_at: Vec<i64>,
    /// Number of the batch being processed.
    epoch: u32,
    /// Partitions holding a row.
    occupied: usize,
    /// Buffer: the partition id of each row of a batch.
    ids: Vec<usize>,
    scratch: Scratch,
}

impl RankOperator {
    /// The partition key columns of `data`.
    fn key_columns(&self, data: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let n = data.num_rows();
        if self.config.partition_by.is_empty() {
            return Ok(vec![Arc::new(BooleanArray::from(vec![true; n]))]);
        }
        Ok(self
            .config
            .partition_by
            .iter()
            .map(|e| e.evaluate(data).and_then(|v| v.into_array(n)))
            .collect::<Result<_, _>>()?)
    }

    /// The order keys of `data`.
    fn order_rows(&self, data: &RecordBatch) -> Result<Rows> {
        let n = data.num_rows();
        let columns: Vec<ArrayRef> = if self.config.order_by.is_empty() {
            vec![Arc::new(BooleanArray::from(vec![true; n]))]
        } else {
            self.config
                .order_by
                .iter()
                .map(|(e, _)| e.evaluate(data).and_then(|v| v.into_array(n)))
                .collect::<Result<_, _>>()?
        };
        Ok(self.order.convert_columns(&columns)?)
    }

    /// Interns the partition keys of `data` into `self.ids`, growing the
    /// per-partition vectors.
    fn intern(&mut self, columns: &[ArrayRef]) -> Result<()> {
        self.ids.clear();
        self.keys.intern(columns, &mut self.ids)?;
        let n = self.keys.len();
        if self.partitions.len() < n {
            self.partitions.grow(n);
            self.marks.resize(n, 0);
            if self.config.state_ttl.is_some() {
                self.touched_at.resize(n, 0);
            }
        }
        Ok(())
    }

    /// Starts a batch: a fresh epoch for the marks.
    fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
    }

    /// Deduplication keeping order keys only: each partition's best row of
    /// the batch replaces its row when it ranks before it.
    fn process_orders(&mut self, batch: &ChangeBatch, orders: &Rows) -> Result<Vec<Touch>> {
        let Partitions::Orders(held) = &mut self.partitions else {
            return Ok(vec![]);
        };
        let newest_first = self.config.newest_first_on_ties;
        let mut touched: Vec<Touch> = vec![];
        let tag = (self.epoch as u64) << 32;
        for (i, p) in self.ids.iter().enumerate() {
            if !batch.kind(i).is_addition() {
                continue;
            }
            let mark = &mut self.marks[*p];
            let slot = if *mark >> 32 == tag >> 32 {
                (*mark & 0xffff_ffff) as usize
            } else {
                *mark = tag | touched.len() as u64;
                touched.push(Touch {
                    partition: *p as u32,
                    before: 0..0,
                    had_row: held[*p].is_some(),
                    winner: None,
                });
                touched.len() - 1
            };
            let order = orders.row(i).data();
            let wins = match &held[*p] {
                None => true,
                Some(h) => ranks_before(order, h.bytes(), newest_first),
            };
            if wins {
                held[*p] = Some(OrderKey::new(order));
                touched[slot].winner = Some(i as u32);
            }
        }
        Ok(touched)
    }

    /// The general case: rows inserted into (and retracted from) their
    /// partitions' lists. Returns the touched partitions and their top N
    /// before the batch.
    fn process_rows(
        &mut self,
        batch: &ChangeBatch,
        orders: &Rows,
        fresh: u32,
        touched: &mut Vec<Touch>,
        before: &mut Vec<RowRef>,
    ) -> Result<()> {
        let data = &batch.data;
        let hashes = if self.config.updating_input {
            let mut hashes = vec![0; data.num_rows()];
            datafusion::common::hash_utils::create_hashes(
                data.columns(),
                &row_hasher(),
                &mut hashes,
            )?;
            hashes
        } else {
            vec![]
        };
        let Partitions::Rows(lists) = &mut self.partitions else {
            return Ok(());
        };
        let (limit, updating) = (self.config.limit, self.config.updating_input);
        let newest_first = self.config.newest_first_on_ties;
        for (i, p) in self.ids.iter().enumerate() {
            let list = &mut lists[*p];
            let mark = &mut self.marks[*p];
            if *mark >> 32 != self.epoch as u64 {
                *mark = (self.epoch as u64) << 32;
                let start = before.len();
                before.extend(list.iter().take(limit).map(|h| h.row));
                touched.push(Touch {
                    partition: *p as u32,
                    before: start..before.len(),
                    had_row: !list.is_empty(),
                    winner: None,
                });
            }
            let order = orders.row(i).data();
            if batch.kind(i).is_addition() {
                // A full top N that the row does not beat: nothing to do.
                if !updating
                    && list.len() >= limit
                    && list
                        .last()
                        .is_some_and(|h| !ranks_before(order, h.order.bytes(), newest_first))
                {
                    continue;
                }
                let at =
                    list.partition_point(|h| !ranks_before(order, h.order.bytes(), newest_first));
                if at < limit || updating {
                    let row = RowRef {
                        chunk: fresh,
                        row: i as u32,
                    };
                    self.store.hold(row);
                    list.insert(
                        at,
                        Held {
                            order: OrderKey::new(order),
                            row,
                            hash: hashes.get(i).copied().unwrap_or(0),
                        },
                    );
                    if !updating
                        && list.len() > limit
                        && let Some(out) = list.pop()
                    {
                        self.store.release(out.row);
                    }
                }
            } else if updating {
                // The held row with the same values: among those of equal
                // order keys, by hash, then compared.
                let from = list.partition_point(|h| h.order.bytes() < order);
                let to = list.partition_point(|h| h.order.bytes() <= order);
                let mut found = None;
                for (j, h) in list[from..to].iter().enumerate() {
                    if h.hash == hashes[i] && self.store.equals(h.row, data, i)? {
                        found = Some(from + j);
                        break;
                    }
                }
                if let Some(at) = found {
                    let out = list.remove(at);
                    self.store.release(out.row);
                }
            }
        }
        Ok(())
    }

    /// Rank by rank, what the touched partitions' changes are.
    fn changes(
        &self,
        touched: &[Touch],
        before: &[RowRef],
        changes: &mut Vec<(RowKind, RowRef, u64)>,
    ) {
        let Partitions::Rows(lists) = &self.partitions else {
            return;
        };
        let (limit, offset) = (self.config.limit, self.config.offset);
        for t in touched {
            let old = &before[t.before.clone()];
            let old = &old[old.len().min(offset)..];
            let list = &lists[t.partition as usize];
            let new = &list[list.len().min(offset)..list.len().min(limit)];
            if !self.config.rank_number {
                let left: Vec<(usize, &RowRef)> = old
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| !new.iter().any(|h| h.row == **r))
                    .collect();
                let entered: Vec<(usize, &Held)> = new
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| !old.contains(&h.row))
                    .collect();
                let replaced = limit - offset == 1 && left.len() == 1 && entered.len() == 1;
                for (r, row) in left {
                    let kind = if replaced {
                        RowKind::UpdateBefore
                    } else {
                        RowKind::Delete
                    };
                    changes.push((kind, *row, (offset + r) as u64 + 1));
                }
                for (r, h) in entered {
                    let kind = if replaced {
                        RowKind::UpdateAfter
                    } else {
                        RowKind::Insert
                    };
                    changes.push((kind, h.row, (offset + r) as u64 + 1));
                }
            } else {
                for r in 0..old.len().max(new.len()) {
                    let rank = (offset + r) as u64 + 1;
                    match (old.get(r), new.get(r)) {
                        (Some(o), Some(n)) if *o != n.row => {
                            changes.push((RowKind::UpdateBefore, *o, rank));
                            changes.push((RowKind::UpdateAfter, n.row, rank));
                        }
                        (Some(o), None) => changes.push((RowKind::Delete, *o, rank)),
                        (None, Some(n)) => changes.push((RowKind::Insert, n.row, rank)),
                        _ => {}
                    }
                }
            }
        }
        if !self.config.update_before {
            changes.retain(|(kind, _, _)| *kind != RowKind::UpdateBefore);
        }
    }

    /// The output batch of `rows` (input columns) with their kinds and ranks.
    fn output(&self, rows: RecordBatch, kinds: Vec<i8>, ranks: Vec<u64>) -> Result<ChangeBatch> {
        let mut columns = rows.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from(ranks)));
        let data = crate::batch::conform(&self.config.schema, columns)?;
        Ok(ChangeBatch::with_kinds(data, Int8Array::from(kinds)))
    }

    /// After a batch's changes are out: cuts the batch's chunk down to the
    /// rows that stayed, and compacts the store when it is mostly dead.
    fn settle(&mut self) -> Result<()> {
        let Partitions::Rows(lists) = &mut self.partitions else {
            return Ok(());
        };
        self.store.settle()?;
        if let Some(sparse) = self.store.sparse_chunks() {
            let in_sparse = |h: &&mut Held| sparse.get(h.row.chunk as usize) == Some(&true);
            let held: Vec<RowRef> = lists
                .iter_mut()
                .flatten()
                .filter(in_sparse)
                .map(|h| h.row)
                .collect();
            let moved = self.store.compact(&sparse, &held)?;
            for (h, r) in lists.iter_mut().flatten().filter(in_sparse).zip(moved) {
                h.row = r;
            }
        }
        Ok(())
    }

    /// Forgets partition `p`.
    fn clear(&mut self, p: usize) {
        if !self.partitions.is_occupied(p) {
            return;
        }
        self.occupied -= 1;
        match &mut self.partitions {
            Partitions::Orders(v) => v[p] = None,
            Partitions::Rows(v) => {
                for h in std::mem::take(&mut v[p]) {
                    self.store.release(h.row);
                }
            }
        }
    }
}

#[async_trait]
impl Operator for RankOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    fn processing_timer(&self) -> Option<std::time::Duration> {
        self.config
            .state_ttl
            .map(crate::ops::aggregate::group::ttl_sweep_every)
    }

    /// Forgets the partitions untouched for the TTL, emitting nothing.
    async fn on_processing_time(
        &mut self,
        now: i64,
        ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        if let Some(ttl) = self.config.state_ttl {
            let deadline = now.saturating_sub(ttl.as_millis() as i64);
            for p in 0..self.touched_at.len() {
                if self.touched_at[p] < deadline {
                    self.clear(p);
                }
            }
            self.drop_empty_keys()?;
            ctx.metrics.set_state_entries(self.occupied);
        }
        Ok(())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // State batches start with the partition keys, which the exchange
        // hashes (with none, every row is on subtask 0). Restored at
        // another parallelism, the state comes in one batch per old
        // subtask: restore them as one, since a restore fills a new store.
        let batches = ctx.restored_keyed_state(self.config.partition_by.len())?;
        let Some(first) = batches.first() else {
            return Ok(());
        };
        let all = concat_batches(&first.schema(), &batches)?;
        self.restore_batch(&all)
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let batches = self.state_batch()?.into_iter().collect();
        ctx.save_state(checkpoint, batches)
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        let data = &batch.data;
        if data.num_rows() == 0 {
            return Ok(());
        }
        let keys = self.key_columns(data)?;
        self.intern(&keys)?;
        let orders = self.order_rows(data)?;
        self.next_epoch();
        let out_batches = if let Partitions::Orders(_) = self.partitions {
            let touched = self.process_orders(&batch, &orders)?;
            let (mut winners, mut kinds) = (vec![], vec![]);
            for t in &touched {
                if let Some(i) = t.winner {
                    winners.push(i);
                    kinds.push(if t.had_row {
                        RowKind::UpdateAfter
                    } else {
                        RowKind::Insert
                    } as i8);
                    if !t.had_row {
                        self.occupied += 1;
                    }
                }
            }
            self.touch(&touched);
            if winners.is_empty() {
                vec![]
            } else {
                let ranks = vec![1; winners.len()];
                let rows = take_record_batch(data, &UInt32Array::from(winners))?;
                vec![self.output(rows, kinds, ranks)?]
            }
        } else {
            let fresh = self.store.add(data.clone());
            let mut scratch = std::mem::take(&mut self.scratch);
            let Scratch {
                touched,
                before,
                changes,
            } = &mut scratch;
            self.process_rows(&batch, &orders, fresh, touched, before)?;
            self.changes(touched, before, changes);
            for t in touched.iter() {
                match (t.had_row, self.partitions.is_occupied(t.partition as usize)) {
                    (false, true) => self.occupied += 1,
                    (true, false) => self.occupied -= 1,
                    _ => {}
                }
            }
            self.touch(touched);
            let mut out_batches = vec![];
            for part in changes.chunks(OUTPUT_ROWS) {
                let refs: Vec<RowRef> = part.iter().map(|(_, r, _)| *r).collect();
                let rows = self.store.gather(&refs)?;
                let kinds = part.iter().map(|(k, _, _)| *k as i8).collect();
                let ranks = part.iter().map(|(_, _, r)| *r).collect();
                out_batches.push(self.output(rows, kinds, ranks)?);
            }
            self.settle()?;
            touched.clear();
            before.clear();
            changes.clear();
            self.scratch = scratch;
            out_batches
        };
        ctx.metrics.set_state_entries(self.occupied);
        for b in out_batches {
            out.emit(b).await?;
        }
        Ok(())
    }
}

impl RankOperator {
    /// Records the wall clock on the touched partitions (with a TTL).
    fn touch(&mut self, touched: &[Touch]) {
        if self.touched_at.is_empty() {
            return;
        }
        let now = chrono::Utc::now().timestamp_millis();
        for t in touched {
            self.touched_at[t.partition as usize] = now;
        }
    }
}

#[cfg(test)]
mod tests;

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

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int8Array, UInt32Array, UInt64Array};
use datafusion::arrow::compute::{SortOptions, take_record_batch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;

use super::row_store::{RowRef, RowStore};

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

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
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
            store: RowStore::new(self.input_schema.clone()),
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
        let limit = self.config.limit;
        for t in touched {
            let old = &before[t.before.clone()];
            let list = &lists[t.partition as usize];
            let new = &list[..list.len().min(limit)];
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
                let replaced = limit == 1 && left.len() == 1 && entered.len() == 1;
                for (r, row) in left {
                    let kind = if replaced {
                        RowKind::UpdateBefore
                    } else {
                        RowKind::Delete
                    };
                    changes.push((kind, *row, r as u64 + 1));
                }
                for (r, h) in entered {
                    let kind = if replaced {
                        RowKind::UpdateAfter
                    } else {
                        RowKind::Insert
                    };
                    changes.push((kind, h.row, r as u64 + 1));
                }
            } else {
                for r in 0..old.len().max(new.len()) {
                    let rank = r as u64 + 1;
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
            .map(super::group_aggregate::ttl_sweep_every)
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
        for batch in ctx.restored_state()? {
            self.restore_batch(&batch)?;
        }
        Ok(())
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
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{
        Step, assert_same_less_update_before, assert_snapshot_restore, kv_changes, kv_schema, run,
    };

    fn input() -> SchemaRef {
        kv_schema()
    }

    fn factory(limit: usize, updating_input: bool) -> Rank {
        let schema = input();
        Rank {
            partition_by: vec![col("k", &schema).expect("k")],
            order_by: vec![(
                col("v", &schema).expect("v"),
                SortOptions {
                    descending: true,
                    nulls_first: false,
                },
            )],
            limit,
            newest_first_on_ties: false,
            rank_number: true,
            updating_input,
            update_before: true,
            state_ttl: None,
            input_schema: schema,
            schema: Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("v", DataType::Int64, true),
                Field::new("rn", DataType::UInt64, true),
            ])),
            description: "Rank".into(),
        }
    }

    #[tokio::test]
    async fn a_better_row_shifts_the_ranks_below_it() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 3)]),
            // 9 takes rank 1; 5 moves to 2; 3 drops out; 1 never enters.
            kv_changes(&[(Insert, 1, 9), (Insert, 1, 1)]),
        ];
        let out = run(&factory(2, false), &steps).await;
        assert_eq!(
            out,
            [
                "+I[1, 5, 1]",
                "+I[1, 3, 2]",
                "-U[1, 5, 1]",
                "+U[1, 9, 1]",
                "-U[1, 3, 2]",
                "+U[1, 5, 2]",
            ]
        );
    }

    #[tokio::test]
    async fn a_retracted_top_row_lets_the_next_one_up() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 3), (Insert, 1, 7)]),
            kv_changes(&[(Delete, 1, 7)]),
            kv_changes(&[(Delete, 1, 5), (Delete, 1, 3)]),
        ];
        let out = run(&factory(2, true), &steps).await;
        assert_eq!(
            out,
            [
                "+I[1, 7, 1]",
                "+I[1, 5, 2]",
                "-U[1, 7, 1]",
                "+U[1, 5, 1]",
                "-U[1, 5, 2]",
                "+U[1, 3, 2]",
                "-D[1, 5, 1]",
                "-D[1, 3, 2]",
            ]
        );
    }

    #[tokio::test]
    async fn restored_partitions_give_the_output_of_an_uninterrupted_run() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 3), (Insert, 2, 1)]),
            kv_changes(&[(Insert, 1, 9), (Insert, 2, 4)]),
            kv_changes(&[(Delete, 1, 9), (Insert, 1, 4)]),
        ];
        for updating in [false, true] {
            let steps: Vec<Step> = if updating {
                steps.clone()
            } else {
                steps[..2].to_vec()
            };
            for split in 0..=steps.len() {
                assert_snapshot_restore(&factory(2, updating), &steps, split).await;
            }
        }
    }

    #[tokio::test]
    async fn partitions_untouched_for_the_state_ttl_are_forgotten_silently() {
        use RowKind::*;
        let mut factory = factory(1, false);
        factory.state_ttl = Some(std::time::Duration::from_secs(60));
        let steps = vec![
            kv_changes(&[(Insert, 1, 5)]),
            Step::Clock(chrono::Utc::now().timestamp_millis() + 3_600_000),
            // A lower value ranks first again: the old top row is gone.
            kv_changes(&[(Insert, 1, 2)]),
        ];
        assert_eq!(run(&factory, &steps).await, ["+I[1, 5, 1]", "+I[1, 2, 1]"]);
        // Keeping order keys only, too.
        factory.update_before = false;
        assert_eq!(run(&factory, &steps).await, ["+I[1, 5, 1]", "+I[1, 2, 1]"]);
    }

    #[tokio::test]
    async fn without_the_rank_only_rows_entering_or_leaving_are_emitted() {
        use RowKind::*;
        let mut factory = factory(2, false);
        factory.rank_number = false;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 3)]),
            // 9 enters and 3 leaves; 5 moving from rank 1 to 2 is no change.
            kv_changes(&[(Insert, 1, 9), (Insert, 1, 1)]),
        ];
        let out = run(&factory, &steps).await;
        assert_eq!(
            out,
            ["+I[1, 5, 1]", "+I[1, 3, 2]", "-D[1, 3, 2]", "+I[1, 9, 1]"]
        );
    }

    /// Deterministic pseudo-random (kind-less) rows: few keys, values with
    /// ties, spread over several batches.
    fn shuffled_steps(batches: usize, rows: usize, keys: i64) -> Vec<Step> {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as i64
        };
        (0..batches)
            .map(|_| {
                let rows: Vec<_> = (0..rows)
                    .map(|_| (RowKind::Insert, next(keys), next(20)))
                    .collect();
                kv_changes(&rows)
            })
            .collect()
    }

    #[tokio::test]
    async fn without_update_before_the_output_is_the_same_less_its_retractions() {
        let steps = shuffled_steps(6, 40, 5);
        let mut dropped = 0;
        for limit in [1, 3] {
            for rank_number in [true, false] {
                for newest_first_on_ties in [true, false] {
                    let mut retracting = factory(limit, false);
                    retracting.rank_number = rank_number;
                    retracting.newest_first_on_ties = newest_first_on_ties;
                    let upserting = Rank {
                        update_before: false,
                        ..retracting.clone()
                    };
                    dropped +=
                        assert_same_less_update_before(&retracting, &upserting, &steps).await;
                }
            }
        }
        assert!(dropped > 0);
    }

    #[tokio::test]
    async fn a_deduplication_keeping_order_keys_only_restores_them() {
        let mut factory = factory(1, false);
        factory.update_before = false;
        let steps = shuffled_steps(4, 10, 3);
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory, &steps, split).await;
        }
    }

    #[tokio::test]
    async fn rows_held_across_compactions_come_back_with_their_values() {
        // Each batch puts a rising row at the top of 2,000 churning
        // partitions (pushing out the row two batches old) and one row into
        // a partition of its own that nothing touches again: every chunk
        // keeps one row among 2,000 dead ones, until the store compacts.
        // The last batch tops every partition, so the rows held below come
        // back from the store at rank 2.
        let (churning, batches) = (2_000i64, 40i64);
        let own = |b: i64| 100_000 + b;
        let mut steps = vec![];
        for b in 0..batches {
            let mut rows: Vec<_> = (0..churning).map(|k| (RowKind::Insert, k, b + 1)).collect();
            rows.push((RowKind::Insert, own(b), 7));
            steps.push(kv_changes(&rows));
        }
        let mut rows: Vec<_> = (0..churning).map(|k| (RowKind::Insert, k, 1000)).collect();
        rows.extend((0..batches).map(|b| (RowKind::Insert, own(b), 1000)));
        steps.push(kv_changes(&rows));
        let mut factory = factory(2, false);
        factory.update_before = false;
        let out = run(&factory, &steps).await;
        let last: std::collections::HashSet<&String> = out
            [out.len() - 2 * (churning + batches) as usize..]
            .iter()
            .collect();
        for k in 0..churning {
            assert!(last.contains(&format!("+U[{k}, 1000, 1]")));
            assert!(last.contains(&format!("+U[{k}, {batches}, 2]")));
        }
        for b in 0..batches {
            assert!(last.contains(&format!("+U[{}, 1000, 1]", own(b))));
            assert!(last.contains(&format!("+I[{}, 7, 2]", own(b))));
        }
    }

    #[tokio::test]
    async fn partitions_survive_the_renumbering_that_drops_empty_ones() {
        use RowKind::*;
        let mut factory = factory(1, true);
        factory.state_ttl = Some(std::time::Duration::from_secs(60));
        let inserts: Vec<_> = (0..2000).map(|k| (Insert, k, 5)).collect();
        let deletes: Vec<_> = (0..1500).map(|k| (Delete, k, 5)).collect();
        let steps = vec![
            kv_changes(&inserts),
            kv_changes(&deletes),
            // Nothing expires, but three in four partitions are empty: the
            // sweep renumbers the 500 others.
            Step::Clock(chrono::Utc::now().timestamp_millis() + 1_000),
            kv_changes(&[(Insert, 1999, 9), (Insert, 0, 3)]),
        ];
        let out = run(&factory, &steps).await;
        assert_eq!(
            out[out.len() - 3..],
            ["-U[1999, 5, 1]", "+U[1999, 9, 1]", "+I[0, 3, 1]"]
        );
        for orders_only in [false, true] {
            // Without -U and over append-only input, order keys only.
            let mut factory = factory.clone();
            factory.updating_input = false;
            factory.update_before = !orders_only;
            let steps = vec![
                kv_changes(&inserts),
                Step::Clock(chrono::Utc::now().timestamp_millis() + 3_600_000),
                kv_changes(&[(Insert, 1999, 9), (Insert, 7, 3)]),
                kv_changes(&[(Insert, 7, 4)]),
            ];
            let out = run(&factory, &steps).await;
            let want: &[&str] = if orders_only {
                &["+I[1999, 9, 1]", "+I[7, 3, 1]", "+U[7, 4, 1]"]
            } else {
                &[
                    "+I[1999, 9, 1]",
                    "+I[7, 3, 1]",
                    "-U[7, 3, 1]",
                    "+U[7, 4, 1]",
                ]
            };
            assert_eq!(out[out.len() - want.len()..], *want);
        }
    }
}

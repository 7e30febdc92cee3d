//! `Rank`: unbounded Top-N and deduplication (Flink's rank operators):
//! `ROW_NUMBER() OVER (PARTITION BY k ORDER BY x) .. WHERE rn <= N`.
//!
//! Per partition the rows are kept in order (only the top N when the input
//! never retracts; all of them otherwise, so a retracted row's successor is
//! known). After each batch, the partitions it touched compare their top N
//! before and after, rank by rank: a rank whose row changed emits `-U` of
//! the old row and `+U` of the new (`+I` for a rank newly filled, `-D` for a
//! rank emptied). Rows of equal order keys rank in arrival order, or the
//! newest first for keep-last deduplication.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, AsArray, BinaryArray, Int8Array, UInt64Array};
use datafusion::arrow::compute::{SortOptions, cast};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;
use foldhash::fast::RandomState;

use crate::batch::{ChangeBatch, RowKind};
use crate::error::{EngineError, Result};
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
    /// Partitions untouched this long are forgotten (`table.exec.state.ttl`).
    pub state_ttl: Option<std::time::Duration>,
    /// The input's schema.
    pub input_schema: SchemaRef,
    /// Output: the input columns, then the rank.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for Rank {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let types = |exprs: Vec<(&Arc<dyn PhysicalExpr>, SortOptions)>| -> Result<RowConverter> {
            let mut fields = exprs
                .into_iter()
                .map(|(e, o)| {
                    Ok(SortField::new_with_options(
                        e.data_type(&self.input_schema)?,
                        o,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            if fields.is_empty() {
                fields.push(SortField::new(
                    datafusion::arrow::datatypes::DataType::Boolean,
                ));
            }
            Ok(RowConverter::new(fields)?)
        };
        Ok(Box::new(RankOperator {
            partitions: types(
                self.partition_by
                    .iter()
                    .map(|e| (e, SortOptions::default()))
                    .collect(),
            )?,
            order: types(self.order_by.iter().map(|(e, o)| (e, *o)).collect())?,
            rows: RowConverter::new(
                self.input_schema
                    .fields()
                    .iter()
                    .map(|f| SortField::new(f.data_type().clone()))
                    .collect(),
            )?,
            state: HashMap::default(),
            next_id: 0,
            config: self.clone(),
        }))
    }
}

/// A partition's rows in rank order, and the wall clock (ms) when a row
/// last touched it.
#[derive(Default)]
struct Partition {
    held: Vec<Held>,
    touched_at: i64,
}

/// A row held by a partition.
struct Held {
    /// Identity: the same row keeps it while it stays.
    id: u64,
    order: Box<[u8]>,
    row: Slot,
}

/// A held row's values (row bytes), or, while the batch that brought it is
/// processed, its index there: rows that a later row of the same batch
/// pushes out of the top N are never encoded.
enum Slot {
    Pending(u32),
    Stored(Arc<[u8]>),
}

struct RankOperator {
    config: Rank,
    partitions: RowConverter,
    order: RowConverter,
    rows: RowConverter,
    /// Per partition, its rows in rank order.
    state: HashMap<Box<[u8]>, Partition, RandomState>,
    next_id: u64,
}

impl RankOperator {
    /// Evaluates `exprs` on `data` and encodes them with `converter`.
    fn encode(
        converter: &RowConverter,
        exprs: &[&Arc<dyn PhysicalExpr>],
        data: &RecordBatch,
    ) -> Result<datafusion::arrow::row::Rows> {
        let n = data.num_rows();
        let columns: Vec<ArrayRef> = if exprs.is_empty() {
            vec![Arc::new(datafusion::arrow::array::BooleanArray::from(
                vec![true; n],
            ))]
        } else {
            exprs
                .iter()
                .map(|e| e.evaluate(data).and_then(|v| v.into_array(n)))
                .collect::<Result<_, _>>()?
        };
        Ok(converter.convert_columns(&columns)?)
    }

    /// The top N of a partition: ids and row bytes (all stored).
    fn top(&self, key: &[u8]) -> Vec<(u64, Arc<[u8]>)> {
        self.state
            .get(key)
            .map(|p| {
                p.held
                    .iter()
                    .take(self.config.limit)
                    .filter_map(|h| match &h.row {
                        Slot::Stored(r) => Some((h.id, r.clone())),
                        Slot::Pending(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl RankOperator {
    /// Every partition's held rows, in rank order: partition key, order
    /// key and row bytes.
    fn state_batch(&self) -> Result<Option<RecordBatch>> {
        let (mut keys, mut orders, mut rows) = (vec![], vec![], vec![]);
        for (key, partition) in &self.state {
            for h in &partition.held {
                if let Slot::Stored(r) = &h.row {
                    keys.push(key.as_ref());
                    orders.push(h.order.as_ref());
                    rows.push(r.as_ref());
                }
            }
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(BinaryArray::from_iter_values(keys)),
            Arc::new(BinaryArray::from_iter_values(orders)),
            Arc::new(BinaryArray::from_iter_values(rows)),
        ];
        Ok(Some(super::accumulator_state::state_batch(columns)?))
    }

    /// Appends the rows of a batch written by `state_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let bad = || EngineError::State("rank state has an unexpected layout".into());
        let column = |i: usize| {
            batch
                .columns()
                .get(i)
                .and_then(|c| c.as_binary_opt::<i32>())
                .ok_or_else(bad)
        };
        let (keys, orders, rows) = (column(0)?, column(1)?, column(2)?);
        for i in 0..batch.num_rows() {
            self.next_id += 1;
            let partition = self.state.entry(keys.value(i).into()).or_default();
            partition.touched_at = chrono::Utc::now().timestamp_millis();
            partition.held.push(Held {
                id: self.next_id,
                order: orders.value(i).into(),
                row: Slot::Stored(Arc::from(rows.value(i))),
            });
        }
        Ok(())
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
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        if let Some(ttl) = self.config.state_ttl {
            let deadline = now.saturating_sub(ttl.as_millis() as i64);
            self.state.retain(|_, p| p.touched_at >= deadline);
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
        let partition_exprs: Vec<_> = self.config.partition_by.iter().collect();
        let order_exprs: Vec<_> = self.config.order_by.iter().map(|(e, _)| e).collect();
        let keys = Self::encode(&self.partitions, &partition_exprs, data)?;
        let orders = Self::encode(&self.order, &order_exprs, data)?;
        // Retractions match held rows by value: over an updating input every
        // row is encoded at once.
        let encoded = if self.config.updating_input {
            Some(self.rows.convert_columns(data.columns())?)
        } else {
            None
        };
        let now = chrono::Utc::now().timestamp_millis();
        // The top N of each touched partition before the batch.
        let limit = self.config.limit;
        let mut before: Vec<(&[u8], Vec<(u64, Arc<[u8]>)>)> = vec![];
        let mut seen: HashMap<&[u8], (), RandomState> = HashMap::default();
        for i in 0..data.num_rows() {
            let key = keys.row(i).data();
            if seen.insert(key, ()).is_none() {
                before.push((key, self.top(key)));
            }
        }
        for i in 0..data.num_rows() {
            let key = keys.row(i).data();
            if batch.kind(i).is_addition() {
                let order = orders.row(i).data();
                let newest_first = self.config.newest_first_on_ties;
                if !self.state.contains_key(key) {
                    self.state.insert(key.into(), Partition::default());
                }
                let Some(partition) = self.state.get_mut(key) else {
                    continue;
                };
                partition.touched_at = now;
                let list = &mut partition.held;
                let at = list.partition_point(|h| match h.order.as_ref().cmp(order) {
                    std::cmp::Ordering::Equal => !newest_first,
                    o => o.is_lt(),
                });
                if at < limit || self.config.updating_input {
                    self.next_id += 1;
                    let row = match &encoded {
                        Some(rows) => Slot::Stored(Arc::from(rows.row(i).data())),
                        None => Slot::Pending(i as u32),
                    };
                    list.insert(
                        at,
                        Held {
                            id: self.next_id,
                            order: order.into(),
                            row,
                        },
                    );
                    if !self.config.updating_input {
                        list.truncate(limit);
                    }
                }
            } else if let (Some(partition), Some(rows)) = (self.state.get_mut(key), &encoded) {
                partition.touched_at = now;
                let list = &mut partition.held;
                let row = rows.row(i).data();
                if let Some(at) = list
                    .iter()
                    .position(|h| matches!(&h.row, Slot::Stored(r) if r.as_ref() == row))
                {
                    list.remove(at);
                }
            }
        }
        // Encode the rows of this batch that stayed.
        let mut pending: Vec<u32> = vec![];
        for (key, _) in &before {
            if let Some(list) = self.state.get(*key).map(|p| &p.held) {
                pending.extend(list.iter().filter_map(|h| match h.row {
                    Slot::Pending(i) => Some(i),
                    Slot::Stored(_) => None,
                }));
            }
        }
        if !pending.is_empty() {
            let taken = datafusion::arrow::compute::take_record_batch(
                data,
                &datafusion::arrow::array::UInt32Array::from(pending.clone()),
            )?;
            let rows = self.rows.convert_columns(taken.columns())?;
            // The encoded row of each batch row that stayed, by batch index.
            let mut stored: Vec<Option<Arc<[u8]>>> = vec![None; data.num_rows()];
            for (j, i) in pending.iter().enumerate() {
                stored[*i as usize] = Some(Arc::from(rows.row(j).data()));
            }
            for (key, _) in &before {
                if let Some(list) = self.state.get_mut(*key).map(|p| &mut p.held) {
                    for h in list.iter_mut() {
                        if let Slot::Pending(i) = h.row
                            && let Some(r) = stored[i as usize].take()
                        {
                            h.row = Slot::Stored(r);
                        }
                    }
                }
            }
        }
        // Rank by rank, what changed.
        let mut changes: Vec<(RowKind, Arc<[u8]>, u64)> = vec![];
        for (key, old) in before {
            let new: &[Held] = self
                .state
                .get(key)
                .map(|p| &p.held[..p.held.len().min(limit)])
                .unwrap_or_default();
            let stored = |h: &Held| match &h.row {
                Slot::Stored(r) => Some(r.clone()),
                Slot::Pending(_) => None,
            };
            if !self.config.rank_number {
                let (left, entered): (Vec<_>, Vec<_>) = (
                    old.iter()
                        .enumerate()
                        .filter(|(_, (id, _))| !new.iter().any(|h| h.id == *id))
                        .collect(),
                    new.iter()
                        .enumerate()
                        .filter(|(_, h)| !old.iter().any(|(id, _)| *id == h.id))
                        .collect(),
                );
                let replaced = limit == 1 && left.len() == 1 && entered.len() == 1;
                for (r, (_, row)) in left {
                    let kind = if replaced {
                        RowKind::UpdateBefore
                    } else {
                        RowKind::Delete
                    };
                    changes.push((kind, row.clone(), r as u64 + 1));
                }
                for (r, h) in entered {
                    let kind = if replaced {
                        RowKind::UpdateAfter
                    } else {
                        RowKind::Insert
                    };
                    if let Some(row) = stored(h) {
                        changes.push((kind, row, r as u64 + 1));
                    }
                }
            } else {
                for r in 0..old.len().max(new.len()) {
                    let rank = r as u64 + 1;
                    match (old.get(r), new.get(r)) {
                        (Some(o), Some(n)) if o.0 != n.id => {
                            changes.push((RowKind::UpdateBefore, o.1.clone(), rank));
                            if let Some(row) = stored(n) {
                                changes.push((RowKind::UpdateAfter, row, rank));
                            }
                        }
                        (Some(o), None) => changes.push((RowKind::Delete, o.1.clone(), rank)),
                        (None, Some(n)) => {
                            if let Some(row) = stored(n) {
                                changes.push((RowKind::Insert, row, rank));
                            }
                        }
                        _ => {}
                    }
                }
            }
            if self.state.get(key).is_some_and(|p| p.held.is_empty()) {
                self.state.remove(key);
            }
        }
        ctx.metrics.set_state_entries(self.state.len());
        if changes.is_empty() {
            return Ok(());
        }
        let parser = self.rows.parser();
        let mut columns = self
            .rows
            .convert_rows(changes.iter().map(|(_, r, _)| parser.parse(r)))?;
        columns.push(Arc::new(UInt64Array::from_iter_values(
            changes.iter().map(|(_, _, rank)| *rank),
        )));
        let columns = columns
            .into_iter()
            .zip(self.config.schema.fields())
            .map(|(c, f)| cast(&c, f.data_type()))
            .collect::<Result<Vec<_>, _>>()?;
        let kinds = Int8Array::from_iter_values(changes.iter().map(|(k, _, _)| *k as i8));
        let data = RecordBatch::try_new(self.config.schema.clone(), columns)?;
        out.emit(ChangeBatch::with_kinds(data, kinds)).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{Step, assert_snapshot_restore, kv_changes, kv_schema, run};

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
        let out = run(&factory, &steps).await;
        assert_eq!(out, ["+I[1, 5, 1]", "+I[1, 2, 1]"]);
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
}

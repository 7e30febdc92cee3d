//! `GroupAggregate`: an unbounded `GROUP BY` (Flink's group aggregation).
//! It keeps every key's accumulators and the result it last emitted, and
//! after each input batch emits the changes of the keys the batch touched:
//! `+I` for a new key, `-U`/`+U` for a changed result, `-D` for a key whose
//! rows were all retracted; an unchanged result emits nothing. So a key
//! changes at most once per batch, however many of its rows the batch has.
//!
//! Input: columns `0..key_count` are the group keys; rows may be updates
//! (`-U`/`-D` retract). Keys have dense indices; each call keeps its state
//! for all keys ([`super::group_state`]): typed vectors for `COUNT`, `SUM`,
//! `AVG`, `MIN`, `MAX` of numbers, updated for the whole batch at once;
//! otherwise DataFusion accumulators per key, or, where they must retract
//! and cannot (`MIN`, `MAX`, `COUNT(DISTINCT ..)` over updates), the
//! multiset of their arguments, so a retracted maximum gives the next
//! largest. Results are compared as row bytes.

use std::collections::HashMap;

use async_trait::async_trait;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, BinaryArray, Int8Array, Int64Array, StructArray, UInt32Array,
};
use datafusion::arrow::compute::{cast, interleave};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::datatypes::{Field, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use foldhash::fast::RandomState;

use crate::batch::{ChangeBatch, RowKind};
use crate::error::{EngineError, Result};
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::ops::aggregate::group_state::{GroupState, group_state, kept_rows};
use crate::ops::aggregate::{AggregateCall, BatchArguments, GroupKeys};

/// Configuration of a group aggregation (the factory).
#[derive(Clone)]
pub struct GroupAggregate {
    /// Input columns `0..key_count` are the group keys.
    pub key_count: usize,
    /// The aggregates, in output order after the keys.
    pub calls: Vec<AggregateCall>,
    /// Whether the input may retract rows.
    pub updating_input: bool,
    /// Whether to emit `-U` before each `+U`; not when every consumer
    /// applies `+U` as an upsert (see `JobGraph::settle_update_before`).
    pub update_before: bool,
    /// Keys untouched this long are forgotten (`table.exec.state.ttl`).
    pub state_ttl: Option<std::time::Duration>,
    /// The input's schema (the calls' arguments are evaluated on it).
    pub input_schema: SchemaRef,
    /// Output: the keys, then one column per aggregate.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for GroupAggregate {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn without_update_before(&self) -> Option<Arc<dyn OperatorFactory>> {
        Some(Arc::new(GroupAggregate {
            update_before: false,
            ..self.clone()
        }))
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let states = self
            .calls
            .iter()
            .map(|c| group_state(c, &self.input_schema, self.updating_input))
            .collect::<Result<Vec<_>>>()?;
        let mut fields: Vec<SortField> = self.schema.fields()[self.key_count..]
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        if fields.is_empty() {
            fields.push(SortField::new(
                datafusion::arrow::datatypes::DataType::Boolean,
            ));
        }
        let values = RowConverter::new(fields)?;
        Ok(Box::new(GroupAggregateOperator {
            keys: GroupKeys::new(&self.schema, (0..self.key_count).collect())?,
            index: HashMap::default(),
            free: vec![],
            key_of: vec![],
            rows: vec![],
            emitted: vec![],
            seen: vec![],
            touched_at: vec![],
            batch_no: 0,
            states,
            values,
            config: self.clone(),
        }))
    }
}

struct GroupAggregateOperator {
    config: GroupAggregate,
    keys: GroupKeys,
    /// Key bytes to dense group index.
    index: HashMap<Box<[u8]>, usize, RandomState>,
    /// Group indices of deleted keys, to reuse.
    free: Vec<usize>,
    /// Per group: its key, its rows added less retracted, the results it
    /// last emitted (as row bytes), the batch that last touched it.
    key_of: Vec<Box<[u8]>>,
    rows: Vec<i64>,
    emitted: Vec<Option<OwnedRow>>,
    seen: Vec<u64>,
    /// Per group, the wall clock (ms) when a row last touched it.
    touched_at: Vec<i64>,
    batch_no: u64,
    /// Per call, its state for all groups.
    states: Vec<Box<dyn GroupState>>,
    /// Encodes result rows, to compare them and keep the emitted ones.
    values: RowConverter,
}

/// How often to look for expired keys: a tenth of the TTL, between 100 ms
/// and 10 s.
pub fn ttl_sweep_every(ttl: std::time::Duration) -> std::time::Duration {
    (ttl / 10).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(10),
    )
}

impl GroupAggregateOperator {
    /// Forgets group `g`: its key, rows, emitted results and states.
    fn forget(&mut self, g: usize) -> Result<()> {
        let key = std::mem::take(&mut self.key_of[g]);
        self.index.remove(&key);
        self.rows[g] = 0;
        self.emitted[g] = None;
        for s in self.states.iter_mut() {
            s.reset(g)?;
        }
        self.free.push(g);
        Ok(())
    }

    /// The group of `key`, added if new.
    fn group(&mut self, key: &[u8]) -> usize {
        if let Some(g) = self.index.get(key) {
            return *g;
        }
        let g = match self.free.pop() {
            Some(g) => {
                self.key_of[g] = key.into();
                g
            }
            None => {
                self.key_of.push(key.into());
                self.rows.push(0);
                self.emitted.push(None);
                self.seen.push(0);
                self.touched_at.push(0);
                self.key_of.len() - 1
            }
        };
        self.index.insert(key.into(), g);
        g
    }
}

#[async_trait]
impl Operator for GroupAggregateOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    fn processing_timer(&self) -> Option<std::time::Duration> {
        self.config.state_ttl.map(ttl_sweep_every)
    }

    /// Forgets the keys untouched for the TTL, emitting nothing (as Flink).
    async fn on_processing_time(
        &mut self,
        now: i64,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        let Some(ttl) = self.config.state_ttl else {
            return Ok(());
        };
        let deadline = now.saturating_sub(ttl.as_millis() as i64);
        let expired: Vec<usize> = self
            .index
            .values()
            .copied()
            .filter(|g| self.touched_at[*g] < deadline)
            .collect();
        for g in expired {
            self.forget(g)?;
        }
        Ok(())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // State batches start with the group keys, which the exchange
        // hashes (without keys, a global aggregation: all on subtask 0).
        for batch in ctx.restored_keyed_state(self.config.key_count)? {
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
        let n = data.num_rows();
        self.batch_no += 1;
        let key_rows = self.keys.rows(data)?;
        let mut groups = Vec::with_capacity(n);
        let mut signs = Vec::with_capacity(n);
        // The keys the batch touched, in order of first appearance.
        let mut touched = vec![];
        let now = chrono::Utc::now().timestamp_millis();
        for i in 0..n {
            let g = self.group(key_rows.row(i).data());
            self.touched_at[g] = now;
            let sign: i8 = if batch.kind(i).is_addition() { 1 } else { -1 };
            self.rows[g] += i64::from(sign);
            if self.seen[g] != self.batch_no {
                self.seen[g] = self.batch_no;
                touched.push(g);
            }
            groups.push(g);
            signs.push(sign);
        }
        let total = self.key_of.len();
        let arguments = BatchArguments::evaluate(&self.config.calls, data)?;
        for (c, state) in self.states.iter_mut().enumerate() {
            let (args, mask) = arguments.of(c);
            if mask.is_none_or(|m| m.true_count() == n) {
                state.update(args, &groups, &signs, total)?;
                continue;
            }
            let kept = kept_rows(mask, n);
            let rows = UInt32Array::from(kept.clone());
            let args = args
                .iter()
                .map(|a| datafusion::arrow::compute::take(a.as_ref(), &rows, None))
                .collect::<Result<Vec<_>, _>>()?;
            let kept_groups: Vec<usize> = kept.iter().map(|i| groups[*i as usize]).collect();
            let kept_signs: Vec<i8> = kept.iter().map(|i| signs[*i as usize]).collect();
            state.update(&args, &kept_groups, &kept_signs, total)?;
        }
        // The results of the keys that still have rows.
        let live: Vec<usize> = touched
            .iter()
            .copied()
            .filter(|g| self.rows[*g] > 0)
            .collect();
        let results = self
            .states
            .iter_mut()
            .map(|s| s.evaluate(&live))
            .collect::<Result<Vec<_>>>()?;
        // With no aggregate (SELECT DISTINCT), a constant stands for the result.
        let encoded = if results.is_empty() {
            vec![
                std::sync::Arc::new(datafusion::arrow::array::BooleanArray::from(vec![
                    true;
                    live.len()
                ])) as datafusion::arrow::array::ArrayRef,
            ]
        } else {
            results.clone()
        };
        let new_rows = self.values.convert_columns(&encoded)?;
        // Output rows: (kind, group, old result or new result i).
        let mut out_rows: Vec<(RowKind, usize, Source)> = vec![];
        let mut next_live = 0;
        for &g in &touched {
            let new = if self.rows[g] > 0 {
                next_live += 1;
                Some(next_live - 1)
            } else {
                None
            };
            match (&self.emitted[g], new) {
                (None, Some(i)) => out_rows.push((RowKind::Insert, g, Source::New(i))),
                (Some(_), None) => out_rows.push((RowKind::Delete, g, Source::Old)),
                (Some(old), Some(i)) if old.row() != new_rows.row(i) => {
                    if self.config.update_before {
                        out_rows.push((RowKind::UpdateBefore, g, Source::Old));
                    }
                    out_rows.push((RowKind::UpdateAfter, g, Source::New(i)));
                }
                _ => {}
            }
        }
        if !out_rows.is_empty() {
            // Old results (emitted rows) as columns, then each output row
            // picked from them or the new results.
            let olds: Vec<usize> = out_rows
                .iter()
                .filter(|(_, _, s)| matches!(s, Source::Old))
                .map(|(_, g, _)| *g)
                .collect();
            let old_columns = self.values.convert_rows(
                olds.iter()
                    .filter_map(|g| self.emitted[*g].as_ref().map(|r| r.row())),
            )?;
            let mut next_old = 0;
            let picks: Vec<(usize, usize)> = out_rows
                .iter()
                .map(|(_, _, s)| match s {
                    Source::New(i) => (1, *i),
                    Source::Old => {
                        next_old += 1;
                        (0, next_old - 1)
                    }
                })
                .collect();
            let mut columns = self
                .keys
                .columns(out_rows.iter().map(|(_, g, _)| self.key_of[*g].as_ref()))?;
            for (c, new) in results.iter().enumerate() {
                let column = interleave(&[old_columns[c].as_ref(), new.as_ref()], &picks)?;
                let field = self.config.schema.field(self.config.key_count + c);
                columns.push(cast(&column, field.data_type())?);
            }
            let kinds = Int8Array::from_iter_values(out_rows.iter().map(|(k, _, _)| *k as i8));
            let data = RecordBatch::try_new(self.config.schema.clone(), columns)?;
            out.emit(ChangeBatch::with_kinds(data, kinds)).await?;
        }
        // Remember what was emitted; forget emptied keys.
        for (kind, g, source) in out_rows {
            match (kind, source) {
                (RowKind::Delete, _) => {
                    self.emitted[g] = None;
                }
                (_, Source::New(i)) => self.emitted[g] = Some(new_rows.row(i).owned()),
                _ => {}
            }
        }
        for g in touched {
            if self.rows[g] <= 0 && self.emitted[g].is_none() {
                self.forget(g)?;
            }
        }
        ctx.metrics.set_state_entries(self.index.len());
        Ok(())
    }
}

impl GroupAggregateOperator {
    /// Every key's state as one batch: the key columns (as the input's,
    /// so that a restore at another parallelism hashes them as the
    /// exchange does), rows, the emitted results (row bytes), then one
    /// struct column per call.
    fn state_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut groups: Vec<usize> = self.index.values().copied().collect();
        if groups.is_empty() {
            return Ok(None);
        }
        groups.sort_unstable();
        let mut columns = self
            .keys
            .columns(groups.iter().map(|g| self.key_of[*g].as_ref()))?;
        columns.push(Arc::new(Int64Array::from_iter_values(
            groups.iter().map(|g| self.rows[*g]),
        )));
        columns.push(Arc::new(BinaryArray::from_iter(groups.iter().map(|g| {
            self.emitted[*g].as_ref().map(|r| r.row().data().to_vec())
        }))));
        for state in self.states.iter_mut() {
            let parts = state.snapshot(&groups)?;
            let fields: Vec<Field> = parts
                .iter()
                .enumerate()
                .map(|(i, a)| Field::new(format!("s{i}"), a.data_type().clone(), true))
                .collect();
            columns.push(Arc::new(if parts.is_empty() {
                StructArray::new_empty_fields(groups.len(), None)
            } else {
                StructArray::try_new(fields.into(), parts, None)?
            }));
        }
        Ok(Some(crate::ops::aggregate::accumulator_state::state_batch(
            columns,
        )?))
    }

    /// Adds the keys of a batch written by `state_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let bad = || EngineError::State("group aggregation state has an unexpected layout".into());
        let k = self.config.key_count;
        if batch.num_columns() != k + 2 + self.states.len() {
            return Err(bad());
        }
        let keys = self.keys.rows(batch).map_err(|_| bad())?;
        let rows = batch
            .column(k)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(bad)?;
        let emitted = batch.column(k + 1).as_binary_opt::<i32>().ok_or_else(bad)?;
        let parser = self.values.parser();
        let mut groups = Vec::with_capacity(batch.num_rows());
        let now = chrono::Utc::now().timestamp_millis();
        for i in 0..batch.num_rows() {
            let g = self.group(keys.row(i).data());
            self.touched_at[g] = now;
            self.rows[g] = rows.value(i);
            self.emitted[g] = emitted
                .is_valid(i)
                .then(|| parser.parse(emitted.value(i)).owned());
            groups.push(g);
        }
        let total = self.key_of.len();
        for (c, state) in self.states.iter_mut().enumerate() {
            let parts = batch.column(k + 2 + c).as_struct_opt().ok_or_else(bad)?;
            state.restore(parts.columns(), &groups, total)?;
        }
        Ok(())
    }
}

/// Where an output row's results come from.
#[derive(Clone, Copy)]
enum Source {
    /// The results the key emitted before.
    Old,
    /// Row `i` of the new results.
    New(usize),
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{
        Rescale, Step, assert_rescale_restore, assert_same_less_update_before,
        assert_snapshot_restore, kv_changes, kv_schema, run,
    };

    fn input() -> SchemaRef {
        kv_schema()
    }

    fn factory(updating_input: bool) -> GroupAggregate {
        let schema = input();
        let call = |f: Arc<datafusion::logical_expr::AggregateUDF>, name: &str| AggregateCall {
            function: Arc::new(
                AggregateExprBuilder::new(f, vec![col("v", &schema).expect("column")])
                    .schema(schema.clone())
                    .alias(name)
                    .build()
                    .expect("aggregate"),
            ),
            filter: None,
        };
        GroupAggregate {
            key_count: 1,
            calls: vec![
                call(datafusion::functions_aggregate::sum::sum_udaf(), "s"),
                call(datafusion::functions_aggregate::min_max::max_udaf(), "m"),
            ],
            updating_input,
            update_before: true,
            state_ttl: None,
            input_schema: input(),
            schema: Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("s", DataType::Int64, true),
                Field::new("m", DataType::Int64, true),
            ])),
            description: "GroupAggregate".into(),
        }
    }

    #[tokio::test]
    async fn one_change_per_key_and_batch_and_none_when_unchanged() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 7), (Insert, 2, 1)]),
            // Key 2 gets a row of 0: its sum and max stay.
            kv_changes(&[(Insert, 1, 1), (Insert, 2, 0), (Insert, 2, 0)]),
        ];
        let out = run(&factory(false), &steps).await;
        assert_eq!(
            out,
            [
                "+I[1, 12, 7]",
                "+I[2, 1, 1]",
                "-U[1, 12, 7]",
                "+U[1, 13, 7]",
            ]
        );
    }

    #[tokio::test]
    async fn a_retracted_maximum_gives_the_next_and_an_emptied_key_is_deleted() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 9), (Insert, 2, 3)]),
            kv_changes(&[(UpdateBefore, 1, 9)]),
            kv_changes(&[(Delete, 2, 3), (Delete, 1, 5)]),
        ];
        let out = run(&factory(true), &steps).await;
        assert_eq!(
            out,
            [
                "+I[1, 14, 9]",
                "+I[2, 3, 3]",
                "-U[1, 14, 9]",
                "+U[1, 5, 5]",
                "-D[2, 3, 3]",
                "-D[1, 5, 5]",
            ]
        );
    }

    #[tokio::test]
    async fn restored_state_gives_the_output_of_an_uninterrupted_run() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 9), (Insert, 2, 3)]),
            kv_changes(&[(Insert, 2, 4), (Insert, 3, 1)]),
            kv_changes(&[(UpdateBefore, 1, 9), (Insert, 1, 2)]),
            kv_changes(&[(Delete, 2, 3), (Delete, 3, 1), (Insert, 4, 4)]),
        ];
        for updating in [false, true] {
            // Without updates in the input, the retractions are dropped.
            let steps: Vec<Step> = if updating {
                steps.clone()
            } else {
                steps[..2].to_vec()
            };
            for split in 0..=steps.len() {
                assert_snapshot_restore(&factory(updating), &steps, split).await;
            }
        }
    }

    #[tokio::test]
    async fn restored_at_another_parallelism_each_subtask_continues_the_keys_routed_to_it() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[
                (Insert, 1, 5),
                (Insert, 2, 3),
                (Insert, 3, 1),
                (Insert, 4, 4),
                (Insert, 5, 2),
                (Insert, 6, 6),
            ]),
            kv_changes(&[
                (Insert, 1, 9),
                (Insert, 4, 1),
                (Insert, 7, 7),
                (Insert, 9, 1),
            ]),
            // Every key restored changes after the snapshot: from the
            // restored sums and maxima, or it would emit +I.
            kv_changes(&[
                (UpdateBefore, 1, 9),
                (Insert, 2, 8),
                (Insert, 3, 3),
                (Delete, 4, 4),
                (Insert, 5, 1),
                (Insert, 6, 1),
                (Insert, 8, 2),
            ]),
            kv_changes(&[
                (Delete, 7, 7),
                (Insert, 1, 1),
                (Delete, 4, 1),
                (Insert, 9, 4),
                (Insert, 10, 3),
                (Insert, 11, 5),
            ]),
        ];
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            let rescale = Rescale {
                keys: &[&[0]],
                from,
                to,
            };
            assert_rescale_restore(&factory(true), &steps, 2, rescale).await;
        }
    }

    #[tokio::test]
    async fn a_global_aggregation_restores_on_subtask_0_where_all_its_rows_go() {
        use RowKind::*;
        let global = GroupAggregate {
            key_count: 0,
            schema: Arc::new(Schema::new(vec![
                Field::new("s", DataType::Int64, true),
                Field::new("m", DataType::Int64, true),
            ])),
            ..factory(true)
        };
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 2, 3)]),
            kv_changes(&[(Insert, 3, 9), (Delete, 1, 5)]),
            kv_changes(&[(Insert, 4, 1), (Delete, 3, 9)]),
        ];
        for split in 0..=steps.len() {
            assert_snapshot_restore(&global, &steps, split).await;
        }
        // No keys: a Single exchange, every row on subtask 0.
        let rescale = Rescale {
            keys: &[&[]],
            from: 2,
            to: 1,
        };
        assert_rescale_restore(&global, &steps, 1, rescale).await;
    }

    #[tokio::test]
    async fn restored_accumulators_per_key_continue() {
        use RowKind::*;
        let schema = input();
        let distinct = AggregateExprBuilder::new(
            datafusion::functions_aggregate::count::count_udaf(),
            vec![col("v", &schema).expect("column")],
        )
        .schema(schema.clone())
        .alias("d")
        .distinct()
        .build()
        .expect("count distinct");
        let factory = GroupAggregate {
            key_count: 1,
            calls: vec![AggregateCall {
                function: Arc::new(distinct),
                filter: None,
            }],
            updating_input: false,
            update_before: true,
            state_ttl: None,
            input_schema: schema,
            schema: Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("d", DataType::Int64, true),
            ])),
            description: "GroupAggregate".into(),
        };
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 5), (Insert, 2, 3)]),
            kv_changes(&[(Insert, 1, 6), (Insert, 2, 3)]),
            kv_changes(&[(Insert, 1, 5), (Insert, 1, 7)]),
        ];
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory, &steps, split).await;
        }
    }

    #[tokio::test]
    async fn keys_untouched_for_the_state_ttl_are_forgotten_silently() {
        use RowKind::*;
        let mut factory = factory(false);
        factory.state_ttl = Some(std::time::Duration::from_secs(60));
        let steps = vec![
            kv_changes(&[(Insert, 1, 5)]),
            // An hour passes: nothing comes out, the key starts over.
            Step::Clock(chrono::Utc::now().timestamp_millis() + 3_600_000),
            kv_changes(&[(Insert, 1, 2)]),
        ];
        let out = run(&factory, &steps).await;
        assert_eq!(out, ["+I[1, 5, 5]", "+I[1, 2, 2]"]);
    }

    #[tokio::test]
    async fn without_update_before_the_output_is_the_same_less_its_retractions() {
        use RowKind::*;
        let steps = vec![
            kv_changes(&[(Insert, 1, 5), (Insert, 2, 3)]),
            kv_changes(&[(Insert, 1, 9), (Insert, 2, 3)]),
            kv_changes(&[(Delete, 2, 3), (Delete, 1, 9), (Insert, 3, 1)]),
            kv_changes(&[(Delete, 2, 3)]),
        ];
        let retracting = factory(true);
        let upserting = GroupAggregate {
            update_before: false,
            ..retracting.clone()
        };
        assert!(assert_same_less_update_before(&retracting, &upserting, &steps).await > 0);
    }
}

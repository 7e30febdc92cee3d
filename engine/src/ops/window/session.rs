//! `SessionAggregate`: Flink's SESSION window aggregation. Per partition
//! key, every row opens a session `[ts, ts + gap)`; sessions that touch are
//! merged (their accumulator states merged); a session's result is emitted
//! once the watermark passes its end.
//!
//! Input: columns `0..key_count` are the group keys, among them the
//! window's start (the row time), end and, optionally, time; the other keys
//! partition the sessions.

use std::collections::HashMap;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::OwnedRow;
use datafusion::logical_expr::Accumulator;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::late::Late;
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::ops::aggregate::accumulator_state;
use crate::ops::aggregate::{
    AggregateCall, BatchArguments, FiredWindows, GroupKeys, WindowColumns, new_accumulators,
};
use crate::ops::window::buffer::{fired, millis};

/// Configuration of a session window aggregation (the factory).
#[derive(Clone)]
pub struct SessionAggregate {
    /// Input columns `0..key_count` are the group keys.
    pub key_count: usize,
    /// The window columns among them.
    pub windows: WindowColumns,
    /// The input column holding the row time (grouped by as `window_start`).
    pub row_time: usize,
    /// Milliseconds of inactivity that close a session.
    pub gap_ms: i64,
    /// The aggregates, in output order after the keys.
    pub calls: Vec<AggregateCall>,
    /// Output: the keys, then one column per aggregate.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl SessionAggregate {
    /// The keys partitioning the sessions: the group keys other than the
    /// window columns, which the planner's exchange hashes.
    pub fn partition_columns(&self) -> Vec<usize> {
        (0..self.key_count)
            .filter(|i| !self.windows.contains(*i))
            .collect()
    }
}

impl OperatorFactory for SessionAggregate {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(SessionAggregateOperator {
            config: self.clone(),
            keys: GroupKeys::new(&self.schema, self.partition_columns())?,
            sessions: HashMap::new(),
            watermark: MIN_WATERMARK,
        }))
    }
}

struct Session {
    start: i64,
    end: i64,
    accumulators: Vec<Box<dyn Accumulator>>,
}

struct SessionAggregateOperator {
    config: SessionAggregate,
    /// The keys partitioning the sessions.
    keys: GroupKeys,
    sessions: HashMap<OwnedRow, Vec<Session>>,
    watermark: i64,
}

/// Moves the state of `from`'s accumulators into `into`'s.
fn merge_into(into: &mut Session, from: &mut Session) -> Result<()> {
    for (a, b) in into
        .accumulators
        .iter_mut()
        .zip(from.accumulators.iter_mut())
    {
        let state: Vec<ArrayRef> = b
            .state()?
            .into_iter()
            .map(|v| v.to_array())
            .collect::<Result<_, _>>()?;
        a.merge_batch(&state)?;
    }
    into.start = into.start.min(from.start);
    into.end = into.end.max(from.end);
    Ok(())
}

impl SessionAggregateOperator {
    /// Adds a session (a run of touching rows) and merges every stored
    /// session it touches.
    fn add(&mut self, key: OwnedRow, mut session: Session) -> Result<()> {
        let list = self.sessions.entry(key).or_default();
        let mut i = 0;
        while i < list.len() {
            // Flink's sessions merge when they intersect, ends included.
            if list[i].start <= session.end && list[i].end >= session.start {
                let mut other = list.swap_remove(i);
                merge_into(&mut session, &mut other)?;
            } else {
                i += 1;
            }
        }
        list.push(session);
        Ok(())
    }

    fn fire(&mut self, watermark: i64) -> Result<Option<RecordBatch>> {
        let mut done: Vec<(OwnedRow, Session)> = vec![];
        for (key, list) in self.sessions.iter_mut() {
            let mut i = 0;
            while i < list.len() {
                if fired(list[i].end, watermark) {
                    done.push((key.clone(), list.swap_remove(i)));
                } else {
                    i += 1;
                }
            }
        }
        self.sessions.retain(|_, l| !l.is_empty());
        if done.is_empty() {
            return Ok(None);
        }
        done.sort_by(|a, b| (a.1.end, &a.0).cmp(&(b.1.end, &b.0)));
        let others = self
            .keys
            .columns(done.iter().map(|(k, _)| k.row().data()))?;
        let mut fired_windows = FiredWindows::default();
        for (_, session) in done.iter_mut() {
            fired_windows.push(session.start, session.end, &mut session.accumulators)?;
        }
        Ok(Some(fired_windows.into_batch(
            &self.config.schema,
            self.config.key_count,
            Some(&self.config.windows),
            others,
        )?))
    }
}

impl accumulator_state::AggregationState for SessionAggregateOperator {
    /// The sessions as one batch (see [`accumulator_state`]).
    fn state_batch(&mut self) -> Result<Option<RecordBatch>> {
        let entries = self
            .sessions
            .iter_mut()
            .flat_map(|(key, list)| {
                list.iter_mut().map(|s| accumulator_state::Entry {
                    key: key.row().as_ref().to_vec(),
                    start: s.start,
                    end: s.end,
                    accumulators: &mut s.accumulators,
                })
            })
            .collect();
        accumulator_state::snapshot(entries)
    }

    /// Adds the sessions of a state batch written by `state_batch`.
    fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let keys = &self.keys;
        let sessions = &mut self.sessions;
        accumulator_state::restore(
            batch,
            &self.config.calls,
            |key, start, end, accumulators| {
                sessions.entry(keys.owned(key)).or_default().push(Session {
                    start,
                    end,
                    accumulators,
                });
                Ok(())
            },
        )
    }

    fn clear_state(&mut self) {
        self.sessions.clear();
    }

    fn watermark(&self) -> i64 {
        self.watermark
    }

    fn set_watermark(&mut self, watermark: i64) {
        self.watermark = watermark;
    }

    /// Sessions are partitioned by the keys other than the window columns.
    fn exchange_key_count(&self) -> usize {
        self.config.partition_columns().len()
    }

    fn exchange_keys(&self, state: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let widths = accumulator_state::state_widths(&self.config.calls)?;
        let (keys, _, _) = accumulator_state::entry_columns(state, &widths)?;
        self.keys.columns(keys.iter().flatten())
    }
}

#[async_trait]
impl Operator for SessionAggregateOperator {
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
        batch.ensure_append_only("a session window aggregation")?;
        let data = &batch.data;
        let times = millis(data.column(self.config.row_time))?;
        let rows = self.keys.rows(data)?;
        // The batch's rows per key, in time order; rows whose sessions touch
        // are aggregated together before meeting the stored sessions.
        let mut per_key: HashMap<datafusion::arrow::row::Row<'_>, Vec<(i64, u32)>> = HashMap::new();
        let mut late = Late::default();
        for (i, time) in times.iter().enumerate() {
            match time {
                Some(t) if !fired(t.saturating_add(self.config.gap_ms), self.watermark) => {
                    per_key.entry(rows.row(i)).or_default().push((*t, i as u32))
                }
                _ => late.push(i, time.map(|t| t.saturating_add(self.config.gap_ms))),
            }
        }
        let values = &data.columns()[self.config.key_count..];
        late.report(&self.config.description, values, self.watermark, ctx, out)
            .await?;
        let arguments = BatchArguments::evaluate(&self.config.calls, data)?;
        let mut keyed: Vec<_> = per_key.into_iter().collect();
        keyed.sort_unstable_by_key(|(_, members)| members[0].1);
        for (key, mut members) in keyed {
            members.sort_unstable();
            let key = key.owned();
            let mut run_start = 0;
            for i in 1..=members.len() {
                let run_end = members[i - 1].0.saturating_add(self.config.gap_ms);
                if i < members.len() && members[i].0 <= run_end {
                    continue;
                }
                let run = &members[run_start..i];
                let mut session = Session {
                    start: run[0].0,
                    end: run
                        .iter()
                        .map(|m| m.0)
                        .max()
                        .unwrap_or(run[0].0)
                        .saturating_add(self.config.gap_ms),
                    accumulators: new_accumulators(&self.config.calls)?,
                };
                let indices = UInt32Array::from_iter_values(run.iter().map(|m| m.1));
                arguments.update(&mut session.accumulators, &indices)?;
                self.add(key.clone(), session)?;
                run_start = i;
            }
        }
        ctx.metrics
            .set_state_entries(self.sessions.values().map(Vec::len).sum());
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
        self.watermark = self.watermark.max(watermark);
        if let Some(batch) = self.fire(self.watermark)? {
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
    use crate::harness::{Rescale, Step, assert_rescale_restore, run};

    fn ts_type() -> DataType {
        DataType::Timestamp(TimeUnit::Millisecond, None)
    }

    /// Input: window_start (row time), window_end, user, value.
    fn factory() -> SessionAggregate {
        let input = Arc::new(Schema::new(vec![
            Field::new("window_start", ts_type(), true),
            Field::new("window_end", ts_type(), true),
            Field::new("user", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let sum = AggregateExprBuilder::new(
            datafusion::functions_aggregate::sum::sum_udaf(),
            vec![col("v", &input).expect("column")],
        )
        .schema(input)
        .alias("s")
        .build()
        .expect("sum");
        SessionAggregate {
            key_count: 3,
            windows: WindowColumns {
                start: Some(0),
                end: 1,
                time: None,
            },
            row_time: 0,
            gap_ms: 10,
            calls: vec![AggregateCall {
                function: Arc::new(sum),
                filter: None,
            }],
            schema: Arc::new(Schema::new(vec![
                Field::new("window_start", ts_type(), true),
                Field::new("window_end", ts_type(), true),
                Field::new("user", DataType::Int64, true),
                Field::new("s", DataType::Int64, true),
            ])),
            description: "session".into(),
        }
    }

    fn batch(rows: &[(i64, i64, i64)]) -> Step {
        let schema = Arc::new(Schema::new(vec![
            Field::new("window_start", ts_type(), true),
            Field::new("window_end", ts_type(), true),
            Field::new("user", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.0),
            )),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.0 + 10),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ];
        Step::Batch(ChangeBatch::inserts(
            RecordBatch::try_new(schema, columns).expect("batch"),
        ))
    }

    #[tokio::test]
    async fn a_row_between_two_sessions_merges_them() {
        let out = run(
            &factory(),
            &[
                batch(&[(0, 1, 1), (25, 1, 2), (0, 2, 100)]),
                // [10, 20) touches [0, 10) (ends count), and [20, 30)
                // touches both it and [25, 35): one session of user 1.
                batch(&[(10, 1, 4), (20, 1, 8)]),
                Step::Watermark(100),
            ],
        )
        .await;
        assert_eq!(
            out,
            vec![
                "+I[1970-01-01T00:00, 1970-01-01T00:00:00.010, 2, 100]",
                "+I[1970-01-01T00:00, 1970-01-01T00:00:00.035, 1, 15]",
                "watermark 100",
            ]
        );
    }

    #[tokio::test]
    async fn restored_sessions_give_the_output_of_an_uninterrupted_run() {
        use crate::harness::assert_snapshot_restore;
        let steps = vec![
            batch(&[(0, 1, 1), (25, 1, 2), (0, 2, 100)]),
            Step::Watermark(5),
            batch(&[(10, 1, 4)]),
            batch(&[(20, 1, 8), (50, 2, 7)]),
            Step::Watermark(30),
            batch(&[(1, 2, 1000)]),
            Step::Watermark(100),
        ];
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory(), &steps, split).await;
        }
    }

    #[tokio::test]
    async fn restored_at_another_parallelism_each_subtask_merges_the_sessions_of_its_users() {
        let steps = vec![
            batch(&[
                (0, 1, 1),
                (0, 2, 2),
                (5, 3, 3),
                (0, 4, 4),
                (2, 5, 5),
                (3, 9, 6),
            ]),
            Step::Watermark(1),
            // Restored here: open sessions, which later rows extend or
            // leave alone.
            batch(&[
                (8, 1, 10),
                (12, 2, 1),
                (9, 3, 2),
                (30, 4, 1),
                (6, 5, 7),
                (7, 9, 1),
                (1, 7, 1),
                (4, 8, 2),
                (3, 12, 9),
            ]),
            Step::Watermark(15),
            batch(&[(40, 1, 1), (35, 2, 2), (33, 7, 3), (36, 9, 4)]),
            Step::Watermark(100),
        ];
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            // Sessions are partitioned by user.
            let rescale = Rescale {
                keys: &[&[2]],
                from,
                to,
            };
            assert_rescale_restore(&factory(), &steps, 2, rescale).await;
        }
    }
}

//! `GroupAggregate`: an unbounded `GROUP BY` (Flink's group aggregation).
//! It keeps every key's accumulators and the result it last emitted, and
//! after each input batch emits the changes of the keys the batch touched:
//! `+I` for a new key, `-U`/`+U` for a changed result, `-D` for a key whose
//! rows were all retracted; an unchanged result emits nothing. So a key
//! changes at most once per batch, however many of its rows the batch has.
//!
//! Input: columns `0..key_count` are the group keys; rows may be updates
//! (`-U`/`-D` retract). Aggregates whose DataFusion accumulator can retract
//! (`COUNT`, `SUM`, `AVG`, ..) retract; the others (`MIN`, `MAX`,
//! `COUNT(DISTINCT ..)`, ..) keep, over an updating input, the multiset of
//! their arguments per key and are recomputed from it, so a retracted
//! maximum gives the next largest.

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int8Array, UInt32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use foldhash::fast::RandomState;
use std::collections::{BTreeMap, HashMap};

use super::aggregate::{AggregateCall, BatchArguments, GroupKeys, new_accumulators};
use crate::batch::{ChangeBatch, RowKind};
use crate::error::Result;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Configuration of a group aggregation (the factory).
#[derive(Clone)]
pub struct GroupAggregate {
    /// Input columns `0..key_count` are the group keys.
    pub key_count: usize,
    /// The aggregates, in output order after the keys.
    pub calls: Vec<AggregateCall>,
    /// Whether the input may retract rows.
    pub updating_input: bool,
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

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        // Over an updating input, a call whose accumulator cannot retract
        // keeps the multiset of its arguments.
        let mut multiset = vec![];
        for call in &self.calls {
            let retracts = call.function.create_accumulator()?.supports_retract_batch();
            multiset.push(if self.updating_input && !retracts {
                let fields = call
                    .function
                    .expressions()
                    .iter()
                    .map(|e| Ok(SortField::new(e.data_type(&self.input_schema)?)))
                    .collect::<Result<Vec<_>>>()?;
                Some(RowConverter::new(fields)?)
            } else {
                None
            });
        }
        Ok(Box::new(GroupAggregateOperator {
            keys: GroupKeys::new(&self.schema, (0..self.key_count).collect())?,
            multiset,
            groups: HashMap::default(),
            config: self.clone(),
        }))
    }
}

/// One call's state for one key.
enum CallState {
    /// The accumulator (it retracts, or the input never does).
    Accumulator(Box<dyn Accumulator>),
    /// The arguments (row bytes) and how many times each is held.
    Multiset(BTreeMap<OwnedRow, i64>),
}

/// One key's state.
struct Group {
    /// Rows added less rows retracted.
    rows: i64,
    calls: Vec<CallState>,
    /// The results last emitted, if the key is in the output.
    emitted: Option<Vec<ScalarValue>>,
}

struct GroupAggregateOperator {
    config: GroupAggregate,
    keys: GroupKeys,
    /// Per call, the converter of its arguments when it keeps a multiset.
    multiset: Vec<Option<RowConverter>>,
    groups: HashMap<Box<[u8]>, Group, RandomState>,
}

impl GroupAggregateOperator {
    fn new_group(&self) -> Result<Group> {
        let accumulators = new_accumulators(&self.config.calls)?;
        let calls = accumulators
            .into_iter()
            .zip(&self.multiset)
            .map(|(acc, m)| match m {
                Some(_) => CallState::Multiset(BTreeMap::new()),
                None => CallState::Accumulator(acc),
            })
            .collect();
        Ok(Group {
            rows: 0,
            calls,
            emitted: None,
        })
    }

    /// The key's current results.
    fn evaluate(&self, group: &mut Group) -> Result<Vec<ScalarValue>> {
        let mut values = Vec::with_capacity(group.calls.len());
        for (c, state) in group.calls.iter_mut().enumerate() {
            values.push(match state {
                CallState::Accumulator(acc) => acc.evaluate()?,
                CallState::Multiset(held) => {
                    let mut acc = self.config.calls[c].function.create_accumulator()?;
                    if let (false, Some(converter)) = (held.is_empty(), &self.multiset[c]) {
                        let args = converter.convert_rows(held.keys().map(|r| r.row()))?;
                        // Each argument as many times as it is held.
                        let repeat: Vec<u32> = held
                            .values()
                            .enumerate()
                            .flat_map(|(i, n)| std::iter::repeat_n(i as u32, (*n).max(0) as usize))
                            .collect();
                        let repeat = UInt32Array::from(repeat);
                        let args = args
                            .iter()
                            .map(|a| datafusion::arrow::compute::take(a.as_ref(), &repeat, None))
                            .collect::<Result<Vec<_>, _>>()?;
                        acc.update_batch(&args)?;
                    }
                    acc.evaluate()?
                }
            });
        }
        Ok(values)
    }
}

/// The rows of one key in a batch: added and retracted.
#[derive(Default)]
struct Members {
    first: usize,
    added: Vec<u32>,
    retracted: Vec<u32>,
}

#[async_trait]
impl Operator for GroupAggregateOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        let data = &batch.data;
        let rows = self.keys.rows(data)?;
        let mut members: HashMap<&[u8], Members, RandomState> = HashMap::default();
        for i in 0..data.num_rows() {
            let m = members
                .entry(rows.row(i).data())
                .or_insert_with(|| Members {
                    first: i,
                    ..Members::default()
                });
            if batch.kind(i).is_addition() {
                m.added.push(i as u32);
            } else {
                m.retracted.push(i as u32);
            }
        }
        let mut touched: Vec<(&[u8], Members)> = members.into_iter().collect();
        touched.sort_unstable_by_key(|(_, m)| m.first);
        let arguments = BatchArguments::evaluate(&self.config.calls, data)?;
        let mut changes = Changes::default();
        for (key, m) in touched {
            let mut group = match self.groups.remove(key) {
                Some(g) => g,
                None => self.new_group()?,
            };
            group.rows += m.added.len() as i64 - m.retracted.len() as i64;
            let (added, retracted) = (UInt32Array::from(m.added), UInt32Array::from(m.retracted));
            for (c, state) in group.calls.iter_mut().enumerate() {
                match state {
                    CallState::Accumulator(acc) => {
                        if !added.is_empty() {
                            acc.update_batch(&arguments.values(c, &added)?)?;
                        }
                        if !retracted.is_empty() {
                            acc.retract_batch(&arguments.values(c, &retracted)?)?;
                        }
                    }
                    CallState::Multiset(held) => {
                        let Some(converter) = &self.multiset[c] else {
                            continue;
                        };
                        for (indices, delta) in [(&added, 1), (&retracted, -1)] {
                            if indices.is_empty() {
                                continue;
                            }
                            let args = converter.convert_columns(&arguments.values(c, indices)?)?;
                            for r in args.iter() {
                                let n = held.entry(r.owned()).or_insert(0);
                                *n += delta;
                                if *n <= 0 {
                                    held.remove(&r.owned());
                                }
                            }
                        }
                    }
                }
            }
            let now = if group.rows > 0 {
                Some(self.evaluate(&mut group)?)
            } else {
                None
            };
            match (group.emitted.take(), now) {
                (None, Some(new)) => {
                    changes.push(key, RowKind::Insert, new.clone(), &mut group, Some(new))
                }
                (Some(old), None) => changes.push(key, RowKind::Delete, old, &mut group, None),
                (Some(old), Some(new)) if old != new => {
                    changes.push(key, RowKind::UpdateBefore, old, &mut group, None);
                    changes.push(
                        key,
                        RowKind::UpdateAfter,
                        new.clone(),
                        &mut group,
                        Some(new),
                    );
                }
                (old, _) => group.emitted = old,
            }
            if group.rows > 0 || group.emitted.is_some() {
                self.groups.insert(key.into(), group);
            }
        }
        if let Some(batch) = changes.into_batch(&self.keys, &self.config)? {
            out.emit(batch).await?;
        }
        Ok(())
    }
}

/// Output rows being gathered.
#[derive(Default)]
struct Changes {
    keys: Vec<Box<[u8]>>,
    kinds: Vec<i8>,
    values: Vec<Vec<ScalarValue>>,
}

impl Changes {
    /// Adds a row of `kind` with `values` for `key`, and records what the
    /// key's output is after it.
    fn push(
        &mut self,
        key: &[u8],
        kind: RowKind,
        values: Vec<ScalarValue>,
        group: &mut Group,
        emitted: Option<Vec<ScalarValue>>,
    ) {
        self.keys.push(key.into());
        self.kinds.push(kind as i8);
        if self.values.len() < values.len() {
            self.values.resize_with(values.len(), Vec::new);
        }
        for (c, v) in values.into_iter().enumerate() {
            self.values[c].push(v);
        }
        group.emitted = emitted;
    }

    fn into_batch(self, keys: &GroupKeys, config: &GroupAggregate) -> Result<Option<ChangeBatch>> {
        if self.kinds.is_empty() {
            return Ok(None);
        }
        let mut columns: Vec<ArrayRef> = keys.columns(self.keys.iter().map(|k| k.as_ref()))?;
        for (c, values) in self.values.into_iter().enumerate() {
            let field = config.schema.field(config.key_count + c);
            columns.push(cast(
                &ScalarValue::iter_to_array(values)?,
                field.data_type(),
            )?);
        }
        let data = RecordBatch::try_new(config.schema.clone(), columns)?;
        Ok(Some(ChangeBatch::with_kinds(
            data,
            Int8Array::from(self.kinds),
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{Step, run};

    fn input() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
        ]))
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
            input_schema: input(),
            schema: Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("s", DataType::Int64, true),
                Field::new("m", DataType::Int64, true),
            ])),
            description: "GroupAggregate".into(),
        }
    }

    fn batch(rows: &[(RowKind, i64, i64)]) -> Step {
        let data = RecordBatch::try_new(
            input(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .expect("batch");
        let kinds = Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8));
        Step::Batch(ChangeBatch::with_kinds(data, kinds))
    }

    #[tokio::test]
    async fn one_change_per_key_and_batch_and_none_when_unchanged() {
        use RowKind::*;
        let steps = vec![
            batch(&[(Insert, 1, 5), (Insert, 1, 7), (Insert, 2, 1)]),
            // Key 2 gets a row of 0: its sum and max stay.
            batch(&[(Insert, 1, 1), (Insert, 2, 0), (Insert, 2, 0)]),
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
            batch(&[(Insert, 1, 5), (Insert, 1, 9), (Insert, 2, 3)]),
            batch(&[(UpdateBefore, 1, 9)]),
            batch(&[(Delete, 2, 3), (Delete, 1, 5)]),
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
}

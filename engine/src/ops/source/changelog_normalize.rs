//! Upserts to a retract stream (Flink's ChangelogNormalize): an upsert
//! source (`upsert-kafka`) sends each key's new row as an upsert and a
//! delete with the key alone; this operator keeps each key's last row, so
//! it emits `+I` for a new key, `-U` old / `+U` new for a changed one,
//! nothing for an unchanged one, and `-D` with the full last row for a
//! delete. Input is hash-partitioned by the key.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::Int8Array;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};

use crate::batch::{ChangeBatch, RowKind};
use crate::error::Result;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};

/// Creates the normalizers of one upsert source.
pub struct ChangelogNormalizeFactory {
    key: Vec<usize>,
    key_names: Vec<String>,
    update_before: bool,
}

impl ChangelogNormalizeFactory {
    /// Normalizes by the columns at `key` (named `key_names`, for EXPLAIN).
    pub fn new(key: Vec<usize>, key_names: Vec<String>) -> Self {
        Self {
            key,
            key_names,
            update_before: true,
        }
    }
}

impl OperatorFactory for ChangelogNormalizeFactory {
    fn name(&self) -> String {
        format!("ChangelogNormalize(key=[{}])", self.key_names.join(", "))
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(ChangelogNormalize {
            key: self.key.clone(),
            update_before: self.update_before,
            converters: None,
            last: HashMap::new(),
        }))
    }

    fn without_update_before(&self) -> Option<Arc<dyn OperatorFactory>> {
        Some(Arc::new(Self {
            key: self.key.clone(),
            key_names: self.key_names.clone(),
            update_before: false,
        }))
    }
}

struct Converters {
    schema: SchemaRef,
    key: RowConverter,
    row: RowConverter,
}

struct ChangelogNormalize {
    key: Vec<usize>,
    update_before: bool,
    /// Made from the first batch's schema.
    converters: Option<Converters>,
    /// Each key's last row.
    last: HashMap<OwnedRow, OwnedRow>,
}

fn converters(schema: &SchemaRef, key: &[usize]) -> Result<Converters> {
    let fields = |cols: &mut dyn Iterator<Item = usize>| {
        cols.map(|i| SortField::new(schema.field(i).data_type().clone()))
            .collect::<Vec<_>>()
    };
    Ok(Converters {
        schema: schema.clone(),
        key: RowConverter::new(fields(&mut key.iter().copied()))?,
        row: RowConverter::new(fields(&mut (0..schema.fields().len())))?,
    })
}

impl ChangelogNormalize {
    fn converters(&mut self, schema: &SchemaRef) -> Result<&Converters> {
        if self.converters.is_none() {
            self.converters = Some(converters(schema, &self.key)?);
        }
        match &self.converters {
            Some(c) => Ok(c),
            None => unreachable!("set above"),
        }
    }

    fn restore(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        let key = self.key.clone();
        let conv = self.converters(&schema)?;
        let keys = conv.key.convert_columns(
            &key.iter()
                .map(|i| batch.column(*i).clone())
                .collect::<Vec<_>>(),
        )?;
        let rows = conv.row.convert_columns(batch.columns())?;
        let pairs: Vec<_> = (0..batch.num_rows())
            .map(|i| (keys.row(i).owned(), rows.row(i).owned()))
            .collect();
        self.last.extend(pairs);
        Ok(())
    }
}

#[async_trait]
impl Operator for ChangelogNormalize {
    fn name(&self) -> String {
        "ChangelogNormalize".into()
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // The state is the input's rows: the exchange's keys are `key`.
        let state = ctx.restored_keyed_state_of(&ctx.subtask.operator_id, &self.key)?;
        for batch in state {
            self.restore(&batch)?;
        }
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let Some(conv) = &self.converters else {
            return ctx.save_state(checkpoint, vec![]);
        };
        let columns = conv.row.convert_rows(self.last.values().map(|r| r.row()))?;
        let batch = RecordBatch::try_new(conv.schema.clone(), columns)?;
        ctx.save_state(checkpoint, vec![batch])
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let schema = batch.schema();
        let key_idx = self.key.clone();
        let update_before = self.update_before;
        self.converters(&schema)?;
        let Some(conv) = &self.converters else {
            return Ok(());
        };
        let keys = conv.key.convert_columns(
            &key_idx
                .iter()
                .map(|i| batch.data.column(*i).clone())
                .collect::<Vec<_>>(),
        )?;
        let rows = conv.row.convert_columns(batch.data.columns())?;
        let mut out_rows: Vec<OwnedRow> = vec![];
        let mut kinds: Vec<i8> = vec![];
        let mut push = |kind: RowKind, row: OwnedRow| {
            kinds.push(kind as i8);
            out_rows.push(row);
        };
        for i in 0..batch.num_rows() {
            let key = keys.row(i);
            if batch.kind(i).is_addition() {
                let row = rows.row(i).owned();
                match self.last.insert(key.owned(), row.clone()) {
                    None => push(RowKind::Insert, row),
                    Some(prev) if prev == row => {}
                    Some(prev) => {
                        if update_before {
                            push(RowKind::UpdateBefore, prev);
                        }
                        push(RowKind::UpdateAfter, row);
                    }
                }
            } else if let Some(prev) = self.last.remove(&key.owned()) {
                push(RowKind::Delete, prev);
            }
        }
        if out_rows.is_empty() {
            return Ok(());
        }
        let columns = conv.row.convert_rows(out_rows.iter().map(|r| r.row()))?;
        let data = RecordBatch::try_new(schema, columns)?;
        out.emit(ChangeBatch::with_kinds(data, Int8Array::from(kinds)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{
        Rescale, Step, assert_rescale_restore, assert_snapshot_restore, kv_changes, run,
    };
    use RowKind::*;

    fn steps() -> Vec<Step> {
        vec![
            kv_changes(&[(Insert, 1, 10), (UpdateAfter, 1, 11), (UpdateAfter, 1, 11)]),
            // A delete of an unknown key is dropped; only the key is known.
            kv_changes(&[(Delete, 2, 0), (UpdateAfter, 2, 20)]),
            kv_changes(&[(Delete, 1, 0), (UpdateAfter, 2, 21)]),
        ]
    }

    #[tokio::test]
    async fn upserts_become_retractions_and_deletes_carry_the_last_row() {
        let factory = ChangelogNormalizeFactory::new(vec![0], vec!["k".into()]);
        assert_eq!(
            run(&factory, &steps()).await,
            vec![
                "+I[1, 10]",
                "-U[1, 10]",
                "+U[1, 11]",
                "+I[2, 20]",
                "-D[1, 11]",
                "-U[2, 20]",
                "+U[2, 21]"
            ]
        );
        for split in 1..3 {
            assert_snapshot_restore(&factory, &steps(), split).await;
        }
    }

    #[tokio::test]
    async fn restored_at_another_parallelism_each_subtask_keeps_the_last_rows_of_its_keys() {
        let factory = ChangelogNormalizeFactory::new(vec![0], vec!["k".into()]);
        let steps = vec![
            kv_changes(&[
                (Insert, 1, 10),
                (UpdateAfter, 2, 20),
                (UpdateAfter, 3, 30),
                (UpdateAfter, 4, 40),
                (UpdateAfter, 5, 50),
                (UpdateAfter, 6, 60),
                (UpdateAfter, 9, 90),
            ]),
            // Restored here: each key's last row.
            kv_changes(&[
                (UpdateAfter, 1, 11),
                (Delete, 2, 0),
                (UpdateAfter, 3, 30),
                (UpdateAfter, 4, 41),
                (Delete, 5, 0),
                (UpdateAfter, 6, 61),
                (UpdateAfter, 7, 70),
                (UpdateAfter, 8, 80),
                (UpdateAfter, 9, 91),
                (UpdateAfter, 12, 120),
            ]),
        ];
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            let rescale = Rescale {
                keys: &[&[0]],
                from,
                to,
            };
            assert_rescale_restore(&factory, &steps, 1, rescale).await;
        }
    }
}

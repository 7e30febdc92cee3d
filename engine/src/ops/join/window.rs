//! `WindowJoin`: joins the rows of two window results that share a window
//! (`window_start`, `window_end`) and keys, once the watermark of both
//! inputs passes the window's end (Flink's window join). Inner, left,
//! right and full joins, and semi and anti joins (`EXISTS`, `IN`, and
//! inner joins whose other side is unique on the keys); NULL keys never
//! match.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array};
use datafusion::arrow::compute::{cast, concat_batches, filter_record_batch, take};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::ChangeBatch;
use crate::error::{EngineError, Result};
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
pub use crate::ops::join::JoinKind;
use crate::ops::join::{restore_sides, save_sides};
use crate::ops::window::buffer::WindowBuffer;

/// One side of the join.
#[derive(Clone)]
pub struct JoinSide {
    /// Column holding `window_end`.
    pub window_end: usize,
    /// Equi-join key expressions (window columns included).
    pub keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Schema of the side's rows.
    pub schema: SchemaRef,
}

/// Configuration of a window join (the factory).
#[derive(Clone)]
pub struct WindowJoin {
    /// Input 0.
    pub left: JoinSide,
    /// Input 1.
    pub right: JoinSide,
    /// Which unmatched rows to keep.
    pub kind: JoinKind,
    /// A residual condition on the joined row (left columns, then right
    /// columns), if any.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// Output: left columns, then right columns (one side's for semi and
    /// anti joins).
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for WindowJoin {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let pairs = match self.kind.filtering() {
            None => self.schema.clone(),
            Some(_) => Arc::new(datafusion::arrow::datatypes::Schema::new(
                self.left
                    .schema
                    .fields()
                    .iter()
                    .chain(self.right.schema.fields())
                    .cloned()
                    .collect::<Vec<_>>(),
            )),
        };
        Ok(Box::new(WindowJoinOperator {
            config: self.clone(),
            pairs,
            held: [WindowBuffer::default(), WindowBuffer::default()],
            watermark: MIN_WATERMARK,
        }))
    }
}

struct WindowJoinOperator {
    config: WindowJoin,
    /// Schema of joined pairs: the output's, or both sides' columns for
    /// semi and anti joins.
    pairs: SchemaRef,
    /// Rows per side, per window end.
    held: [WindowBuffer; 2],
    watermark: i64,
}

impl WindowJoinOperator {
    fn side(&self, input: usize) -> &JoinSide {
        if input == 0 {
            &self.config.left
        } else {
            &self.config.right
        }
    }

    /// Key rows of a side's batch (as the left side's key types); `None`
    /// where a key is NULL.
    fn keys(
        &self,
        input: usize,
        batch: &RecordBatch,
        converter: &RowConverter,
        types: &[DataType],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let n = batch.num_rows();
        let columns = self
            .side(input)
            .keys
            .iter()
            .zip(types)
            .map(|(k, t)| {
                let a = k.evaluate(batch)?.into_array(n)?;
                Ok(if a.data_type() == t { a } else { cast(&a, t)? })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = converter.convert_columns(&columns)?;
        Ok((0..n)
            .map(|i| (!columns.iter().any(|c| c.is_null(i))).then(|| rows.row(i).as_ref().to_vec()))
            .collect())
    }

    /// Joins the rows of one window.
    fn join(&self, left: RecordBatch, right: RecordBatch) -> Result<RecordBatch> {
        let types = self
            .config
            .left
            .keys
            .iter()
            .map(|k| k.data_type(&self.config.left.schema))
            .collect::<Result<Vec<_>, _>>()?;
        let converter =
            RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?;
        let left_keys = self.keys(0, &left, &converter, &types)?;
        let right_keys = self.keys(1, &right, &converter, &types)?;
        let mut by_key: HashMap<&[u8], Vec<u32>> = HashMap::new();
        for (j, k) in right_keys.iter().enumerate() {
            if let Some(k) = k {
                by_key.entry(k.as_slice()).or_default().push(j as u32);
            }
        }
        let (mut li, mut ri): (Vec<Option<u32>>, Vec<Option<u32>>) = (vec![], vec![]);
        for (i, k) in left_keys.iter().enumerate() {
            for j in k
                .as_ref()
                .and_then(|k| by_key.get(k.as_slice()))
                .into_iter()
                .flatten()
            {
                li.push(Some(i as u32));
                ri.push(Some(*j));
            }
        }
        let mut joined = self.assemble(&left, &right, &li, &ri)?;
        if let Some(f) = &self.config.filter {
            let mask = f.evaluate(&joined)?.into_array(joined.num_rows())?;
            let mask = mask
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| EngineError::Execution("join condition is not a boolean".into()))?;
            let keep: Vec<bool> = (0..mask.len())
                .map(|i| mask.is_valid(i) && mask.value(i))
                .collect();
            li = li
                .into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v)
                .collect();
            ri = ri
                .into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v)
                .collect();
            joined = filter_record_batch(&joined, &BooleanArray::from(keep))?;
        }
        if let Some((side, matched)) = self.config.kind.filtering() {
            let (rows, pairs) = if side == 0 {
                (&left, &li)
            } else {
                (&right, &ri)
            };
            let mut has_match = vec![false; rows.num_rows()];
            pairs
                .iter()
                .flatten()
                .for_each(|i| has_match[*i as usize] = true);
            let keep =
                BooleanArray::from(has_match.iter().map(|m| *m == matched).collect::<Vec<_>>());
            let kept = filter_record_batch(rows, &keep)?;
            return Ok(RecordBatch::try_new(
                self.config.schema.clone(),
                kept.columns()
                    .iter()
                    .zip(self.config.schema.fields())
                    .map(|(c, f)| cast(c, f.data_type()))
                    .collect::<Result<Vec<_>, _>>()?,
            )?);
        }
        let (mut ol, mut or): (Vec<Option<u32>>, Vec<Option<u32>>) = (vec![], vec![]);
        if matches!(self.config.kind, JoinKind::Left | JoinKind::Full) {
            let mut matched = vec![false; left.num_rows()];
            li.iter()
                .flatten()
                .for_each(|i| matched[*i as usize] = true);
            for (i, _) in matched.iter().enumerate().filter(|(_, m)| !**m) {
                ol.push(Some(i as u32));
                or.push(None);
            }
        }
        if matches!(self.config.kind, JoinKind::Right | JoinKind::Full) {
            let mut matched = vec![false; right.num_rows()];
            ri.iter()
                .flatten()
                .for_each(|j| matched[*j as usize] = true);
            for (j, _) in matched.iter().enumerate().filter(|(_, m)| !**m) {
                ol.push(None);
                or.push(Some(j as u32));
            }
        }
        if ol.is_empty() {
            return Ok(joined);
        }
        let outer = self.assemble(&left, &right, &ol, &or)?;
        Ok(concat_batches(&self.config.schema, &[joined, outer])?)
    }

    fn assemble(
        &self,
        left: &RecordBatch,
        right: &RecordBatch,
        li: &[Option<u32>],
        ri: &[Option<u32>],
    ) -> Result<RecordBatch> {
        let li = UInt32Array::from(li.to_vec());
        let ri = UInt32Array::from(ri.to_vec());
        let mut columns: Vec<ArrayRef> = vec![];
        for c in left.columns() {
            columns.push(take(c.as_ref(), &li, None)?);
        }
        for c in right.columns() {
            columns.push(take(c.as_ref(), &ri, None)?);
        }
        crate::batch::conform(&self.pairs, columns)
    }

    fn empty(schema: &SchemaRef) -> RecordBatch {
        RecordBatch::new_empty(schema.clone())
    }
}

#[async_trait]
impl Operator for WindowJoinOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn process(
        &mut self,
        input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        let side = input.min(1);
        let window_end = self.side(side).window_end;
        self.held[side]
            .accept(
                "a window join",
                &self.config.description,
                &batch,
                window_end,
                self.watermark,
                ctx,
                out,
            )
            .await
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // The held rows are input rows; each side's exchange hashes their
        // `window_end` alone.
        let ends = [
            [self.config.left.window_end],
            [self.config.right.window_end],
        ];
        let keys = [&ends[0][..], &ends[1][..]];
        for (side, (watermark, batches)) in restore_sides(ctx, keys)?.into_iter().enumerate() {
            if let Some(w) = watermark {
                self.watermark = self.watermark.max(w);
            }
            for b in batches {
                self.held[side].hold(
                    &ChangeBatch::inserts(b),
                    self.side(side).window_end,
                    self.watermark,
                )?;
            }
        }
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let sides = [0, 1].map(|side| self.held[side].batches().cloned().collect());
        save_sides(ctx, checkpoint, self.watermark, sides)
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        _ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        let mut left = self.held[0].take_fired(self.watermark);
        let mut right = self.held[1].take_fired(self.watermark);
        let mut ends: Vec<i64> = left.keys().chain(right.keys()).copied().collect();
        ends.sort_unstable();
        ends.dedup();
        for end in ends {
            let l = match left.remove(&end) {
                Some(b) => concat_batches(&self.config.left.schema, &b)?,
                None => Self::empty(&self.config.left.schema),
            };
            let r = match right.remove(&end) {
                Some(b) => concat_batches(&self.config.right.schema, &b)?,
                None => Self::empty(&self.config.right.schema),
            };
            let joined = self.join(l, r)?;
            if joined.num_rows() > 0 {
                out.emit(ChangeBatch::inserts(joined)).await?;
            }
        }
        out.emit_watermark(watermark).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::harness::{Rescale, Step, assert_rescale_restore, assert_snapshot_restore, run};

    fn side_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(
                "window_end",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("k", DataType::Int64, true),
        ]))
    }

    fn side() -> JoinSide {
        let schema = side_schema();
        JoinSide {
            window_end: 0,
            keys: vec![
                col("window_end", &schema).expect("c"),
                col("k", &schema).expect("c"),
            ],
            schema,
        }
    }

    fn factory(kind: JoinKind) -> WindowJoin {
        if kind.filtering().is_some() {
            return WindowJoin {
                left: side(),
                right: side(),
                kind,
                filter: None,
                schema: side_schema(),
                description: "join".into(),
            };
        }
        let mut fields: Vec<Field> = side_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(
            side_schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_name(format!("r_{}", f.name()))),
        );
        WindowJoin {
            left: side(),
            right: side(),
            kind,
            filter: None,
            schema: Arc::new(Schema::new(fields)),
            description: "join".into(),
        }
    }

    fn rows(input: usize, rows: &[(i64, Option<i64>)]) -> Step {
        let ends = TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.0));
        let keys = Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        Step::Input(
            input,
            ChangeBatch::inserts(
                RecordBatch::try_new(side_schema(), vec![Arc::new(ends), Arc::new(keys)])
                    .expect("batch"),
            ),
        )
    }

    fn steps() -> Vec<Step> {
        vec![
            rows(0, &[(1000, Some(1)), (1000, Some(2)), (1000, None)]),
            rows(1, &[(1000, Some(1)), (1000, None), (2000, Some(2))]),
            Step::Watermark(999),
            rows(1, &[(1000, Some(2)), (2000, Some(7))]),
            rows(0, &[(2000, Some(2))]),
            Step::Watermark(5000),
        ]
    }

    #[tokio::test]
    async fn full_join_matches_keys_per_window_and_never_null_keys() {
        let out = run(&factory(JoinKind::Full), &steps()).await;
        let expected = [
            "+I[1970-01-01T00:00:01, 1, 1970-01-01T00:00:01, 1]",
            "+I[1970-01-01T00:00:01, 2, null, null]",
            "+I[1970-01-01T00:00:01, null, null, null]",
            "+I[null, null, 1970-01-01T00:00:01, null]",
            "watermark 999",
            "+I[1970-01-01T00:00:02, 2, 1970-01-01T00:00:02, 2]",
            "+I[null, null, 1970-01-01T00:00:02, 7]",
            "watermark 5000",
        ];
        assert_eq!(out, expected);
    }

    #[tokio::test]
    async fn semi_and_anti_joins_emit_one_side_once_per_row() {
        let mut steps = steps();
        // A second match for left key 1 in the first window.
        steps.insert(1, rows(1, &[(1000, Some(1))]));
        let semi = run(&factory(JoinKind::LeftSemi), &steps).await;
        let anti = run(&factory(JoinKind::LeftAnti), &steps).await;
        let right_anti = run(&factory(JoinKind::RightAnti), &steps).await;
        let rows = |v: Vec<String>| {
            v.into_iter()
                .filter(|l| l.starts_with('+'))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            rows(semi),
            ["+I[1970-01-01T00:00:01, 1]", "+I[1970-01-01T00:00:02, 2]"]
        );
        assert_eq!(
            rows(anti),
            [
                "+I[1970-01-01T00:00:01, 2]",
                "+I[1970-01-01T00:00:01, null]"
            ]
        );
        assert_eq!(
            rows(right_anti),
            [
                "+I[1970-01-01T00:00:01, null]",
                "+I[1970-01-01T00:00:02, 7]"
            ]
        );
    }

    #[tokio::test]
    async fn restored_join_state_gives_the_output_of_an_uninterrupted_run() {
        let steps = steps();
        for kind in [
            JoinKind::Inner,
            JoinKind::Left,
            JoinKind::Full,
            JoinKind::LeftSemi,
        ] {
            for split in 0..=steps.len() {
                assert_snapshot_restore(&factory(kind), &steps, split).await;
            }
        }
    }

    #[tokio::test]
    async fn restored_at_another_parallelism_each_subtask_joins_the_windows_routed_to_it() {
        let window = |i: i64| i * 1000;
        let left: Vec<(i64, Option<i64>)> = (1..=8).map(|i| (window(i), Some(i % 3))).collect();
        let right: Vec<(i64, Option<i64>)> = (1..=8).map(|i| (window(i), Some(i % 2))).collect();
        let steps = vec![
            rows(0, &left),
            rows(1, &right[..4]),
            // Restored here: both sides' rows of every open window.
            rows(1, &right[4..]),
            rows(
                0,
                &[
                    (window(2), Some(0)),
                    (window(7), Some(1)),
                    (window(8), None),
                ],
            ),
            Step::Watermark(10_000),
        ];
        for kind in [JoinKind::Inner, JoinKind::Full, JoinKind::LeftSemi] {
            for (from, to) in [(1, 2), (2, 1), (2, 3)] {
                // Each side is partitioned by its window_end.
                let rescale = Rescale {
                    keys: &[&[0], &[0]],
                    from,
                    to,
                };
                assert_rescale_restore(&factory(kind), &steps, 2, rescale).await;
            }
        }
    }
}

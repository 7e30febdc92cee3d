//! Shaping rows as a source reads them: computed columns, then the
//! watermark of `WATERMARK FOR c AS expr`, tracked per split and combined by
//! minimum over the splits still being read.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, TimestampMillisecondArray};
use datafusion::arrow::compute::{cast, max};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::exec_err;
use crate::message::MIN_WATERMARK;

/// How a batch's watermark is computed.
pub enum WatermarkStrategy {
    /// `WATERMARK FOR c AS c [- INTERVAL ...]`: the largest time in column
    /// `column`, less `delay_ms`. Computed from the maximum alone.
    BoundedDelay {
        /// Index of the rowtime column.
        column: usize,
        /// Milliseconds subtracted.
        delay_ms: i64,
    },
    /// Any other expression, evaluated on every row.
    Expression(Arc<dyn PhysicalExpr>),
}

/// Applied by a source subtask to every batch it reads.
pub struct ScanPrelude {
    /// Expressions computing the table's columns (physical columns and
    /// computed ones) from the rows the connector read; `None` keeps them.
    pub projection: Option<Vec<Arc<dyn PhysicalExpr>>>,
    /// The schema after `projection`.
    pub schema: SchemaRef,
    /// How the watermark is computed from the projected rows.
    pub watermark: Option<WatermarkStrategy>,
    /// How EXPLAIN shows it, e.g. `WatermarkAssigner(ts - INTERVAL '5' SECOND)`.
    pub description: String,
}

impl fmt::Display for ScanPrelude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl ScanPrelude {
    /// Computes the table's columns for a batch the connector read.
    pub fn project(&self, batch: ChangeBatch) -> Result<ChangeBatch> {
        let Some(exprs) = &self.projection else {
            return Ok(batch);
        };
        let columns = exprs
            .iter()
            .map(|e| e.evaluate(&batch.data)?.into_array(batch.num_rows()))
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(batch.with_data(data))
    }

    /// The largest watermark the batch's rows allow, if it has any row with
    /// a non-null time.
    pub fn batch_watermark(&self, batch: &RecordBatch) -> Result<Option<i64>> {
        let (values, delay) = match &self.watermark {
            None => return Ok(None),
            Some(WatermarkStrategy::BoundedDelay { column, delay_ms }) => {
                (batch.column(*column).clone(), *delay_ms)
            }
            Some(WatermarkStrategy::Expression(expr)) => {
                (expr.evaluate(batch)?.into_array(batch.num_rows())?, 0)
            }
        };
        let millis = cast(&values, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
        let Some(ts) = millis.as_any().downcast_ref::<TimestampMillisecondArray>() else {
            return exec_err!("watermark expression gave {}", values.data_type());
        };
        Ok(max(ts).map(|m| m.saturating_sub(delay)))
    }
}

/// The watermark of one source subtask: per split, the largest watermark
/// its rows allowed; overall, the minimum over splits still being read, never
/// going back.
#[derive(Debug, Default)]
pub struct SplitWatermarks {
    active: HashMap<usize, i64>,
    /// Active splits that hold nothing back until they send again.
    idle: HashSet<usize>,
    emitted: Option<i64>,
}

impl SplitWatermarks {
    /// Records that split `split` allows `watermark`; returns the subtask's
    /// new watermark if it advanced.
    pub fn observe(&mut self, split: usize, watermark: Option<i64>) -> Option<i64> {
        self.idle.remove(&split);
        let entry = self.active.entry(split).or_insert(MIN_WATERMARK);
        if let Some(w) = watermark {
            *entry = (*entry).max(w);
        }
        self.advance()
    }

    /// Split `split` is being read; it holds the watermark back until its
    /// rows allow more.
    pub fn start_split(&mut self, split: usize) {
        self.active.entry(split).or_insert(MIN_WATERMARK);
    }

    /// Split `split` ended; returns the new watermark if it advanced.
    pub fn end_split(&mut self, split: usize) -> Option<i64> {
        self.active.remove(&split);
        self.idle.remove(&split);
        self.advance()
    }

    /// Split `split` is idle: it holds nothing back until it sends rows
    /// again. Returns the new watermark if it advanced.
    pub fn idle_split(&mut self, split: usize) -> Option<i64> {
        if self.active.contains_key(&split) {
            self.idle.insert(split);
        }
        self.advance()
    }

    fn advance(&mut self) -> Option<i64> {
        let busy = self
            .active
            .iter()
            .filter(|(s, _)| !self.idle.contains(s))
            .map(|(_, w)| *w)
            .min();
        // When every split is idle, none holds anything back: the
        // watermark goes as far as the furthest one.
        let min = match busy {
            Some(w) => w,
            None => *self.active.values().max()?,
        };
        if min == MIN_WATERMARK || self.emitted.is_some_and(|e| e >= min) {
            return None;
        }
        self.emitted = Some(min);
        Some(min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_split_holds_nothing_back_until_it_sends_again() {
        let mut w = SplitWatermarks::default();
        w.start_split(0);
        w.start_split(1);
        assert_eq!(w.observe(0, Some(100)), None);
        assert_eq!(w.idle_split(1), Some(100));
        assert_eq!(w.observe(1, Some(150)), None);
        assert_eq!(w.observe(0, Some(200)), Some(150));
    }

    #[test]
    fn when_every_split_is_idle_the_furthest_one_counts() {
        let mut w = SplitWatermarks::default();
        w.start_split(0);
        w.start_split(1);
        assert_eq!(w.observe(0, Some(100)), None);
        assert_eq!(w.idle_split(0), None);
        assert_eq!(w.idle_split(1), Some(100));
    }

    #[test]
    fn a_started_split_holds_the_watermark_until_its_rows_allow_more() {
        let mut w = SplitWatermarks::default();
        w.start_split(0);
        w.start_split(1);
        assert_eq!(w.observe(0, Some(100)), None);
        assert_eq!(w.observe(1, Some(40)), Some(40));
        assert_eq!(w.end_split(1), Some(100));
    }

    #[test]
    fn watermark_is_min_over_active_splits_and_monotonic() {
        let mut w = SplitWatermarks::default();
        assert_eq!(w.observe(0, Some(10)), Some(10));
        // a new split that has seen nothing holds the watermark back
        assert_eq!(w.observe(1, None), None);
        assert_eq!(w.observe(1, Some(5)), None, "must not go back");
        assert_eq!(w.observe(1, Some(20)), None);
        assert_eq!(w.observe(0, Some(30)), Some(20));
        assert_eq!(w.end_split(1), Some(30));
        assert_eq!(w.end_split(0), None);
    }
}

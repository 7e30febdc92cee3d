//! The interval join's part of [`super::StreamingJoin`]: its time bounds,
//! and letting go of the rows the watermark makes unmatchable.

use std::cmp::Reverse;

use datafusion::arrow::array::{ArrayRef, new_null_array};

use super::JoinOperator;
use crate::batch::ChangeBatch;
use crate::error::Result;

/// The time condition of an interval join, in milliseconds:
/// `lower <= left.time - right.time <= upper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBounds {
    /// Least difference.
    pub lower: i64,
    /// Greatest difference.
    pub upper: i64,
}

impl TimeBounds {
    /// The watermark after which a row of `side` at `time` can match no
    /// more rows of the other side.
    pub(super) fn expiry(&self, side: usize, time: i64) -> i64 {
        if side == 0 {
            time.saturating_sub(self.lower)
        } else {
            time.saturating_add(self.upper)
        }
    }

    /// How far the output watermark trails the input's.
    pub fn watermark_delay(&self) -> i64 {
        self.lower.saturating_neg().max(self.upper).max(0)
    }
}

impl JoinOperator {
    /// Interval joins: lets go the rows the watermark makes unmatchable,
    /// emitting the unmatched rows of outer sides padded with NULLs.
    pub(super) fn expire(&mut self) -> Result<Vec<ChangeBatch>> {
        let mut batches = vec![];
        for side in 0..2 {
            let outer = self.config.kind.is_outer(side);
            let s = &mut self.sides[side];
            let mut padded = vec![];
            while let Some(Reverse((expiry, e))) = s.expiries.peek().copied() {
                if expiry > self.watermark {
                    break;
                }
                s.expiries.pop();
                let entry = *s.entry(e);
                if outer && entry.matches == 0 {
                    padded.push(entry.row);
                }
                s.remove(e);
            }
            if !padded.is_empty() {
                let n = padded.len();
                let mine = s.store.gather(&padded)?;
                let mine = mine.columns()[..self.config.input(side).width].to_vec();
                let other = self.config.input(1 - side);
                let nulls = other.schema.fields()[..other.width]
                    .iter()
                    .map(|f| new_null_array(f.data_type(), n));
                let columns: Vec<ArrayRef> = if side == 0 {
                    mine.into_iter().chain(nulls).collect()
                } else {
                    nulls.chain(mine).collect()
                };
                batches.push(ChangeBatch::inserts(crate::batch::conform(
                    &self.config.schema,
                    columns,
                )?));
            }
            self.sides[side].settle()?;
        }
        Ok(batches)
    }
}

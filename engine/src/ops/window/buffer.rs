//! Rows held per window until the watermark passes the window's end: the
//! buffering shared by the window operators that need a window's rows
//! together (ranking, joins), and the rule for when a window has fired.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::arrow::record_batch::RecordBatch;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::late::Late;
use crate::operator::{Context, Emitter};

/// A window has fired once the watermark reached its last millisecond.
pub fn fired(window_end: i64, watermark: i64) -> bool {
    window_end.saturating_sub(1) <= watermark
}

/// Milliseconds of a timestamp column (`None` where NULL).
pub fn millis(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let ms = cast(a, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
    let ms = ms.as_primitive::<TimestampMillisecondType>();
    Ok((0..ms.len())
        .map(|i| ms.is_valid(i).then(|| ms.value(i)))
        .collect())
}

/// Rows held per window end.
#[derive(Debug, Default)]
pub struct WindowBuffer {
    held: BTreeMap<i64, Vec<RecordBatch>>,
}

impl WindowBuffer {
    /// Holds the rows of `batch` under the window end in column
    /// `window_end`; rows of a window that already fired (or with no window)
    /// are not held. Returns those.
    pub fn hold(&mut self, batch: &ChangeBatch, window_end: usize, watermark: i64) -> Result<Late> {
        let ends = millis(batch.data.column(window_end))?;
        let mut per_window: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        let mut late = Late::default();
        for (i, end) in ends.iter().enumerate() {
            match end {
                Some(e) if !fired(*e, watermark) => {
                    per_window.entry(*e).or_default().push(i as u32)
                }
                _ => late.push(i, *end),
            }
        }
        for (end, indices) in per_window {
            let part = batch.take(&UInt32Array::from(indices))?;
            self.held.entry(end).or_default().push(part.data);
        }
        Ok(late)
    }

    /// The start of every windowed operator's `process` that holds rows
    /// until their window fires: refuses updating input (`what` names the
    /// operator in the error), holds the rows of `batch` as [`Self::hold`]
    /// does, and reports the late ones under `operator`'s name.
    #[allow(clippy::too_many_arguments)]
    pub async fn accept(
        &mut self,
        what: &str,
        operator: &str,
        batch: &ChangeBatch,
        window_end: usize,
        watermark: i64,
        ctx: &Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        batch.ensure_append_only(what)?;
        let late = self.hold(batch, window_end, watermark)?;
        late.report(operator, batch.data.columns(), watermark, ctx, out)
            .await
    }

    /// Removes and returns the windows that `watermark` fired, by end.
    pub fn take_fired(&mut self, watermark: i64) -> BTreeMap<i64, Vec<RecordBatch>> {
        let open = self.held.split_off(&watermark.saturating_add(2));
        std::mem::replace(&mut self.held, open)
    }

    /// Every held batch (for a snapshot).
    pub fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.held.values().flatten()
    }
}

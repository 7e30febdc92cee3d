//! Late rows: rows a window operator receives after their window fired.
//! Flink drops them; with `table.exec.late-data.sink` set, Eddy sends them
//! to that table instead, one row per late row with this schema:
//!
//! | column      | type         | what                                     |
//! |-------------|--------------|------------------------------------------|
//! | `operator`  | STRING       | the window operator that received it     |
//! | `window_end`| TIMESTAMP(3) | the end of the window it belonged to     |
//! | `watermark` | TIMESTAMP(3) | the operator's watermark when it arrived |
//! | `row`       | STRING       | the row, as the print connector shows it |

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::batch::{ChangeBatch, RowKind};
use crate::error::Result;
use crate::operator::{Context, Emitter};
use crate::value_text::write_row;

/// The schema of late rows, and of the table they go to.
pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    Arc::new(Schema::new(vec![
        Field::new("operator", DataType::Utf8, true),
        Field::new("window_end", ts.clone(), true),
        Field::new("watermark", ts, true),
        Field::new("row", DataType::Utf8, true),
    ]))
}

/// Late rows `rows` (indices into `columns`, the row's values) of windows
/// ending at `window_ends` (one per index), received by `operator` at
/// `watermark`.
pub fn late_rows(
    operator: &str,
    columns: &[ArrayRef],
    rows: &[u32],
    window_ends: &[Option<i64>],
    watermark: i64,
) -> Result<ChangeBatch> {
    let mut names = StringBuilder::new();
    let mut texts = StringBuilder::new();
    let mut text = String::new();
    for &r in rows {
        names.append_value(operator);
        text.clear();
        write_row(&mut text, RowKind::Insert, columns, r as usize);
        texts.append_value(&text[2..]);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(names.finish()),
        Arc::new(TimestampMillisecondArray::from(window_ends.to_vec())),
        Arc::new(TimestampMillisecondArray::from(vec![watermark; rows.len()])),
        Arc::new(texts.finish()),
    ];
    Ok(ChangeBatch::inserts(RecordBatch::try_new(
        schema(),
        columns,
    )?))
}

/// Late rows an operator found in one input batch.
#[derive(Debug, Default)]
pub struct Late {
    /// Their indices in the batch.
    pub rows: Vec<u32>,
    /// The end of the window each belonged to (`None`: no time).
    pub window_ends: Vec<Option<i64>>,
}

impl Late {
    /// Records row `row` of the window ending at `window_end` as late.
    pub fn push(&mut self, row: usize, window_end: Option<i64>) {
        self.rows.push(row as u32);
        self.window_ends.push(window_end);
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Counts them in the operator's metrics and, when the job has a
    /// late-row sink, sends them there; `columns` are the row's values.
    pub async fn report(
        self,
        operator: &str,
        columns: &[ArrayRef],
        watermark: i64,
        ctx: &Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        ctx.metrics.add_late(self.len() as u64);
        if out.wants_late_rows() {
            let rows = late_rows(operator, columns, &self.rows, &self.window_ends, watermark)?;
            out.emit_late_rows(rows).await?;
        }
        Ok(())
    }
}

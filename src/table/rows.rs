//! Typed rows: change batches to and from the program's serde types,
//! through JSON objects as Flink's `json` format writes and reads them
//! (column names are field names; timestamps are `yyyy-MM-dd HH:mm:ss[.fff]`
//! strings, decimals numbers).

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use eddy_connectors::format::json::JsonOptions;
use eddy_connectors::format::{Decoder, Format, Origin};
use eddy_engine::{ChangeBatch, RowKind};
use eddy_sql::SqlError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::plan_error;

/// Each row of `batch` with its kind, its values as a `T`.
pub fn rows_of<T: DeserializeOwned>(batch: &ChangeBatch) -> Result<Vec<(RowKind, T)>, SqlError> {
    let mut text = String::new();
    eddy_connectors::format::encode::encode_batch(
        &mut text,
        &batch.data,
        &Format::Json(JsonOptions::default()),
    );
    text.lines()
        .enumerate()
        .map(|(row, line)| {
            let value = serde_json::from_str::<T>(line).map_err(|e| {
                plan_error(format!(
                    "row {line} does not make a {}: {e}",
                    std::any::type_name::<T>()
                ))
            })?;
            Ok((batch.kind(row), value))
        })
        .collect()
}

/// A batch of `schema` holding `rows`.
pub fn batch_of<T: Serialize>(schema: &SchemaRef, rows: &[T]) -> Result<RecordBatch, SqlError> {
    let mut decoder = Decoder::new(schema.clone(), Format::Json(JsonOptions::default()))?;
    for (i, row) in rows.iter().enumerate() {
        let line = serde_json::to_string(row)
            .map_err(|e| plan_error(format!("row {} cannot be written as JSON: {e}", i + 1)))?;
        decoder.decode(
            line.as_bytes(),
            Origin {
                source: "program rows",
                line: i as u64 + 1,
                is_offset: false,
            },
        )?;
    }
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}

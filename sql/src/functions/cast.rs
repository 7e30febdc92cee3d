//! `CAST(x AS STRING)` with Flink's text forms (`2024-01-01 10:00:00.000`,
//! `TRUE`, `1.0E10`), which differ from Arrow's casts.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use eddy_engine::value_text::write_sql_string;

use super::FlinkFunction;

/// The name the rewrite of `CAST(.. AS STRING)` calls.
pub const CAST_TO_STRING: &str = "flink_cast_to_string";

pub(super) fn functions() -> Vec<FlinkFunction> {
    vec![FlinkFunction::any_args(
        CAST_TO_STRING,
        1,
        DataType::Utf8,
        cast_to_string,
    )]
}

fn cast_to_string(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let a = &args[0];
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    let mut text = String::new();
    // Logical nulls: a NULL literal's array (type Null) has no validity
    // buffer, and `is_null` would call its rows valid.
    let nulls = a.logical_nulls();
    for i in 0..rows {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            out.append_null();
            continue;
        }
        text.clear();
        write_sql_string(&mut text, a.as_ref(), i);
        out.append_value(&text);
    }
    Ok(Arc::new(out.finish()))
}

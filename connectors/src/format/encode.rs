//! Writing rows as CSV or JSON lines, the way Flink's formats write them
//! (timestamps as `yyyy-MM-dd HH:mm:ss[.f]`, doubles as Java prints them).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;

use super::Format;
use super::csv::quote_field;
use super::json::TimestampStandard;
use crate::row_text::write_value;

/// Appends every row of `batch` to `out`, one line each.
pub fn encode_batch(out: &mut String, batch: &RecordBatch, format: &Format) {
    let mut field = String::new();
    for row in 0..batch.num_rows() {
        match format {
            Format::Csv(o) => {
                for (i, col) in batch.columns().iter().enumerate() {
                    if i > 0 {
                        out.push(o.delimiter);
                    }
                    if col.is_null(row) {
                        if let Some(n) = &o.null_literal {
                            out.push_str(n);
                        }
                        continue;
                    }
                    field.clear();
                    write_text(&mut field, col.as_ref(), row, TimestampStandard::Sql);
                    out.push_str(&quote_field(&field, o));
                }
            }
            Format::Json(o) => {
                write_json_object(
                    out,
                    batch.schema().fields().iter().map(|f| f.name().as_str()),
                    batch.columns(),
                    row,
                    o.timestamp_standard,
                    o.ignore_null_fields,
                );
            }
        }
        out.push('\n');
    }
}

/// A value as text in a format: like Flink's print form, except timestamps
/// use the SQL (space) or ISO form without Java's `LocalDateTime` trimming.
fn write_text(out: &mut String, col: &dyn Array, row: usize, standard: TimestampStandard) {
    match col.data_type() {
        DataType::Timestamp(_, tz) => {
            let start = out.len();
            write_value(out, col, row);
            // LocalDateTime.toString() drops ":00" seconds; formats keep them.
            let text = out[start..].trim_end_matches('Z').to_string();
            out.truncate(start);
            let (date, time) = text.split_once('T').unwrap_or((&text, "00:00"));
            let sep = if standard == TimestampStandard::Sql {
                ' '
            } else {
                'T'
            };
            out.push_str(date);
            out.push(sep);
            out.push_str(time);
            if time.len() == 5 {
                out.push_str(":00");
            }
            if tz.is_some() {
                out.push('Z');
            }
        }
        _ => write_value(out, col, row),
    }
}

fn write_json_object<'a>(
    out: &mut String,
    names: impl Iterator<Item = &'a str>,
    columns: &[ArrayRef],
    row: usize,
    standard: TimestampStandard,
    ignore_nulls: bool,
) {
    out.push('{');
    let mut first = true;
    for (name, col) in names.zip(columns) {
        if ignore_nulls && col.is_null(row) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        push_json_string(out, name);
        out.push(':');
        write_json_value(out, col.as_ref(), row, standard, ignore_nulls);
    }
    out.push('}');
}

fn write_json_value(
    out: &mut String,
    col: &dyn Array,
    row: usize,
    standard: TimestampStandard,
    ignore_nulls: bool,
) {
    if col.is_null(row) {
        out.push_str("null");
        return;
    }
    match col.data_type() {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _) => write_value(out, col, row),
        DataType::Struct(fields) => {
            if let Some(s) = col.as_any().downcast_ref::<StructArray>() {
                write_json_object(
                    out,
                    fields.iter().map(|f| f.name().as_str()),
                    s.columns(),
                    row,
                    standard,
                    ignore_nulls,
                );
            }
        }
        DataType::List(_) => {
            let values = col.as_list::<i32>().value(row);
            out.push('[');
            for i in 0..values.len() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(out, values.as_ref(), i, standard, ignore_nulls);
            }
            out.push(']');
        }
        _ => {
            let mut text = String::new();
            write_text(&mut text, col, row, standard);
            push_json_string(out, &text);
        }
    }
}

fn push_json_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

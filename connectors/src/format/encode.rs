//! Writing rows as CSV or JSON lines, the way Flink's formats write them
//! (timestamps as `yyyy-MM-dd HH:mm:ss[.f]`, doubles as Java prints them).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, StructArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;

use super::Format;
use super::csv::quote_field;
use super::json::TimestampStandard;
use eddy_engine::RowKind;
use eddy_engine::value_text::{write_decimal_stripped, write_sql_string, write_value};

/// Appends every row of `batch` to `out`, one line each.
pub fn encode_batch(out: &mut String, batch: &RecordBatch, format: &Format) {
    for row in 0..batch.num_rows() {
        encode_row(out, batch, row, RowKind::Insert, format);
        out.push('\n');
    }
}

/// Appends row `row` of `batch`, a change of kind `kind`, to `out` as one
/// record (no line end). Only changelog formats write the kind.
pub fn encode_row(
    out: &mut String,
    batch: &RecordBatch,
    row: usize,
    kind: RowKind,
    format: &Format,
) {
    match format {
        Format::Csv(o) => {
            let mut field = String::new();
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
                if is_textual(col.data_type()) {
                    out.push_str(&quote_field(&field, o));
                } else {
                    out.push_str(&field);
                }
            }
        }
        Format::Raw => {
            if let Some(col) = batch.columns().first().filter(|c| !c.is_null(row)) {
                write_value(out, col.as_ref(), row);
            }
        }
        Format::Json(o) => write_json_object(
            out,
            batch.schema().fields().iter().map(|f| f.name().as_str()),
            batch.columns(),
            row,
            o.timestamp_standard,
            o.ignore_null_fields,
        ),
        Format::DebeziumJson(o) => {
            let image = |out: &mut String| {
                write_json_object(
                    out,
                    batch.schema().fields().iter().map(|f| f.name().as_str()),
                    batch.columns(),
                    row,
                    o.json.timestamp_standard,
                    o.json.ignore_null_fields,
                )
            };
            out.push_str("{\"before\":");
            if kind.is_addition() {
                out.push_str("null,\"after\":");
                image(out);
                out.push_str(",\"op\":\"c\"}");
            } else {
                image(out);
                out.push_str(",\"after\":null,\"op\":\"d\"}");
            }
        }
    }
}

/// Whether a column is written as a (possibly quoted) string rather than a
/// bare number or boolean.
fn is_textual(t: &DataType) -> bool {
    !matches!(
        t,
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
            | DataType::Decimal128(_, _)
    )
}

/// A value as Flink's formats write it: decimals without trailing zeros,
/// timestamps as `yyyy-MM-dd HH:mm:ss[.f]` (or with `T`) with the fraction
/// trimmed, other values as Flink prints them.
fn write_text(out: &mut String, col: &dyn Array, row: usize, standard: TimestampStandard) {
    match col.data_type() {
        DataType::Decimal128(_, scale) => {
            if let Some(d) = col.as_any().downcast_ref::<Decimal128Array>() {
                write_decimal_stripped(out, d.value(row), *scale);
            }
        }
        DataType::Timestamp(_, tz) => {
            let start = out.len();
            write_sql_string(out, col, row);
            // SQL form has a space and a padded fraction; formats trim it.
            if standard == TimestampStandard::Iso8601 {
                out.replace_range(start + 10..start + 11, "T");
            }
            if out[start..].contains('.') {
                while out.ends_with('0') {
                    out.pop();
                }
                if out.ends_with('.') {
                    out.pop();
                }
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
        DataType::Decimal128(_, _) => write_text(out, col, row, standard),
        t if !is_textual(t) => write_value(out, col, row),
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
    // Most strings need no escapes: copied as they are.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

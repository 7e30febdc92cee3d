//! More of Flink's string functions: TO_BASE64 / FROM_BASE64 (the `base64`
//! crate, padded standard alphabet), IS_ALPHA / IS_DIGIT / IS_DECIMAL,
//! LOCATE and INSTR (1-based, 0 when absent), and ELEMENT of a
//! one-element array.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int32Builder, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};

use super::{FlinkFunction, map_strings};

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::{Int64, Utf8};
    let test = |name, kernel| FlinkFunction::new(name, vec![vec![Utf8]], DataType::Boolean, kernel);
    vec![
        FlinkFunction::new("to_base64", vec![vec![Utf8]], Utf8, to_base64),
        FlinkFunction::new("from_base64", vec![vec![Utf8]], Utf8, from_base64),
        test("is_alpha", |a, n| {
            test_each(a, n, |s| {
                !s.is_empty() && s.chars().all(char::is_alphabetic)
            })
        }),
        test("is_digit", |a, n| {
            test_each(a, n, |s| {
                !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
            })
        }),
        test("is_decimal", |a, n| test_each(a, n, is_decimal)),
        FlinkFunction::new(
            "locate",
            vec![vec![Utf8, Utf8], vec![Utf8, Utf8, Int64]],
            DataType::Int32,
            locate,
        ),
        FlinkFunction::new("instr", vec![vec![Utf8, Utf8]], DataType::Int32, |a, n| {
            locate(&[a[1].clone(), a[0].clone()], n)
        }),
        FlinkFunction::new(
            FLINK_SUBSTRING,
            vec![vec![Utf8, Int64], vec![Utf8, Int64, Int64]],
            Utf8,
            substring,
        ),
        FlinkFunction::any_args("element", 1, DataType::Null, element).with_return_type(|args| {
            match &args[0] {
                DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                    Ok(f.data_type().clone())
                }
                t => plan_err!("ELEMENT takes an array, not {t}"),
            }
        }),
    ]
}

/// The name SUBSTRING and SUBSTR are written as.
pub const FLINK_SUBSTRING: &str = "flink_substring";

/// Flink's SUBSTRING(s, start [, length]): `start` counts characters from
/// 1, 0 is 1 too, and a negative one counts from the end; a negative
/// length is NULL; past the end is empty.
fn substring(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = cast(&args[0], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let starts = cast(&args[1], &DataType::Int64)?;
    let starts = starts.as_primitive::<Int64Type>();
    let lengths = match args.get(2) {
        Some(l) => Some(cast(l, &DataType::Int64)?),
        None => None,
    };
    let lengths = lengths.as_ref().map(|l| l.as_primitive::<Int64Type>());
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let length = match lengths {
            Some(l) if l.is_null(i) => {
                out.append_null();
                continue;
            }
            Some(l) => Some(l.value(i)),
            None => None,
        };
        if text.is_null(i) || starts.is_null(i) || length.is_some_and(|n| n < 0) {
            out.append_null();
            continue;
        }
        let chars: Vec<char> = text.value(i).chars().collect();
        let n = chars.len() as i64;
        let pos = starts.value(i);
        let start = match pos {
            p if p > 0 => p - 1,
            p if p < 0 => n + p,
            _ => 0,
        };
        if start < 0 || start >= n {
            out.append_value("");
            continue;
        }
        let end = match length {
            Some(l) => n.min(start.saturating_add(l)),
            None => n,
        };
        out.append_value(
            chars[start as usize..end as usize]
                .iter()
                .collect::<String>(),
        );
    }
    Ok(Arc::new(out.finish()))
}

fn to_base64(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    map_strings(args, rows, |s| Some(STANDARD.encode(s[0].as_bytes())))
}

/// The text whose base64 form `s` is; text that is not base64 fails the
/// query, as in Flink.
fn from_base64(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = cast(&args[0], &DataType::Utf8)?;
    let s = s.as_string::<i32>();
    let mut out = StringBuilder::new();
    for i in 0..rows {
        if s.is_null(i) {
            out.append_null();
            continue;
        }
        match STANDARD.decode(s.value(i).as_bytes()) {
            Ok(bytes) => out.append_value(String::from_utf8_lossy(&bytes)),
            Err(e) => return exec_err!("FROM_BASE64: '{}' is not base64: {e}", s.value(i)),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn test_each(args: &[ArrayRef], rows: usize, f: impl Fn(&str) -> bool) -> Result<ArrayRef> {
    let s = cast(&args[0], &DataType::Utf8)?;
    let s = s.as_string::<i32>();
    let mut out = BooleanBuilder::new();
    for i in 0..rows {
        if s.is_valid(i) {
            out.append_value(f(s.value(i)));
        } else {
            out.append_null();
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Whether `s` is a decimal number: digits with at most one point and an
/// optional sign.
fn is_decimal(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut digits = 0;
    let mut points = 0;
    for c in body.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => points += 1,
            _ => return false,
        }
    }
    digits > 0 && points <= 1
}

/// `LOCATE(needle, text [, start])`: the 1-based position of `needle` in
/// `text` at or after character `start` (1 when before it), 0 when it is
/// not there; an empty needle is at 1.
fn locate(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let needle = cast(&args[0], &DataType::Utf8)?;
    let needle = needle.as_string::<i32>();
    let text = cast(&args[1], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let start = match args.get(2) {
        Some(a) => Some(cast(a, &DataType::Int64)?),
        None => None,
    };
    let start = start.as_ref().map(|a| a.as_primitive::<Int64Type>());
    let mut out = Int32Builder::new();
    for i in 0..rows {
        if needle.is_null(i) || text.is_null(i) || start.is_some_and(|s| s.is_null(i)) {
            out.append_null();
            continue;
        }
        // As Flink: an empty needle is at 1, and a start before the first
        // character counts from it.
        if needle.value(i).is_empty() {
            out.append_value(1);
            continue;
        }
        let from = start.map_or(1, |s| s.value(i)).max(1);
        let t = text.value(i);
        let skip = t.char_indices().nth(from as usize - 1).map(|(b, _)| b);
        let found = skip.and_then(|b| t[b..].find(needle.value(i)).map(|at| b + at));
        out.append_value(found.map_or(0, |byte| t[..byte].chars().count() as i32 + 1));
    }
    Ok(Arc::new(out.finish()))
}

/// `ELEMENT(array)`: the one element of a one-element array; NULL for an
/// empty or NULL array; an error for more elements (Flink's).
fn element(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let list = cast(
        &args[0],
        &DataType::List(match args[0].data_type() {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => f.clone(),
            t => return exec_err!("ELEMENT takes an array, not {t}"),
        }),
    )?;
    let list = list.as_list::<i32>();
    let mut picks = Vec::with_capacity(rows);
    for i in 0..rows {
        if list.is_null(i) || list.value_length(i) == 0 {
            picks.push(None);
        } else if list.value_length(i) == 1 {
            picks.push(Some(list.value_offsets()[i] as u32));
        } else {
            return exec_err!("Array has more than one element.");
        }
    }
    let indices = datafusion::arrow::array::UInt32Array::from(picks);
    Ok(datafusion::arrow::compute::take(
        list.values().as_ref(),
        &indices,
        None,
    )?)
}

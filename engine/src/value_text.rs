//! Values as Flink writes them as text: `Row.toString()` of the external
//! Java types (`+I[1, alice, 2024-01-01T10:00]`), used by the `print`
//! connector and by `SELECT` results, and the SQL form of
//! `CAST(x AS STRING)` (`2024-01-01 10:00:00.000`, `TRUE`). Every value is
//! written the way the JVM writes it, so output compares byte for byte with
//! Flink's.

use std::fmt::Write;

use crate::batch::{ChangeBatch, RowKind};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeStringArray,
    MapArray, StringArray, StringViewArray, StructArray, Time32MillisecondArray, Time32SecondArray,
    Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};

/// Every row of `batch` as `+I[v1, v2]`, in order.
pub fn change_lines(batch: &ChangeBatch) -> Vec<String> {
    (0..batch.num_rows())
        .map(|row| {
            let mut line = String::new();
            write_row(&mut line, batch.kind(row), batch.data.columns(), row);
            line
        })
        .collect()
}

/// Writes row `row` of `columns` as `+I[v1, v2]`.
pub fn write_row(out: &mut String, kind: RowKind, columns: &[ArrayRef], row: usize) {
    out.push_str(kind.short());
    out.push('[');
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(out, c.as_ref(), row);
    }
    out.push(']');
}

/// Writes one value as Java's `toString` of Flink's external type would.
pub fn write_value(out: &mut String, array: &dyn Array, row: usize) {
    if array.is_null(row) {
        out.push_str("null");
        return;
    }
    macro_rules! display {
        ($t:ty) => {{
            if let Some(a) = array.as_any().downcast_ref::<$t>() {
                let _ = write!(out, "{}", a.value(row));
            }
        }};
    }
    match array.data_type() {
        DataType::Utf8 => {
            if let Some(a) = array.as_any().downcast_ref::<StringArray>() {
                out.push_str(a.value(row));
            }
        }
        DataType::Int64 => {
            if let Some(a) = array.as_any().downcast_ref::<Int64Array>() {
                push_i64(out, a.value(row));
            }
        }
        DataType::Int32 => {
            if let Some(a) = array.as_any().downcast_ref::<Int32Array>() {
                push_i64(out, i64::from(a.value(row)));
            }
        }
        DataType::LargeUtf8 => display!(LargeStringArray),
        DataType::Utf8View => display!(StringViewArray),
        DataType::Boolean => display!(BooleanArray),
        DataType::Int8 => display!(Int8Array),
        DataType::Int16 => display!(Int16Array),
        DataType::UInt8 => display!(UInt8Array),
        DataType::UInt16 => display!(UInt16Array),
        DataType::UInt32 => display!(UInt32Array),
        DataType::UInt64 => display!(UInt64Array),
        DataType::Float64 => {
            if let Some(a) = array.as_any().downcast_ref::<Float64Array>() {
                write_java_double(out, a.value(row));
            }
        }
        DataType::Float32 => {
            if let Some(a) = array.as_any().downcast_ref::<Float32Array>() {
                write_java_float(out, a.value(row));
            }
        }
        DataType::Decimal128(_, scale) => {
            if let Some(a) = array.as_any().downcast_ref::<Decimal128Array>() {
                write_decimal(out, a.value(row), *scale);
            }
        }
        DataType::Date32 => {
            if let Some(a) = array.as_any().downcast_ref::<Date32Array>() {
                write_date(out, a.value(row));
            }
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            if let Some(nanos) = time_nanos(array, row) {
                write_time(out, nanos);
            }
        }
        DataType::Timestamp(unit, tz) => {
            if let Some(nanos) = timestamp_nanos(array, *unit, row) {
                write_timestamp(out, nanos, tz.is_some());
            }
        }
        DataType::Struct(_) => {
            if let Some(s) = array.as_any().downcast_ref::<StructArray>() {
                write_row(out, RowKind::Insert, s.columns(), row);
            }
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
            let values = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                DataType::LargeList(_) => array.as_list::<i64>().value(row),
                _ => array.as_fixed_size_list().value(row),
            };
            out.push('[');
            for i in 0..values.len() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, values.as_ref(), i);
            }
            out.push(']');
        }
        DataType::Map(_, _) => {
            if let Some(m) = array.as_any().downcast_ref::<MapArray>() {
                let entries = m.value(row);
                out.push('{');
                let order = java_hash_map_order(entries.column(0).as_ref());
                for (n, i) in order.into_iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    write_value(out, entries.column(0).as_ref(), i);
                    out.push('=');
                    write_value(out, entries.column(1).as_ref(), i);
                }
                out.push('}');
            }
        }
        DataType::Binary => {
            if let Some(a) = array.as_any().downcast_ref::<BinaryArray>() {
                let bytes: Vec<String> = a
                    .value(row)
                    .iter()
                    .map(|b| (*b as i8).to_string())
                    .collect();
                let _ = write!(out, "[{}]", bytes.join(", "));
            }
        }
        DataType::Null => out.push_str("null"),
        other => {
            let _ = write!(out, "<{other}>");
        }
    }
}

/// An integer in decimal, without the formatting machinery (sinks write
/// one for most rows).
fn push_i64(out: &mut String, v: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// `yyyy-MM-dd HH:mm:ss`, without the formatting machinery (timestamps
/// are written for every row of a JSON or CSV sink).
fn push_date_time(out: &mut String, d: &NaiveDateTime) {
    use chrono::Datelike;
    let year = d.year();
    if !(0..=9999).contains(&year) {
        let _ = write!(out, "{}", d.format("%Y-%m-%d %H:%M:%S"));
        return;
    }
    let mut buf = *b"0000-00-00 00:00:00";
    let mut put = |at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, d.month(), 2);
    put(8, d.day(), 2);
    put(11, d.hour(), 2);
    put(14, d.minute(), 2);
    put(17, d.second(), 2);
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Writes one value as Flink's `CAST(x AS STRING)` does: timestamps as
/// `yyyy-MM-dd HH:mm:ss[.fff]` with as many fraction digits as the type's
/// precision, booleans as `TRUE`/`FALSE`; other values as [`write_value`].
pub fn write_sql_string(out: &mut String, array: &dyn Array, row: usize) {
    if array.is_null(row) {
        out.push_str("null");
        return;
    }
    match array.data_type() {
        DataType::Boolean => {
            if let Some(a) = array.as_any().downcast_ref::<BooleanArray>() {
                out.push_str(if a.value(row) { "TRUE" } else { "FALSE" });
            }
        }
        // Bytes are decoded as UTF-8 (invalid sequences replaced).
        DataType::Binary => {
            if let Some(a) = array.as_any().downcast_ref::<BinaryArray>() {
                out.push_str(&String::from_utf8_lossy(a.value(row)));
            }
        }
        DataType::Timestamp(unit, _) => {
            if let Some(nanos) = timestamp_nanos(array, *unit, row) {
                let secs = nanos.div_euclid(1_000_000_000) as i64;
                let frac = nanos.rem_euclid(1_000_000_000) as u32;
                match DateTime::from_timestamp(secs, frac) {
                    Some(d) => {
                        push_date_time(out, &d.naive_utc());
                        write_fraction(out, frac, *unit);
                    }
                    None => {
                        let _ = write!(out, "<timestamp {nanos}>");
                    }
                }
            }
        }
        DataType::Time32(unit) | DataType::Time64(unit) => {
            if let Some(nanos) = time_nanos(array, row) {
                let secs = nanos / 1_000_000_000;
                let _ = write!(
                    out,
                    "{:02}:{:02}:{:02}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                );
                let unit = if *unit == TimeUnit::Millisecond {
                    TimeUnit::Second
                } else {
                    *unit
                };
                write_fraction(out, (nanos % 1_000_000_000) as u32, unit);
            }
        }
        _ => write_value(out, array, row),
    }
}

fn write_fraction(out: &mut String, frac_nanos: u32, unit: TimeUnit) {
    match unit {
        TimeUnit::Second => {}
        TimeUnit::Millisecond => {
            let _ = write!(out, ".{:03}", frac_nanos / 1_000_000);
        }
        TimeUnit::Microsecond => {
            let _ = write!(out, ".{:06}", frac_nanos / 1_000);
        }
        TimeUnit::Nanosecond => {
            let _ = write!(out, ".{frac_nanos:09}");
        }
    }
}

/// Nanoseconds since midnight of a TIME value.
fn time_nanos(array: &dyn Array, row: usize) -> Option<i64> {
    let any = array.as_any();
    match array.data_type() {
        DataType::Time32(TimeUnit::Second) => any
            .downcast_ref::<Time32SecondArray>()
            .map(|a| a.value(row) as i64 * 1_000_000_000),
        DataType::Time32(_) => any
            .downcast_ref::<Time32MillisecondArray>()
            .map(|a| a.value(row) as i64 * 1_000_000),
        DataType::Time64(TimeUnit::Microsecond) => any
            .downcast_ref::<Time64MicrosecondArray>()
            .map(|a| a.value(row) * 1_000),
        DataType::Time64(_) => any
            .downcast_ref::<Time64NanosecondArray>()
            .map(|a| a.value(row)),
        _ => None,
    }
}

/// Nanoseconds since the epoch of a TIMESTAMP value (i128 avoids overflow).
fn timestamp_nanos(array: &dyn Array, unit: TimeUnit, row: usize) -> Option<i128> {
    let any = array.as_any();
    Some(match unit {
        TimeUnit::Second => {
            any.downcast_ref::<TimestampSecondArray>()?.value(row) as i128 * 1_000_000_000
        }
        TimeUnit::Millisecond => {
            any.downcast_ref::<TimestampMillisecondArray>()?.value(row) as i128 * 1_000_000
        }
        TimeUnit::Microsecond => {
            any.downcast_ref::<TimestampMicrosecondArray>()?.value(row) as i128 * 1_000
        }
        TimeUnit::Nanosecond => any.downcast_ref::<TimestampNanosecondArray>()?.value(row) as i128,
    })
}

/// `LocalDate.toString()`: `2024-01-02`.
pub fn write_date(out: &mut String, days: i32) {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    match epoch.checked_add_signed(chrono::Duration::days(days as i64)) {
        Some(d) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        None => {
            let _ = write!(out, "<date {days}>");
        }
    }
}

/// `LocalTime.toString()`: `10:00`, `10:00:01`, `10:00:01.500`.
fn write_time(out: &mut String, nanos: i64) {
    let secs = (nanos / 1_000_000_000) as u32;
    let frac = (nanos % 1_000_000_000) as u32;
    match NaiveTime::from_num_seconds_from_midnight_opt(secs, frac) {
        Some(t) => write_local_time(out, &t, false),
        None => {
            let _ = write!(out, "<time {nanos}>");
        }
    }
}

fn write_local_time(out: &mut String, t: &NaiveTime, always_seconds: bool) {
    let _ = write!(out, "{:02}:{:02}", t.hour(), t.minute());
    let nanos = t.nanosecond() % 1_000_000_000;
    if t.second() > 0 || nanos > 0 || always_seconds {
        let _ = write!(out, ":{:02}", t.second());
        if nanos > 0 {
            if nanos.is_multiple_of(1_000_000) {
                let _ = write!(out, ".{:03}", nanos / 1_000_000);
            } else if nanos.is_multiple_of(1_000) {
                let _ = write!(out, ".{:06}", nanos / 1_000);
            } else {
                let _ = write!(out, ".{nanos:09}");
            }
        }
    }
}

/// `LocalDateTime.toString()` (`2024-01-01T10:00`) or, with a time zone
/// (TIMESTAMP_LTZ), `Instant.toString()` (`2024-01-01T10:00:00Z`).
pub fn write_timestamp(out: &mut String, nanos: i128, instant: bool) {
    let secs = nanos.div_euclid(1_000_000_000) as i64;
    let frac = nanos.rem_euclid(1_000_000_000) as u32;
    let Some(dt) = DateTime::from_timestamp(secs, frac).map(|d| d.naive_utc()) else {
        let _ = write!(out, "<timestamp {nanos}>");
        return;
    };
    write_datetime(out, &dt, instant);
}

fn write_datetime(out: &mut String, dt: &NaiveDateTime, instant: bool) {
    let _ = write!(out, "{}T", dt.date().format("%Y-%m-%d"));
    write_local_time(out, &dt.time(), instant);
    if instant {
        out.push('Z');
    }
}

/// `BigDecimal.toString()` of an unscaled value and scale.
pub fn write_decimal(out: &mut String, unscaled: i128, scale: i8) {
    if scale <= 0 {
        let _ = write!(
            out,
            "{}",
            unscaled.saturating_mul(10i128.saturating_pow((-scale) as u32))
        );
        return;
    }
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    if unscaled < 0 {
        out.push('-');
    }
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        let _ = write!(out, "{int}.{frac}");
    } else {
        let _ = write!(out, "0.{}{}", "0".repeat(scale - digits.len()), digits);
    }
}

/// `BigDecimal.stripTrailingZeros().toString()`, as Flink's csv and json
/// formats write decimals: `12.50` is `12.5`, `100.00` is `1E+2`.
pub fn write_decimal_stripped(out: &mut String, unscaled: i128, scale: i8) {
    let (mut unscaled, mut scale) = (unscaled, scale as i32);
    if unscaled == 0 {
        out.push('0');
        return;
    }
    while unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    let digits = unscaled.unsigned_abs().to_string();
    let adjusted = digits.len() as i32 - 1 - scale;
    if scale >= 0 && adjusted >= -6 {
        write_decimal(out, unscaled, scale as i8);
        return;
    }
    if unscaled < 0 {
        out.push('-');
    }
    let (first, rest) = digits.split_at(1);
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    let _ = write!(out, "E{}{adjusted}", if adjusted >= 0 { "+" } else { "" });
}

/// `Double.toString(d)`: the shortest digits that round-trip, plain for
/// 1e-3 <= |d| < 1e7 and `d.dddE±n` otherwise.
pub fn write_java_double(out: &mut String, v: f64) {
    let plain = v == 0.0 || (1e-3..1e7).contains(&v.abs());
    write_java_floating(
        out,
        v.is_nan(),
        v.is_infinite(),
        v > 0.0,
        || format!("{v:e}"),
        plain,
    );
}

/// `Float.toString(f)`, as [`write_java_double`] for 32-bit floats.
pub fn write_java_float(out: &mut String, v: f32) {
    let plain = v == 0.0 || (1e-3..1e7).contains(&v.abs());
    write_java_floating(
        out,
        v.is_nan(),
        v.is_infinite(),
        v > 0.0,
        || format!("{v:e}"),
        plain,
    );
}

fn write_java_floating(
    out: &mut String,
    nan: bool,
    infinite: bool,
    positive: bool,
    shortest: impl FnOnce() -> String,
    plain: bool,
) {
    if nan {
        out.push_str("NaN");
    } else if infinite {
        out.push_str(if positive { "Infinity" } else { "-Infinity" });
    } else {
        write_java_decimal(out, &shortest(), plain);
    }
}

/// Rewrites Rust's shortest `{:e}` form (`-1.2345e3`) in Java's style.
fn write_java_decimal(out: &mut String, sci: &str, plain: bool) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    if !plain {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let _ = write!(out, "{first}.{rest}E{exp}");
        return;
    }
    // plain: place the decimal point `exp + 1` digits in
    let point = exp + 1;
    if point <= 0 {
        let _ = write!(out, "0.{}{}", "0".repeat((-point) as usize), digits);
    } else if point as usize >= digits.len() {
        let _ = write!(
            out,
            "{}{}.0",
            digits,
            "0".repeat(point as usize - digits.len())
        );
    } else {
        let (int, frac) = digits.split_at(point as usize);
        let _ = write!(out, "{int}.{frac}");
    }
}

/// The order in which a Java `HashMap` filled with these keys in order
/// iterates them (Flink prints a MAP from one): by bucket of the spread
/// `hashCode` in the table its size grows to, then by insertion. Keys
/// whose Java hash is not known here keep their order.
fn java_hash_map_order(keys: &dyn Array) -> Vec<usize> {
    let n = keys.len();
    let hash = |i: usize| -> Option<i32> {
        if keys.is_null(i) {
            return Some(0);
        }
        if let Some(a) = keys.as_any().downcast_ref::<StringArray>() {
            return Some(
                a.value(i)
                    .encode_utf16()
                    .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c))),
            );
        }
        if let Some(a) = keys.as_any().downcast_ref::<Int32Array>() {
            return Some(a.value(i));
        }
        if let Some(a) = keys.as_any().downcast_ref::<Int64Array>() {
            let v = a.value(i);
            return Some((v ^ ((v as u64) >> 32) as i64) as i32);
        }
        None
    };
    let Some(hashes) = (0..n).map(hash).collect::<Option<Vec<i32>>>() else {
        return (0..n).collect();
    };
    // The table doubles from 16 while the size passes 3/4 of it.
    let mut capacity = 16usize;
    while n > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |h: i32| {
        let h = h as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|i| (bucket(hashes[*i]), *i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(v: f64) -> String {
        let mut s = String::new();
        write_java_double(&mut s, v);
        s
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(double(3.5), "3.5");
        assert_eq!(double(0.0), "0.0");
        assert_eq!(double(-0.0), "-0.0");
        assert_eq!(double(1e10), "1.0E10");
        assert_eq!(double(1e-5), "1.0E-5");
        assert_eq!(double(12345678.9), "1.23456789E7");
        assert_eq!(double(0.0035), "0.0035");
        assert_eq!(double(100.0), "100.0");
        assert_eq!(double(0.001), "0.001");
        assert_eq!(double(9999999.0), "9999999.0");
        assert_eq!(double(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn timestamps_print_like_local_date_time_and_instant() {
        let mut s = String::new();
        write_timestamp(&mut s, 1_704_103_200_000_000_000, false);
        assert_eq!(s, "2024-01-01T10:00");
        s.clear();
        write_timestamp(&mut s, 1_704_103_201_500_000_000, false);
        assert_eq!(s, "2024-01-01T10:00:01.500");
        s.clear();
        write_timestamp(&mut s, 1_704_103_200_000_000_000, true);
        assert_eq!(s, "2024-01-01T10:00:00Z");
    }

    #[test]
    fn stripped_decimals_as_big_decimal_prints_them() {
        let f = |u, s| {
            let mut out = String::new();
            write_decimal_stripped(&mut out, u, s);
            out
        };
        assert_eq!(f(1250, 2), "12.5");
        assert_eq!(f(10000, 2), "1E+2");
        assert_eq!(f(-300, 2), "-3");
        assert_eq!(f(99, 2), "0.99");
        assert_eq!(f(120000, 2), "1.2E+3");
        assert_eq!(f(0, 2), "0");
    }

    #[test]
    fn decimals_keep_their_scale() {
        let mut s = String::new();
        write_decimal(&mut s, 1500, 3);
        assert_eq!(s, "1.500");
        s.clear();
        write_decimal(&mut s, -5, 2);
        assert_eq!(s, "-0.05");
    }
}

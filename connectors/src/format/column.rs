//! Builders that turn text (CSV fields, JSON values, nested JSON for ROW,
//! ARRAY and MAP) into Arrow columns of a table's types, with Flink's parsing rules (trimmed numbers,
//! `Boolean.parseBoolean`, `yyyy-MM-dd HH:mm:ss[.f]` timestamps, HALF_UP
//! decimals).

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, NullArray,
    StringBuilder, Time32MillisecondBuilder, Time64MicrosecondBuilder, Time64NanosecondBuilder,
    TimestampMicrosecondBuilder, TimestampMillisecondBuilder, TimestampNanosecondBuilder,
    TimestampSecondBuilder, new_null_array,
};
use datafusion::arrow::array::{ListArray, MapArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use serde_json::Value;

/// Why a value could not be read.
pub type ParseError = String;

/// One column being built.
pub enum ColumnBuilder {
    /// STRING / VARCHAR.
    Utf8(StringBuilder),
    /// BOOLEAN.
    Bool(BooleanBuilder),
    /// TINYINT.
    I8(Int8Builder),
    /// SMALLINT.
    I16(Int16Builder),
    /// INT.
    I32(Int32Builder),
    /// BIGINT.
    I64(Int64Builder),
    /// FLOAT.
    F32(Float32Builder),
    /// DOUBLE.
    F64(Float64Builder),
    /// DECIMAL(p, s).
    Decimal(Decimal128Builder, u8, i8),
    /// DATE.
    Date(Date32Builder),
    /// TIME: nanoseconds of the day, scaled to the unit at the end.
    Time(Vec<Option<i64>>, DataType),
    /// TIMESTAMP / TIMESTAMP_LTZ: nanoseconds since the epoch.
    Timestamp(Vec<Option<i64>>, DataType),
    /// ROW / ARRAY / MAP (JSON only): values kept until the batch is built.
    Nested(Vec<Value>, DataType),
}

impl ColumnBuilder {
    /// A builder for `data_type`, or an error for types no format reads.
    pub fn new(data_type: &DataType) -> Result<Self, ParseError> {
        Ok(match data_type {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
                Self::Utf8(StringBuilder::new())
            }
            DataType::Boolean => Self::Bool(BooleanBuilder::new()),
            DataType::Int8 => Self::I8(Int8Builder::new()),
            DataType::Int16 => Self::I16(Int16Builder::new()),
            DataType::Int32 => Self::I32(Int32Builder::new()),
            DataType::Int64 => Self::I64(Int64Builder::new()),
            DataType::Float32 => Self::F32(Float32Builder::new()),
            DataType::Float64 => Self::F64(Float64Builder::new()),
            DataType::Decimal128(p, s) => Self::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| e.to_string())?,
                *p,
                *s,
            ),
            DataType::Date32 => Self::Date(Date32Builder::new()),
            DataType::Time32(_) | DataType::Time64(_) => Self::Time(vec![], data_type.clone()),
            DataType::Timestamp(_, _) => Self::Timestamp(vec![], data_type.clone()),
            DataType::Struct(_) | DataType::List(_) | DataType::Map(_, _) | DataType::Null => {
                Self::Nested(vec![], data_type.clone())
            }
            other => return Err(format!("type {other} cannot be read by this format")),
        })
    }

    /// Appends a NULL.
    pub fn append_null(&mut self) {
        match self {
            Self::Utf8(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::I8(b) => b.append_null(),
            Self::I16(b) => b.append_null(),
            Self::I32(b) => b.append_null(),
            Self::I64(b) => b.append_null(),
            Self::F32(b) => b.append_null(),
            Self::F64(b) => b.append_null(),
            Self::Decimal(b, _, _) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(v, _) | Self::Timestamp(v, _) => v.push(None),
            Self::Nested(v, _) => v.push(Value::Null),
        }
    }

    /// Appends a value given as text (a CSV field, a JSON string).
    pub fn append_str(&mut self, s: &str) -> Result<(), ParseError> {
        match self {
            Self::Utf8(b) => b.append_value(s),
            Self::Bool(b) => b.append_value(s.trim().eq_ignore_ascii_case("true")),
            Self::I8(b) => b.append_value(parse_int(s)?),
            Self::I16(b) => b.append_value(parse_int(s)?),
            Self::I32(b) => b.append_value(parse_int(s)?),
            Self::I64(b) => b.append_value(parse_int(s)?),
            Self::F32(b) => b.append_value(parse_float(s)? as f32),
            Self::F64(b) => b.append_value(parse_float(s)?),
            Self::Decimal(b, p, sc) => match parse_decimal(s.trim(), *p, *sc)? {
                Some(v) => b.append_value(v),
                None => b.append_null(),
            },
            Self::Date(b) => b.append_value(parse_date(s.trim())?),
            Self::Time(v, _) => v.push(Some(parse_time(s.trim())?)),
            Self::Timestamp(v, _) => v.push(Some(parse_timestamp(s.trim())?)),
            Self::Nested(v, _) => {
                let parsed: Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
                v.push(parsed);
            }
        }
        Ok(())
    }

    /// Appends a JSON value.
    pub fn append_json(&mut self, v: &Value) -> Result<(), ParseError> {
        match (self, v) {
            (this, Value::Null) => this.append_null(),
            (Self::Nested(values, _), v) => values.push(v.clone()),
            (Self::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Self::Utf8(b), Value::String(s)) => b.append_value(s),
            (Self::Utf8(b), other) => b.append_value(other.to_string()),
            (Self::I64(b), Value::Number(n)) if n.is_i64() => {
                b.append_value(n.as_i64().unwrap_or(0))
            }
            (Self::F64(b), Value::Number(n)) => b.append_value(n.as_f64().unwrap_or(f64::NAN)),
            (Self::F32(b), Value::Number(n)) => {
                b.append_value(n.as_f64().unwrap_or(f64::NAN) as f32)
            }
            (
                this @ (Self::I8(_) | Self::I16(_) | Self::I32(_) | Self::I64(_)),
                Value::Number(n),
            ) if n.is_f64() => {
                // Jackson's asInt/asLong truncate a fractional number.
                return this.append_str(&(n.as_f64().unwrap_or(0.0) as i64).to_string());
            }
            (this, Value::String(s)) => return this.append_str(s),
            (this, Value::Number(n)) => return this.append_str(&n.to_string()),
            (this, Value::Bool(b)) => return this.append_str(if *b { "true" } else { "false" }),
            (_, other) => return Err(format!("unexpected JSON value {other}")),
        }
        Ok(())
    }

    /// Number of values appended since the last `finish`.
    pub fn len(&self) -> usize {
        match self {
            Self::Utf8(b) => b.len(),
            Self::Bool(b) => b.len(),
            Self::I8(b) => b.len(),
            Self::I16(b) => b.len(),
            Self::I32(b) => b.len(),
            Self::I64(b) => b.len(),
            Self::F32(b) => b.len(),
            Self::F64(b) => b.len(),
            Self::Decimal(b, _, _) => b.len(),
            Self::Date(b) => b.len(),
            Self::Time(v, _) | Self::Timestamp(v, _) => v.len(),
            Self::Nested(v, _) => v.len(),
        }
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops values past `len` (a row that failed in a later column).
    pub fn truncate_to(&mut self, len: usize) -> Result<(), ParseError> {
        match self {
            Self::Time(v, _) | Self::Timestamp(v, _) => {
                v.truncate(len);
                return Ok(());
            }
            Self::Nested(v, _) => {
                v.truncate(len);
                return Ok(());
            }
            _ if self.len() == len => return Ok(()),
            _ => {}
        }
        // Arrow builders cannot pop: rebuild from the finished array.
        let array = self.finish()?;
        let kept = array.slice(0, len);
        *self = Self::new(kept.data_type())?;
        self.extend_from(&kept)
    }

    fn extend_from(&mut self, array: &ArrayRef) -> Result<(), ParseError> {
        let mut text = String::new();
        for i in 0..array.len() {
            if array.is_null(i) {
                self.append_null();
                continue;
            }
            match self {
                Self::Utf8(b) => {
                    text.clear();
                    eddy_engine::value_text::write_value(&mut text, array.as_ref(), i);
                    b.append_value(&text);
                }
                _ => {
                    let v = datafusion::arrow::util::display::array_value_to_string(array, i)
                        .map_err(|e| e.to_string())?;
                    self.append_str(&v)?;
                }
            }
        }
        Ok(())
    }

    /// The built column.
    pub fn finish(&mut self) -> Result<ArrayRef, ParseError> {
        Ok(match self {
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::I8(b) => Arc::new(b.finish()),
            Self::I16(b) => Arc::new(b.finish()),
            Self::I32(b) => Arc::new(b.finish()),
            Self::I64(b) => Arc::new(b.finish()),
            Self::F32(b) => Arc::new(b.finish()),
            Self::F64(b) => Arc::new(b.finish()),
            Self::Decimal(b, _, _) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Time(v, dt) => time_array(std::mem::take(v), dt),
            Self::Timestamp(v, dt) => timestamp_array(std::mem::take(v), dt),
            Self::Nested(v, dt) => {
                let values = std::mem::take(v);
                if *dt == DataType::Null {
                    Arc::new(NullArray::new(values.len()))
                } else {
                    let refs: Vec<Option<&Value>> = values.iter().map(Some).collect();
                    json_to_array(&refs, dt)?
                }
            }
        })
    }
}

fn time_array(values: Vec<Option<i64>>, dt: &DataType) -> ArrayRef {
    let len = values.len();
    match dt {
        DataType::Time32(_) => {
            let mut b = Time32MillisecondBuilder::with_capacity(len);
            values
                .iter()
                .for_each(|v| b.append_option(v.map(|n| (n / 1_000_000) as i32)));
            Arc::new(b.finish())
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let mut b = Time64MicrosecondBuilder::with_capacity(len);
            values
                .iter()
                .for_each(|v| b.append_option(v.map(|n| n / 1_000)));
            Arc::new(b.finish())
        }
        DataType::Time64(_) => {
            let mut b = Time64NanosecondBuilder::with_capacity(len);
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        other => new_null_array(other, len),
    }
}

fn timestamp_array(values: Vec<Option<i64>>, dt: &DataType) -> ArrayRef {
    let len = values.len();
    let DataType::Timestamp(unit, tz) = dt else {
        return new_null_array(dt, len);
    };
    macro_rules! build {
        ($b:ty, $div:expr) => {{
            let mut b = <$b>::with_capacity(len);
            values
                .iter()
                .for_each(|v| b.append_option(v.map(|n| n.div_euclid($div))));
            Arc::new(b.finish().with_timezone_opt(tz.clone()))
        }};
    }
    match unit {
        TimeUnit::Second => build!(TimestampSecondBuilder, 1_000_000_000),
        TimeUnit::Millisecond => build!(TimestampMillisecondBuilder, 1_000_000),
        TimeUnit::Microsecond => build!(TimestampMicrosecondBuilder, 1_000),
        TimeUnit::Nanosecond => build!(TimestampNanosecondBuilder, 1),
    }
}

/// `Integer.parseInt(s.trim())` and friends.
pub fn parse_int<T: std::str::FromStr>(s: &str) -> Result<T, ParseError> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty String".into());
    }
    t.parse::<T>()
        .map_err(|_| format!("For input string: \"{t}\""))
}

/// `Double.parseDouble(s.trim())`.
pub fn parse_float(s: &str) -> Result<f64, ParseError> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty String".into());
    }
    let t = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    match t {
        "NaN" => Ok(f64::NAN),
        "Infinity" | "+Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ if t
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            Err(format!("For input string: \"{t}\""))
        }
        _ => t.parse().map_err(|_| format!("For input string: \"{t}\"")),
    }
}

/// Parses a decimal into an unscaled value of scale `scale`, rounding
/// HALF_UP; `None` when it does not fit `precision` (Flink gives NULL).
pub fn parse_decimal(s: &str, precision: u8, scale: i8) -> Result<Option<i128>, ParseError> {
    let bad = || format!("Character array is not a valid decimal number: \"{s}\"");
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (s, 0),
    };
    let (neg, mantissa) = match mantissa.as_bytes().first() {
        Some(b'-') => (true, &mantissa[1..]),
        Some(b'+') => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // value = digits * 10^(exp - frac.len()); we want value * 10^scale
    let digits: String = format!("{int}{frac}");
    let shift = exp - frac.len() as i32 + scale as i32;
    let mut value: i128 = 0;
    for b in digits.bytes() {
        value = match value
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as i128))
        {
            Some(v) => v,
            None => return Ok(None),
        };
    }
    if shift >= 0 {
        for _ in 0..shift {
            value = match value.checked_mul(10) {
                Some(v) => v,
                None => return Ok(None),
            };
        }
    } else {
        let div = 10i128.checked_pow((-shift) as u32);
        value = match div {
            Some(d) => (value + d / 2) / d,
            None => 0,
        };
    }
    if value >= 10i128.pow(precision as u32) {
        return Ok(None);
    }
    Ok(Some(if neg { -value } else { value }))
}

/// `yyyy-MM-dd` to days since the epoch.
pub fn parse_date(s: &str) -> Result<i32, ParseError> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("Text '{s}' could not be parsed as a DATE"))?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    Ok((d - epoch).num_days() as i32)
}

/// `HH:mm[:ss[.f]]` to nanoseconds of the day.
pub fn parse_time(s: &str) -> Result<i64, ParseError> {
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .map_err(|_| format!("Text '{s}' could not be parsed as a TIME"))?;
    Ok(t.num_seconds_from_midnight() as i64 * 1_000_000_000 + t.nanosecond() as i64)
}

/// `yyyy-MM-dd HH:mm:ss[.f]` (or with `T`, and an optional `Z`) to
/// nanoseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Result<i64, ParseError> {
    let body = s.strip_suffix('Z').unwrap_or(s);
    if let Some(n) = parse_timestamp_fast(body.as_bytes()) {
        return Ok(n);
    }
    let dt = NaiveDateTime::parse_from_str(body, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(body, "%Y-%m-%d %H:%M"))
        .map_err(|_| format!("Text '{s}' could not be parsed as a TIMESTAMP"))?;
    dt.and_utc()
        .timestamp_nanos_opt()
        .ok_or_else(|| format!("Timestamp '{s}' is out of range"))
}

/// The common form `yyyy-MM-dd HH:mm:ss[.fffffffff]` without chrono's
/// format interpreter; `None` for anything else (then chrono decides).
fn parse_timestamp_fast(b: &[u8]) -> Option<i64> {
    fn num(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as i64)
        })
    }
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b' ' && b[10] != b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (hour, minute, second) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut nanos = 0;
    if b.len() > 19 {
        let frac = b.get(20..)?;
        if b[19] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        nanos = num(frac)? * 10i64.pow(9 - frac.len() as u32);
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000_000_000) + nanos)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Builds an array of `data_type` from JSON values (`None` = missing = NULL).
pub fn json_to_array(
    values: &[Option<&Value>],
    data_type: &DataType,
) -> Result<ArrayRef, ParseError> {
    let is_valid = |v: &Option<&Value>| matches!(v, Some(v) if !v.is_null());
    match data_type {
        DataType::Struct(fields) => {
            let nulls = NullBuffer::from(values.iter().map(is_valid).collect::<Vec<bool>>());
            let children = fields
                .iter()
                .map(|f| {
                    let child: Vec<Option<&Value>> = values
                        .iter()
                        .map(|v| v.and_then(|v| v.get(f.name())))
                        .collect();
                    json_to_array(&child, f.data_type())
                })
                .collect::<Result<Vec<_>, _>>()?;
            StructArray::try_new(fields.clone(), children, Some(nulls))
                .map(|a| Arc::new(a) as ArrayRef)
                .map_err(|e| e.to_string())
        }
        DataType::List(field) => {
            let mut items: Vec<Option<&Value>> = vec![];
            let mut lengths = vec![];
            for v in values {
                match v {
                    Some(Value::Array(a)) => {
                        items.extend(a.iter().map(Some));
                        lengths.push(a.len());
                    }
                    Some(Value::Null) | None => lengths.push(0),
                    Some(other) => return Err(format!("expected a JSON array, got {other}")),
                }
            }
            let child = json_to_array(&items, field.data_type())?;
            let nulls = NullBuffer::from(values.iter().map(is_valid).collect::<Vec<bool>>());
            ListArray::try_new(
                field.clone(),
                OffsetBuffer::from_lengths(lengths),
                child,
                Some(nulls),
            )
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| e.to_string())
        }
        DataType::Map(entries_field, sorted) => {
            let DataType::Struct(kv) = entries_field.data_type() else {
                return Err("malformed MAP type".into());
            };
            let mut keys: Vec<Value> = vec![];
            let mut vals: Vec<Option<&Value>> = vec![];
            let mut lengths = vec![];
            for v in values {
                match v {
                    Some(Value::Object(o)) => {
                        for (k, val) in o {
                            keys.push(Value::String(k.clone()));
                            vals.push(Some(val));
                        }
                        lengths.push(o.len());
                    }
                    Some(Value::Null) | None => lengths.push(0),
                    Some(other) => return Err(format!("expected a JSON object, got {other}")),
                }
            }
            let key_refs: Vec<Option<&Value>> = keys.iter().map(Some).collect();
            let key_array = json_to_array(&key_refs, kv[0].data_type())?;
            let value_array = json_to_array(&vals, kv[1].data_type())?;
            let entries = StructArray::try_new(kv.clone(), vec![key_array, value_array], None)
                .map_err(|e| e.to_string())?;
            let nulls = NullBuffer::from(values.iter().map(is_valid).collect::<Vec<bool>>());
            MapArray::try_new(
                entries_field.clone(),
                OffsetBuffer::from_lengths(lengths),
                entries,
                Some(nulls),
                *sorted,
            )
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| e.to_string())
        }
        scalar => {
            let mut b = ColumnBuilder::new(scalar)?;
            for v in values {
                match v {
                    Some(v) => b.append_json(v)?,
                    None => b.append_null(),
                }
            }
            b.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_half_up_and_overflow_to_null() {
        assert_eq!(parse_decimal("1.005", 10, 2), Ok(Some(101)));
        assert_eq!(parse_decimal("-2.5", 10, 0), Ok(Some(-3)));
        assert_eq!(parse_decimal("1e2", 10, 1), Ok(Some(1000)));
        assert_eq!(parse_decimal("123456", 4, 0), Ok(None));
        assert!(parse_decimal("1.2.3", 4, 0).is_err());
    }

    #[test]
    fn numbers_are_trimmed_and_empty_is_an_error() {
        assert_eq!(parse_int::<i32>(" 3"), Ok(3));
        assert_eq!(parse_int::<i32>(""), Err("empty String".to_string()));
        assert_eq!(parse_float("1e10"), Ok(1e10));
        assert!(parse_float("abc").is_err());
    }

    #[test]
    fn timestamps_in_sql_form() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5"), Ok(1_500_000_000));
        assert_eq!(
            parse_timestamp("2024-02-29 23:59:59.999"),
            Ok(1_709_251_199_999_000_000)
        );
        assert_eq!(
            parse_timestamp("2024-02-29T23:59:59"),
            Ok(1_709_251_199_000_000_000)
        );
        assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Ok(-1_000_000_000));
        assert!(parse_timestamp("2024-02-30 00:00:00").is_err());
        assert!(parse_timestamp("yesterday").is_err());
    }
}

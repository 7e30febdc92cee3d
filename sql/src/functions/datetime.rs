//! Flink's date-time functions: DATE_FORMAT and TO_TIMESTAMP with Java
//! `SimpleDateFormat` patterns, TIMESTAMPDIFF.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::common::{Result, exec_err};

use super::FlinkFunction;

pub(super) const TS: DataType = DataType::Timestamp(TimeUnit::Millisecond, None);

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::Utf8;
    vec![
        FlinkFunction::new("date_format", vec![vec![TS, Utf8]], Utf8, date_format),
        FlinkFunction::new(
            "to_timestamp",
            vec![vec![Utf8], vec![Utf8, Utf8]],
            TS,
            to_timestamp,
        ),
        FlinkFunction::new(
            "to_timestamp_ltz",
            vec![
                vec![DataType::Int64],
                vec![DataType::Int64, DataType::Int32],
            ],
            DataType::Timestamp(
                TimeUnit::Millisecond,
                Some(eddy_engine::batch::LTZ_ZONE.into()),
            ),
            to_timestamp_ltz,
        ),
        FlinkFunction::new(
            "from_unixtime",
            vec![vec![DataType::Int64], vec![DataType::Int64, Utf8]],
            Utf8,
            from_unixtime,
        ),
        FlinkFunction::new(
            "timestampdiff",
            vec![vec![Utf8, TS, TS]],
            DataType::Int32,
            timestampdiff,
        ),
    ]
}

/// Milliseconds since the epoch of a timestamp (or timestamp text) column.
pub(super) fn millis(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let ts = match a.data_type() {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
            let s = cast(a, &DataType::Utf8)?;
            let s = s.as_string::<i32>();
            return Ok((0..s.len())
                .map(|i| {
                    (!s.is_null(i))
                        .then(|| parse_sql_timestamp(s.value(i)))
                        .flatten()
                })
                .collect());
        }
        _ => cast(a, &TS)?,
    };
    let ts = ts.as_primitive::<TimestampMillisecondType>();
    Ok((0..ts.len())
        .map(|i| (!ts.is_null(i)).then(|| ts.value(i)))
        .collect())
}

fn parse_sql_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|d| d.and_utc().timestamp_millis())
}

/// A Java `SimpleDateFormat` / `DateTimeFormatter` pattern as a chrono format.
pub fn java_to_chrono(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // quoted literal; '' is a quote
            i += 1;
            if chars.get(i) == Some(&'\'') {
                out.push('\'');
                i += 1;
                continue;
            }
            while i < chars.len() && chars[i] != '\'' {
                push_literal(&mut out, chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let spec = match (c, n) {
            ('y', 2) => "%y",
            ('y', _) | ('u', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', 1) => "%-I",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', 1..=3) => "%3f",
            ('S', 4..=6) => "%6f",
            ('S', _) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('D', _) => "%j",
            ('Z', _) => "%z",
            ('X', _) | ('x', _) => "%:z",
            _ => "",
        };
        if spec.is_empty() {
            for _ in 0..n {
                push_literal(&mut out, c);
            }
        } else {
            out.push_str(spec);
        }
        i += n;
    }
    out
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// `DATE_FORMAT(ts, pattern)`.
fn date_format(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let ts = millis(&args[0])?;
    let fmt = cast(&args[1], &DataType::Utf8)?;
    let fmt = fmt.as_string::<i32>();
    let mut out = StringBuilder::new();
    // The pattern in chrono's terms, and whether it shows only the date.
    let mut pattern: Option<(String, String, bool)> = None;
    // The last text made, by the instant (or the day, for a date-only
    // pattern) it was made for: neighbouring rows mostly share it.
    let mut last: Option<(i64, String)> = None;
    for (i, t) in ts.iter().enumerate().take(rows) {
        let (Some(t), false) = (*t, fmt.is_null(i)) else {
            out.append_null();
            continue;
        };
        let p = fmt.value(i);
        if pattern.as_ref().is_none_or(|(j, _, _)| j != p) {
            pattern = Some((p.to_string(), java_to_chrono(p), date_only(p)));
            last = None;
        }
        let Some((_, chrono_fmt, date_only)) = pattern.as_ref() else {
            continue;
        };
        let key = if *date_only {
            t.div_euclid(86_400_000)
        } else {
            t
        };
        if let Some((k, text)) = &last
            && *k == key
        {
            out.append_value(text);
            continue;
        }
        match DateTime::from_timestamp_millis(t) {
            Some(d) => {
                let mut s = String::new();
                use std::fmt::Write;
                if write!(s, "{}", d.naive_utc().format(chrono_fmt)).is_err() {
                    return exec_err!("DATE_FORMAT: unsupported pattern '{p}'");
                }
                out.append_value(&s);
                last = Some((key, s));
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// The Java date pattern of each row (an optional pattern column, or a
/// default), with its chrono form made once per distinct pattern.
pub(super) struct RowPatterns {
    formats: Option<ArrayRef>,
    default: &'static str,
    last: Option<(String, String)>,
}

impl RowPatterns {
    /// Patterns from `formats` (cast to text), `default` where absent.
    pub(super) fn new(formats: Option<&ArrayRef>, default: &'static str) -> Result<Self> {
        let formats = match formats {
            Some(f) => Some(cast(f, &DataType::Utf8)?),
            None => None,
        };
        Ok(Self {
            formats,
            default,
            last: None,
        })
    }

    /// Row `i`'s pattern, as written and in chrono's terms; `None` where
    /// the pattern is NULL.
    pub(super) fn at(&mut self, i: usize) -> Option<(&str, &str)> {
        let p = match &self.formats {
            None => self.default,
            Some(f) => {
                let f = f.as_string::<i32>();
                if f.is_null(i) {
                    return None;
                }
                f.value(i)
            }
        };
        if self.last.as_ref().is_none_or(|(j, _)| j != p) {
            self.last = Some((p.to_string(), java_to_chrono(p)));
        }
        self.last.as_ref().map(|(j, c)| (j.as_str(), c.as_str()))
    }
}

/// `FROM_UNIXTIME(seconds [, format])`: the instant as text in the
/// session time zone (UTC), by a Java pattern, `yyyy-MM-dd HH:mm:ss` by
/// default (Flink returns a STRING, not a TIMESTAMP).
fn from_unixtime(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let seconds = cast(&args[0], &DataType::Int64)?;
    let seconds = seconds.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    let mut patterns = RowPatterns::new(args.get(1), "yyyy-MM-dd HH:mm:ss")?;
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let (Some((p, chrono_fmt)), true) = (patterns.at(i), seconds.is_valid(i)) else {
            out.append_null();
            continue;
        };
        match DateTime::from_timestamp(seconds.value(i), 0) {
            Some(d) => {
                let mut s = String::new();
                use std::fmt::Write;
                if write!(s, "{}", d.naive_utc().format(chrono_fmt)).is_err() {
                    return exec_err!("FROM_UNIXTIME: unsupported pattern '{p}'");
                }
                out.append_value(&s);
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Whether a Java date pattern shows no time of day (no hour, minute,
/// second, fraction or am/pm letter outside quotes).
fn date_only(pattern: &str) -> bool {
    let mut quoted = false;
    for c in pattern.chars() {
        match c {
            '\'' => quoted = !quoted,
            'H' | 'h' | 'k' | 'K' | 'm' | 's' | 'S' | 'a' | 'n' | 'A' | 'N' | 'X' | 'x' | 'Z'
            | 'z' | 'O' | 'V' | 'v'
                if !quoted =>
            {
                return false;
            }
            _ => {}
        }
    }
    true
}

/// `TO_TIMESTAMP(s [, pattern])`: NULL when `s` does not parse.
fn to_timestamp(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = cast(&args[0], &DataType::Utf8)?;
    let s = s.as_string::<i32>();
    let fmt = args.get(1).map(|f| cast(f, &DataType::Utf8)).transpose()?;
    let mut out = TimestampMillisecondBuilder::new();
    for i in 0..rows {
        if s.is_null(i) {
            out.append_null();
            continue;
        }
        let v = match &fmt {
            None => parse_sql_timestamp(s.value(i)),
            Some(f) => {
                let f = f.as_string::<i32>();
                if f.is_null(i) {
                    None
                } else {
                    let cf = java_to_chrono(f.value(i));
                    let text = s.value(i).trim();
                    NaiveDateTime::parse_from_str(text, &cf)
                        .ok()
                        .or_else(|| {
                            NaiveDate::parse_from_str(text, &cf)
                                .ok()
                                .and_then(|d| d.and_hms_opt(0, 0, 0))
                        })
                        .map(|d| d.and_utc().timestamp_millis())
                }
            }
        };
        out.append_option(v);
    }
    Ok(Arc::new(out.finish()))
}

/// `TO_TIMESTAMP_LTZ(n [, precision])`: the instant `n` seconds
/// (precision 0) or milliseconds (3, the default) after the epoch.
fn to_timestamp_ltz(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let n = cast(&args[0], &DataType::Int64)?;
    let n = n.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    let precision = args.get(1).map(|p| cast(p, &DataType::Int32)).transpose()?;
    let precision = precision
        .as_ref()
        .map(|p| p.as_primitive::<datafusion::arrow::datatypes::Int32Type>());
    let mut out = TimestampMillisecondBuilder::new().with_timezone(eddy_engine::batch::LTZ_ZONE);
    for i in 0..rows {
        if n.is_null(i) {
            out.append_null();
            continue;
        }
        let scale = match precision.map(|p| (!p.is_null(i)).then(|| p.value(i))) {
            None | Some(Some(3)) => 1,
            Some(Some(0)) => 1000,
            Some(p) => {
                return exec_err!(
                    "TO_TIMESTAMP_LTZ: the precision must be 0 or 3, not {}",
                    p.map_or("NULL".to_string(), |p| p.to_string())
                );
            }
        };
        out.append_option(n.value(i).checked_mul(scale));
    }
    Ok(Arc::new(out.finish()))
}

/// `d` plus `m` months, the day cut to the month's last (Jan 31 + 1 month
/// is Feb 29 in a leap year).
fn add_months(d: chrono::NaiveDate, m: i64) -> Option<chrono::NaiveDate> {
    let total = d.year() as i64 * 12 + d.month0() as i64 + m;
    let (year, month) = (total.div_euclid(12) as i32, total.rem_euclid(12) as u32 + 1);
    let last = (28..=31)
        .rev()
        .find(|day| chrono::NaiveDate::from_ymd_opt(year, month, *day).is_some())?;
    chrono::NaiveDate::from_ymd_opt(year, month, d.day().min(last))
}

/// Whole months from date `d1` to date `d0` as Flink (Calcite) counts
/// them: the most months that, added to the earlier (the day cut to the
/// month's end), do not pass the later; negative backwards.
fn months_between_dates(d0: chrono::NaiveDate, d1: chrono::NaiveDate) -> i64 {
    if d0 < d1 {
        return -months_between_dates(d1, d0);
    }
    let mut m = (d0 - d1).num_days() / 31;
    loop {
        match (add_months(d1, m), add_months(d1, m + 1)) {
            (Some(d2), _) if d2 >= d0 => return m,
            (_, Some(d3)) if d3 > d0 => return m,
            (Some(_), Some(_)) => m += 1,
            _ => return m,
        }
    }
}

/// Whole months from `from` to `to`, as Flink counts them: by the dates,
/// less one where they meet on the same day but `to`'s time is earlier.
fn months_between(from: chrono::NaiveDateTime, to: chrono::NaiveDateTime) -> i64 {
    let mut x = months_between_dates(to.date(), from.date());
    if add_months(from.date(), x) == Some(to.date()) && to.time() < from.time() {
        x -= 1;
    }
    x
}

/// `TIMESTAMPDIFF(unit, a, b)`: whole units from `a` to `b`.
fn timestampdiff(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let unit = cast(&args[0], &DataType::Utf8)?;
    let unit = unit.as_string::<i32>();
    let a = millis(&args[1])?;
    let b = millis(&args[2])?;
    let mut out = Int32Builder::new();
    for i in 0..rows {
        let (Some(x), Some(y), false) = (a[i], b[i], unit.is_null(i)) else {
            out.append_null();
            continue;
        };
        let ms = y - x;
        let v = match unit.value(i).to_ascii_uppercase().as_str() {
            "MILLISECOND" => ms,
            "SECOND" => ms / 1_000,
            "MINUTE" => ms / 60_000,
            "HOUR" => ms / 3_600_000,
            "DAY" => ms / 86_400_000,
            "WEEK" => ms / (7 * 86_400_000),
            u @ ("MONTH" | "QUARTER" | "YEAR") => {
                let (Some(dx), Some(dy)) = (
                    DateTime::from_timestamp_millis(x),
                    DateTime::from_timestamp_millis(y),
                ) else {
                    out.append_null();
                    continue;
                };
                let months = months_between(dx.naive_utc(), dy.naive_utc());
                match u {
                    "MONTH" => months,
                    "QUARTER" => months / 3,
                    _ => months / 12,
                }
            }
            other => return exec_err!("TIMESTAMPDIFF: unknown unit {other}"),
        };
        out.append_value(v as i32);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_become_chrono_formats() {
        assert_eq!(java_to_chrono("yyyy-MM-dd HH:mm:ss"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(java_to_chrono("yyyyMMdd'T'HH"), "%Y%m%dT%H");
        assert_eq!(java_to_chrono("HH:mm:ss.SSS"), "%H:%M:%S.%3f");
    }
}

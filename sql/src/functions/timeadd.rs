//! Flink's TIMESTAMPADD(unit, n, t) (months clamp to the month's last day,
//! as Java's `plusMonths`; a DATE stays a DATE) and UNIX_TIMESTAMP: now,
//! or text read by a Java pattern (`yyyy-MM-dd HH:mm:ss` by default, text
//! after what the pattern reads ignored, `Long.MIN_VALUE` for text it
//! cannot read, as Java's `SimpleDateFormat` in Flink) as seconds since
//! the epoch in the session time zone (UTC).

use std::sync::Arc;

use chrono::{DateTime, Months, NaiveDate, NaiveDateTime, TimeDelta};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Builder, Int64Builder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};

use super::FlinkFunction;
use super::datetime::{RowPatterns, TS, millis};

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::Utf8;
    vec![
        FlinkFunction::any_args("timestampadd", 3, TS, timestampadd).with_return_type(|args| {
            match &args[2] {
                DataType::Date32 => Ok(DataType::Date32),
                DataType::Timestamp(..) | DataType::Utf8 | DataType::Null => Ok(TS),
                t => plan_err!("TIMESTAMPADD takes a TIMESTAMP or DATE, not {t}"),
            }
        }),
        FlinkFunction::new(
            "unix_timestamp",
            vec![vec![], vec![Utf8], vec![Utf8, Utf8]],
            DataType::Int64,
            unix_timestamp,
        )
        .volatile(),
    ]
}

/// `t` moved by `n` of `unit`; `None` out of range or for a unit Flink
/// does not add.
fn add(t: NaiveDateTime, unit: &str, n: i64) -> Option<NaiveDateTime> {
    let months = |m: i64| {
        let m = Months::new(u32::try_from(m.unsigned_abs()).ok()?);
        if m.as_u32() == 0 {
            Some(t)
        } else if n >= 0 {
            t.checked_add_months(m)
        } else {
            t.checked_sub_months(m)
        }
    };
    match unit {
        "MICROSECOND" => t.checked_add_signed(TimeDelta::microseconds(n)),
        "MILLISECOND" => t.checked_add_signed(TimeDelta::try_milliseconds(n)?),
        "SECOND" => t.checked_add_signed(TimeDelta::try_seconds(n)?),
        "MINUTE" => t.checked_add_signed(TimeDelta::try_minutes(n)?),
        "HOUR" => t.checked_add_signed(TimeDelta::try_hours(n)?),
        "DAY" => t.checked_add_signed(TimeDelta::try_days(n)?),
        "WEEK" => t.checked_add_signed(TimeDelta::try_weeks(n)?),
        "MONTH" => months(n),
        "QUARTER" => months(n.checked_mul(3)?),
        "YEAR" => months(n.checked_mul(12)?),
        _ => None,
    }
}

fn timestampadd(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let unit = cast(&args[0], &DataType::Utf8)?;
    let unit = unit.as_string::<i32>();
    let n = cast(&args[1], &DataType::Int64)?;
    let n = n.as_primitive::<Int64Type>();
    let step = |i: usize, t: NaiveDateTime| -> Result<Option<NaiveDateTime>> {
        if unit.is_null(i) || n.is_null(i) {
            return Ok(None);
        }
        let u = unit.value(i).to_ascii_uppercase();
        match add(t, &u, n.value(i)) {
            Some(moved) => Ok(Some(moved)),
            None => exec_err!("TIMESTAMPADD({u}, {}, ..) is out of range", n.value(i)),
        }
    };
    if args[2].data_type() == &DataType::Date32 {
        let days = args[2].as_primitive::<Date32Type>();
        let mut out = Date32Builder::new();
        for i in 0..rows {
            let date = days
                .is_valid(i)
                .then(|| Date32Type::to_naive_date_opt(days.value(i)))
                .flatten();
            match date
                .map(|d| step(i, d.and_time(Default::default())))
                .transpose()?
                .flatten()
            {
                Some(t) => out.append_value(Date32Type::from_naive_date(t.date())),
                None => out.append_null(),
            }
        }
        return Ok(Arc::new(out.finish()));
    }
    let ms = millis(&args[2])?;
    let mut out = TimestampMillisecondBuilder::new();
    for (i, t) in ms.iter().enumerate().take(rows) {
        let t = t
            .and_then(DateTime::from_timestamp_millis)
            .map(|d| d.naive_utc());
        match t.map(|t| step(i, t)).transpose()?.flatten() {
            Some(t) => out.append_value(t.and_utc().timestamp_millis()),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// What Java's lenient `SimpleDateFormat.parse` makes of `text` by the
/// chrono form of a pattern: the date and time it reads from the start
/// (midnight when the pattern has no time), ignoring what follows.
fn parse_prefix(text: &str, chrono_fmt: &str) -> Option<NaiveDateTime> {
    if let Ok((t, _)) = NaiveDateTime::parse_and_remainder(text, chrono_fmt) {
        return Some(t);
    }
    NaiveDate::parse_and_remainder(text, chrono_fmt)
        .ok()
        .map(|(d, _)| d.and_time(Default::default()))
}

fn unix_timestamp(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let mut out = Int64Builder::new();
    let Some(text) = args.first() else {
        let now = chrono::Utc::now().timestamp();
        for _ in 0..rows.max(1) {
            out.append_value(now);
        }
        return Ok(Arc::new(out.finish()));
    };
    let text = cast(text, &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let mut patterns = RowPatterns::new(args.get(1), "yyyy-MM-dd HH:mm:ss")?;
    for i in 0..rows {
        let (Some((_, chrono_fmt)), true) = (patterns.at(i), text.is_valid(i)) else {
            out.append_null();
            continue;
        };
        match parse_prefix(text.value(i), chrono_fmt) {
            Some(t) => out.append_value(t.and_utc().timestamp()),
            None => out.append_value(i64::MIN),
        }
    }
    Ok(Arc::new(out.finish()))
}

//! Flink's CONVERT_TZ(text, from, to): a `yyyy-MM-dd HH:mm:ss` time read
//! in zone `from` and written in zone `to` (IANA names such as
//! `Asia/Shanghai`, `UTC`, or offsets `+08:00` / `GMT+08:00`), by the
//! `chrono-tz` crate's copy of the IANA database. NULL where the text is
//! not such a time.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;

use super::{FlinkFunction, map_strings};

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::Utf8;
    vec![FlinkFunction::new(
        "convert_tz",
        vec![vec![Utf8, Utf8, Utf8]],
        Utf8,
        convert_tz,
    )]
}

fn convert_tz(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    map_strings(args, rows, |s| {
        let local = NaiveDateTime::parse_from_str(s[0], "%Y-%m-%d %H:%M:%S").ok()?;
        let instant = in_zone(s[1], &local)?;
        let to = offset_at(s[2], &instant)?;
        Some(
            instant
                .with_timezone(&to)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        )
    })
}

/// A fixed offset (`+08:00`, `GMT+8`, `UTC`), if `zone` is one.
fn fixed(zone: &str) -> Option<FixedOffset> {
    let rest = zone
        .strip_prefix("GMT")
        .or_else(|| zone.strip_prefix("UTC"))
        .unwrap_or(zone);
    if rest.is_empty() {
        return FixedOffset::east_opt(0);
    }
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None => (digits.parse::<i32>().ok()?, 0),
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// The instant `local` is in `zone`.
fn in_zone(zone: &str, local: &NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(f) = fixed(zone) {
        return f
            .from_local_datetime(local)
            .single()
            .map(|t| t.with_timezone(&Utc));
    }
    let tz: chrono_tz::Tz = zone.parse().ok()?;
    // As Java's lenient calendar: a time the clocks repeat is read in the
    // later (standard) offset; a time they skip in the offset before the
    // skip.
    match tz.from_local_datetime(local) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(_, later) => Some(later.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            let hour = chrono::Duration::hours(1);
            let before = tz.from_local_datetime(&(*local - hour)).earliest()?;
            Some(before.with_timezone(&Utc) + hour)
        }
    }
}

/// The offset of `zone` at `instant`.
fn offset_at(zone: &str, instant: &DateTime<Utc>) -> Option<FixedOffset> {
    if let Some(f) = fixed(zone) {
        return Some(f);
    }
    let tz: chrono_tz::Tz = zone.parse().ok()?;
    Some(tz.offset_from_utc_datetime(&instant.naive_utc()).fix())
}

//! Flink's string functions: SUBSTRING (1-based, negative from the end),
//! SPLIT_INDEX, REGEXP_EXTRACT.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};

use super::FlinkFunction;

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::{Int64, Utf8};
    vec![
        FlinkFunction::new(
            "substr",
            vec![vec![Utf8, Int64], vec![Utf8, Int64, Int64]],
            Utf8,
            substring,
        )
        .with_alias("substring"),
        FlinkFunction::new(
            "split_index",
            vec![vec![Utf8, Utf8, Int64]],
            Utf8,
            split_index,
        ),
        FlinkFunction::new(
            "regexp_extract",
            vec![vec![Utf8, Utf8], vec![Utf8, Utf8, Int64]],
            Utf8,
            regexp_extract,
        ),
    ]
}

fn strings(a: &ArrayRef) -> Result<StringArray> {
    Ok(cast(a, &DataType::Utf8)?.as_string::<i32>().clone())
}

fn ints(a: &ArrayRef) -> Result<Int64Array> {
    Ok(cast(a, &DataType::Int64)?
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .clone())
}

/// `SUBSTRING(s, start [, len])`: 1-based; 0 counts as 1; a negative start
/// counts from the end.
fn substring(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = strings(&args[0])?;
    let start = ints(&args[1])?;
    let len = args.get(2).map(ints).transpose()?;
    let mut out = StringBuilder::new();
    for i in 0..rows {
        if s.is_null(i) || start.is_null(i) || len.as_ref().is_some_and(|l| l.is_null(i)) {
            out.append_null();
            continue;
        }
        let chars: Vec<char> = s.value(i).chars().collect();
        let n = chars.len() as i64;
        let st = start.value(i);
        let from = if st > 0 {
            st - 1
        } else if st == 0 {
            0
        } else {
            (n + st).max(0)
        };
        let l = len.as_ref().map_or(n, |l| l.value(i));
        if l < 0 {
            return exec_err!("SUBSTRING length must not be negative: {l}");
        }
        let from = from.min(n) as usize;
        let to = (from as i64).saturating_add(l).min(n) as usize;
        out.append_value(chars[from..to].iter().collect::<String>());
    }
    Ok(Arc::new(out.finish()))
}

/// `SPLIT_INDEX(s, sep, i)`: the `i`-th (0-based) part, NULL if none.
fn split_index(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = strings(&args[0])?;
    let sep = strings(&args[1])?;
    let idx = ints(&args[2])?;
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    // The separator is nearly always a constant: build its searcher once.
    let mut finder: Option<(String, memchr::memmem::Finder<'static>)> = None;
    for i in 0..rows {
        if s.is_null(i)
            || sep.is_null(i)
            || idx.is_null(i)
            || idx.value(i) < 0
            || sep.value(i).is_empty()
        {
            out.append_null();
            continue;
        }
        let sep = sep.value(i);
        if finder.as_ref().is_none_or(|(f, _)| f != sep) {
            finder = Some((
                sep.to_string(),
                memchr::memmem::Finder::new(sep.as_bytes()).into_owned(),
            ));
        }
        let Some((_, f)) = &finder else {
            out.append_null();
            continue;
        };
        out.append_option(nth_part(s.value(i), f, sep.len(), idx.value(i) as usize));
    }
    Ok(Arc::new(out.finish()))
}

/// The `n`-th part of `text` split by the separator `finder` finds.
fn nth_part<'a>(
    text: &'a str,
    finder: &memchr::memmem::Finder<'_>,
    sep_len: usize,
    n: usize,
) -> Option<&'a str> {
    let mut start = 0;
    let mut ends = finder.find_iter(text.as_bytes());
    for _ in 0..n {
        start = ends.next()? + sep_len;
    }
    let end = ends.next().unwrap_or(text.len());
    text.get(start..end)
}

/// `REGEXP_EXTRACT(s, regex [, group])`: the group (default 0, the whole match) of the
/// first match, NULL if no match.
fn regexp_extract(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let s = strings(&args[0])?;
    let pattern = strings(&args[1])?;
    let group = args.get(2).map(ints).transpose()?;
    let mut out = StringBuilder::new();
    let mut cache: Option<(String, regex::Regex)> = None;
    let mut locations: Option<regex::CaptureLocations> = None;
    for i in 0..rows {
        if s.is_null(i) || pattern.is_null(i) || group.as_ref().is_some_and(|g| g.is_null(i)) {
            out.append_null();
            continue;
        }
        let p = pattern.value(i);
        if cache.as_ref().is_none_or(|(cp, _)| cp != p) {
            match regex::Regex::new(p) {
                Ok(r) => {
                    cache = Some((p.to_string(), r));
                    locations = None;
                }
                Err(_) => {
                    out.append_null();
                    continue;
                }
            }
        }
        let Some((_, re)) = &cache else {
            out.append_null();
            continue;
        };
        let g = group.as_ref().map_or(0, |g| g.value(i)).max(0) as usize;
        let text = s.value(i);
        let locations = locations.get_or_insert_with(|| re.capture_locations());
        let value = re
            .captures_read(locations, text)
            .and_then(|_| locations.get(g))
            .and_then(|(a, b)| text.get(a..b));
        out.append_option(value);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_index_parts() {
        let f = memchr::memmem::Finder::new(b"/");
        let url = "https://www.nexmark.com/item.htm?q=1";
        assert_eq!(nth_part(url, &f, 1, 0), Some("https:"));
        assert_eq!(nth_part(url, &f, 1, 1), Some(""));
        assert_eq!(nth_part(url, &f, 1, 3), Some("item.htm?q=1"));
        assert_eq!(nth_part(url, &f, 1, 4), None);
        let f = memchr::memmem::Finder::new(b"::");
        assert_eq!(nth_part("a::b::c", &f, 2, 2), Some("c"));
    }
}

//! Flink's functions that take text apart into a collection: STR_TO_MAP
//! (pairs split by a list delimiter, then a key-value delimiter, both
//! regular expressions; a pair without the second has a NULL value; a
//! later key wins, the map keeping first-seen order) and
//! REGEXP_EXTRACT_ALL (group `n`, 1 by default, of every match).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListBuilder, MapBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Int64Type};
use datafusion::common::{Result, exec_err};
use regex::Regex;

use super::{FlinkFunction, constant_text as constant};

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::{Int64, Utf8};
    vec![
        FlinkFunction::new(
            "str_to_map",
            vec![vec![Utf8], vec![Utf8, Utf8, Utf8]],
            map_type(),
            str_to_map,
        )
        .with_constant_parameters(),
        FlinkFunction::new(
            "regexp_extract_all",
            vec![vec![Utf8, Utf8], vec![Utf8, Utf8, Int64]],
            DataType::List(Arc::new(Field::new("item", Utf8, true))),
            regexp_extract_all,
        )
        .with_constant_parameters(),
    ]
}

/// MAP<STRING, STRING> as [`MapBuilder`] makes it.
fn map_type() -> DataType {
    let entries = Fields::from(vec![
        Field::new("keys", DataType::Utf8, false),
        Field::new("values", DataType::Utf8, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

fn regex(pattern: &str) -> Result<Regex> {
    match Regex::new(pattern) {
        Ok(r) => Ok(r),
        Err(e) => exec_err!("invalid regular expression '{pattern}': {e}"),
    }
}

fn str_to_map(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = cast(&args[0], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let list = regex(&constant(args, 1)?.unwrap_or_else(|| ",".into()))?;
    let pair = regex(&constant(args, 2)?.unwrap_or_else(|| "=".into()))?;
    let mut out = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for i in 0..rows {
        if text.is_null(i) {
            out.append(false)?;
            continue;
        }
        let mut entries: Vec<(String, Option<String>)> = vec![];
        let mut at: HashMap<String, usize> = HashMap::new();
        for item in list.split(text.value(i)) {
            let mut kv = pair.splitn(item, 2);
            let key = kv.next().unwrap_or_default().to_string();
            let value = kv.next().map(str::to_string);
            match at.get(&key) {
                Some(j) => entries[*j].1 = value,
                None => {
                    at.insert(key.clone(), entries.len());
                    entries.push((key, value));
                }
            }
        }
        for (k, v) in entries {
            out.keys().append_value(k);
            out.values().append_option(v);
        }
        out.append(true)?;
    }
    Ok(Arc::new(out.finish()))
}

fn regexp_extract_all(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = cast(&args[0], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let pattern = constant(args, 1)?;
    let group = match args.get(2) {
        Some(g) => {
            let g = cast(g, &DataType::Int64)?;
            let g = g.as_primitive::<Int64Type>();
            (!g.is_empty() && !g.is_null(0)).then(|| g.value(0))
        }
        None => Some(1),
    };
    let mut out = ListBuilder::new(StringBuilder::new());
    let (Some(pattern), Some(group)) = (pattern, group) else {
        for _ in 0..rows {
            out.append(false);
        }
        return Ok(Arc::new(out.finish()));
    };
    let re = regex(&pattern)?;
    if group < 0 || group as usize >= re.captures_len() {
        return exec_err!("REGEXP_EXTRACT_ALL: the pattern '{pattern}' has no group {group}");
    }
    for i in 0..rows {
        if text.is_null(i) {
            out.append(false);
            continue;
        }
        for c in re.captures_iter(text.value(i)) {
            out.values()
                .append_option(c.get(group as usize).map(|m| m.as_str()));
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

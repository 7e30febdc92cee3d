//! Flink's JSON functions on JSON text: JSON_VALUE, JSON_QUERY,
//! JSON_EXISTS (paths evaluated by the `serde_json_path` crate, in Flink's
//! default lax mode: `lax ` and `strict ` prefixes are accepted; a missing
//! value or a JSON error gives NULL, or FALSE for JSON_EXISTS), and
//! JSON_STRING of a SQL value.
//!
//! Flink reads JSON numbers as Java `BigDecimal`s and writes them back in
//! that form: `12.50` stays `12.50`, `1.0E10` becomes `1.0E+10`. So that
//! no digit is lost to a double, numbers are read here as their text (each
//! wrapped in a marked string before parsing) and written in
//! `BigDecimal`'s form. Objects are written with their keys sorted, as
//! Flink's JSON_QUERY writes them.

use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use serde_json::Value;
use serde_json_path::JsonPath;

use super::FlinkFunction;

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::Utf8;
    vec![
        FlinkFunction::new("json_value", vec![vec![Utf8, Utf8]], Utf8, json_value)
            .with_constant_parameters(),
        FlinkFunction::new(
            "json_query",
            vec![vec![Utf8, Utf8], vec![Utf8, Utf8, Utf8, Utf8]],
            Utf8,
            json_query,
        )
        .with_constant_parameters(),
        FlinkFunction::new(
            "json_exists",
            vec![vec![Utf8, Utf8]],
            DataType::Boolean,
            json_exists,
        )
        .with_constant_parameters(),
        FlinkFunction::any_args("json_string", 1, Utf8, json_string),
        FlinkFunction::new(
            JSON_VALUE_ERROR,
            vec![vec![Utf8, Utf8]],
            DataType::Boolean,
            json_value_error,
        )
        .with_constant_parameters(),
        FlinkFunction::new(
            JSON_VALUE_RAISE,
            vec![vec![Utf8, Utf8]],
            Utf8,
            json_value_raise,
        )
        .with_constant_parameters(),
    ]
}

/// `__eddy_json_value_error(json, path)`: whether `JSON_VALUE` of the two
/// meets an error (`ON ERROR` applies): text that is not JSON, or a path
/// that selects an object, an array or several values. A missing value is
/// no error (lax mode).
pub const JSON_VALUE_ERROR: &str = "__eddy_json_value_error";
/// `__eddy_json_value_raise(json, path)`: fails with the error of
/// `JSON_VALUE(..  ERROR ON ERROR)`.
pub const JSON_VALUE_RAISE: &str = "__eddy_json_value_raise";

/// The error `JSON_VALUE` of `doc` at `path` meets, if any.
fn value_error(doc: Option<&Value>, path: &JsonPath) -> Option<&'static str> {
    let Some(doc) = doc else {
        return Some("the text is not JSON");
    };
    match path.query(doc).all().as_slice() {
        [] | [Value::String(_) | Value::Bool(_) | Value::Null | Value::Number(_)] => None,
        [_] => Some("the path selects an object or an array, not a scalar"),
        _ => Some("the path selects several values"),
    }
}

/// As Flink's path library reads a path of member steps only (`$.a.b`):
/// a member step on an array or a scalar is an error (a member an object
/// lacks is a missing value).
fn member_step_error(doc: &Value, path_text: &str) -> Option<&'static str> {
    let t = path_text.trim();
    let t = match t.split_once(' ') {
        Some((mode, rest)) if ["lax", "strict"].contains(&mode.to_ascii_lowercase().as_str()) => {
            rest.trim()
        }
        _ => t,
    };
    let steps: Vec<&str> = t.strip_prefix('$')?.strip_prefix('.')?.split('.').collect();
    let plain = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !steps.iter().all(plain) {
        return None;
    }
    let mut at = doc;
    for step in steps {
        match at {
            Value::Object(members) => match members.get(step) {
                Some(v) => at = v,
                None => return None,
            },
            _ => return Some("the path reads a member of what is not an object"),
        }
    }
    None
}

/// Each row's `ON ERROR` error of `JSON_VALUE(args[0], args[1])`, if any.
fn value_errors(args: &[ArrayRef], rows: usize) -> Result<Vec<Option<&'static str>>> {
    let docs = cast(&args[0], &DataType::Utf8)?;
    let docs = docs.as_string::<i32>();
    let paths = cast(&args[1], &DataType::Utf8)?;
    let paths = paths.as_string::<i32>();
    let mut compiled: Option<(String, JsonPath)> = None;
    let mut errors = Vec::with_capacity(rows);
    for i in 0..rows {
        let p = if paths.len() == 1 { 0 } else { i };
        if docs.is_null(i) || paths.is_null(p) {
            errors.push(None);
            continue;
        }
        let text = paths.value(p);
        if compiled.as_ref().is_none_or(|(t, _)| t != text) {
            compiled = Some((text.to_string(), path(text)?.0));
        }
        let Some((_, jp)) = compiled.as_ref() else {
            continue;
        };
        let doc = parse(docs.value(i));
        let member = doc.as_ref().and_then(|d| member_step_error(d, text));
        errors.push(member.or_else(|| value_error(doc.as_ref(), jp)));
    }
    Ok(errors)
}

fn json_value_error(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let errors = value_errors(args, rows)?;
    let out: datafusion::arrow::array::BooleanArray =
        errors.iter().map(|e| Some(e.is_some())).collect();
    Ok(Arc::new(out))
}

fn json_value_raise(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    if let Some(e) = value_errors(args, rows)?.into_iter().flatten().next() {
        return datafusion::common::exec_err!("JSON_VALUE (ERROR ON ERROR): {e}");
    }
    Ok(datafusion::arrow::array::new_null_array(
        &DataType::Utf8,
        rows,
    ))
}

/// Marks a string that stands for a JSON number (its text follows).
const NUMBER: &str = "\u{0}\u{1}#";

/// The JSON text `text` with every number turned into a marked string of
/// its text, so that parsing keeps it exactly.
fn mark_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '-' || c.is_ascii_digit() {
            out.push('"');
            out.push_str("\\u0000\\u0001#");
            out.push(c);
            while let Some(n) = chars.peek() {
                if n.is_ascii_digit() || matches!(n, '.' | 'e' | 'E' | '+' | '-') {
                    out.push(*n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push('"');
        } else {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

/// A JSON document, numbers marked; `None` if the text is not JSON.
fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(&mark_numbers(text)).ok()
}

/// A path argument: `lax` or `strict` mode stripped, then parsed.
fn path(text: &str) -> Result<(JsonPath, bool)> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let t = if lower.starts_with("lax ") || lower.starts_with("strict ") {
        t.split_once(' ').map_or(t, |(_, rest)| rest.trim())
    } else {
        t
    };
    match JsonPath::parse(t) {
        Ok(p) => {
            // A path with wildcards, filters, slices, unions or descent
            // selects a list (as Flink's path library reads it).
            let indefinite = t.contains('*')
                || t.contains("..")
                || t.contains('?')
                || t.contains(':')
                || t.contains(',');
            Ok((p, indefinite))
        }
        Err(e) => exec_err!("Invalid JSON path '{text}': {e}"),
    }
}

/// The number text `n` as Java's `BigDecimal.toString` writes it
/// (integers as they are).
fn big_decimal_text(n: &str) -> String {
    let (negative, body) = match n.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, n.strip_prefix('+').unwrap_or(n)),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().unwrap_or(0)),
        None => (body, 0),
    };
    if !body.contains(['.', 'e', 'E']) {
        return n.to_string();
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let scale = frac.len() as i64 - exponent;
    let adjusted = -scale + digits.len() as i64 - 1;
    let sign = if negative { "-" } else { "" };
    if scale >= 0 && adjusted >= -6 {
        // Plain notation.
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        let scale = scale as usize;
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
        } else {
            digits.to_string()
        };
        let (i, f) = padded.split_at(padded.len() - scale);
        return format!("{sign}{i}.{f}");
    }
    let (first, rest) = digits.split_at(1);
    let mut s = format!("{sign}{first}");
    if !rest.is_empty() {
        s.push('.');
        s.push_str(rest);
    }
    let _ = write!(s, "E{}{adjusted}", if adjusted >= 0 { "+" } else { "" });
    s
}

/// A marked number's text, if `v` is one.
fn number(v: &Value) -> Option<&str> {
    v.as_str().and_then(|s| s.strip_prefix(NUMBER))
}

/// `v` as JSON text (keys sorted, numbers as Flink writes them).
fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => match number(v) {
            Some(n) => out.push_str(&big_decimal_text(n)),
            None => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

/// Applies `f` to each row's document and path; NULL where either is.
fn each_row<B>(
    args: &[ArrayRef],
    rows: usize,
    builder: &mut B,
    mut append_null: impl FnMut(&mut B),
    mut f: impl FnMut(&mut B, Option<&Value>, &JsonPath, bool),
) -> Result<()> {
    let docs = cast(&args[0], &DataType::Utf8)?;
    let docs = docs.as_string::<i32>();
    let paths = cast(&args[1], &DataType::Utf8)?;
    let paths = paths.as_string::<i32>();
    let mut parsed: Option<(String, JsonPath, bool)> = None;
    for i in 0..rows {
        let p = if paths.len() == 1 { 0 } else { i };
        if docs.is_null(i) || paths.is_null(p) {
            append_null(builder);
            continue;
        }
        let text = paths.value(p);
        if parsed.as_ref().is_none_or(|(t, _, _)| t != text) {
            let (path, indefinite) = path(text)?;
            parsed = Some((text.to_string(), path, indefinite));
        }
        let Some((_, path, indefinite)) = parsed.as_ref() else {
            continue;
        };
        let doc = parse(docs.value(i));
        f(builder, doc.as_ref(), path, *indefinite);
    }
    Ok(())
}

/// `JSON_VALUE(json, path)`: the scalar the path selects, as text; NULL
/// for JSON null, an object or array, several values, nothing, or text
/// that is not JSON.
fn json_value(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    each_row(
        args,
        rows,
        &mut out,
        |b| b.append_null(),
        |b, doc, path, _| {
            let selected = doc.map(|d| path.query(d).all());
            match selected.as_deref() {
                Some([v]) => match v {
                    Value::String(s) => match number(v) {
                        Some(n) => b.append_value(big_decimal_text(n)),
                        None => b.append_value(s),
                    },
                    Value::Bool(x) => b.append_value(if *x { "true" } else { "false" }),
                    _ => b.append_null(),
                },
                _ => b.append_null(),
            }
        },
    )?;
    Ok(Arc::new(out.finish()))
}

/// `JSON_QUERY(json, path)`: the object or array the path selects, as
/// JSON text (a list, for a path that selects several values); NULL for a
/// scalar, nothing, or text that is not JSON.
fn json_query(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let constant = |k| super::constant_text(args, k).map(Option::unwrap_or_default);
    let (wrapper, on_error) = (constant(2)?, constant(3)?);
    let mut failed = None;
    let mut out = StringBuilder::new();
    each_row(
        args,
        rows,
        &mut out,
        |b| b.append_null(),
        |b, doc, path, indefinite| {
            let value = doc.and_then(|doc| {
                let selected = path.query(doc).all();
                if indefinite {
                    return Some(Ok(Value::Array(selected.into_iter().cloned().collect())));
                }
                match selected.as_slice() {
                    // Missing: NULL (ON EMPTY has no effect in lax mode).
                    [] => None,
                    [v] => Some(Ok((*v).clone())),
                    _ => Some(Err(())),
                }
            });
            let value = match (doc, value) {
                (None, _) => Err(()),
                (_, None) => {
                    b.append_null();
                    return;
                }
                (_, Some(v)) => v,
            };
            let wrapped = value.and_then(|v| {
                let structured = matches!(v, Value::Object(_) | Value::Array(_));
                match wrapper.as_str() {
                    "UNCONDITIONAL" => Ok(Value::Array(vec![v])),
                    "CONDITIONAL" if !structured => Ok(Value::Array(vec![v])),
                    _ if structured => Ok(v),
                    _ => Err(()),
                }
            });
            match (wrapped, on_error.as_str()) {
                (Ok(v), _) => {
                    let mut s = String::new();
                    write_json(&v, &mut s);
                    b.append_value(s);
                }
                (Err(()), "EMPTY ARRAY") => b.append_value("[]"),
                (Err(()), "EMPTY OBJECT") => b.append_value("{}"),
                (Err(()), "ERROR") => {
                    failed.get_or_insert(());
                    b.append_null();
                }
                (Err(()), _) => b.append_null(),
            }
        },
    )?;
    if failed.is_some() {
        return exec_err!(
            "JSON_QUERY (ERROR ON ERROR): the path selects no object or array (add a WRAPPER clause for a scalar), or the text is not JSON"
        );
    }
    Ok(Arc::new(out.finish()))
}

/// `JSON_EXISTS(json, path)`: whether the path selects a value other than
/// JSON null; FALSE for text that is not JSON.
fn json_exists(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let mut out = BooleanBuilder::new();
    each_row(
        args,
        rows,
        &mut out,
        |b| b.append_null(),
        |b, doc, path, _| {
            let exists = doc.is_some_and(|d| {
                let selected = path.query(d).all();
                !selected.is_empty() && selected.iter().any(|v| !v.is_null())
            });
            b.append_value(exists);
        },
    )?;
    Ok(Arc::new(out.finish()))
}

/// `JSON_STRING(value)`: a SQL value as JSON text; NULL for NULL.
fn json_string(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for i in 0..rows {
        let v = ScalarValue::try_from_array(&args[0], i)?;
        if v.is_null() {
            out.append_null();
            continue;
        }
        let mut s = String::new();
        scalar_json(&v, &mut s)?;
        out.append_value(s);
    }
    Ok(Arc::new(out.finish()))
}

/// One SQL value as JSON text.
fn scalar_json(v: &ScalarValue, out: &mut String) -> Result<()> {
    if v.is_null() {
        out.push_str("null");
        return Ok(());
    }
    match v {
        ScalarValue::Boolean(Some(b)) => out.push_str(if *b { "true" } else { "false" }),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt8(_)
        | ScalarValue::UInt16(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Decimal128(..) => out.push_str(&v.to_string()),
        ScalarValue::Float32(Some(f)) => {
            eddy_engine::value_text::write_java_double(out, f64::from(*f));
        }
        ScalarValue::Float64(Some(f)) => eddy_engine::value_text::write_java_double(out, *f),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => {
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
        }
        ScalarValue::List(list) => {
            out.push('[');
            let values = list.value(0);
            for i in 0..values.len() {
                if i > 0 {
                    out.push(',');
                }
                scalar_json(&ScalarValue::try_from_array(&values, i)?, out)?;
            }
            out.push(']');
        }
        other => {
            return exec_err!(
                "JSON_STRING of a {} value is not supported yet",
                other.data_type()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_java_big_decimals() {
        for (n, want) in [
            ("12.50", "12.50"),
            ("1.0E10", "1.0E+10"),
            ("1e5", "1E+5"),
            ("-3", "-3"),
            ("12345678901", "12345678901"),
            ("0.0000001", "1E-7"),
            ("1.5e-3", "0.0015"),
        ] {
            assert_eq!(big_decimal_text(n), want, "{n}");
        }
    }

    #[test]
    fn numbers_keep_their_text_through_parsing() {
        let doc = parse(r#"{"b":12.50,"a":[1,-2.0e3],"s":"1.5\"x"}"#).expect("json");
        let mut s = String::new();
        write_json(&doc, &mut s);
        assert_eq!(s, r#"{"a":[1,-2.0E+3],"b":12.50,"s":"1.5\"x"}"#);
        assert!(parse("not json").is_none());
    }
}

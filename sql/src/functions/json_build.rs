//! Flink's JSON constructors and test: `JSON_OBJECT`, `JSON_ARRAY`,
//! `JSON_OBJECTAGG`, `JSON_ARRAYAGG` (written by `crate::rewrite` as calls
//! of the functions here; the aggregates over `ARRAY_AGG`) and `IS JSON`.
//! As in Flink, an object's keys come sorted, a value made by a nested
//! constructor is inserted as JSON (other text as a JSON string), a
//! DECIMAL keeps its digits (`1.50`), a DOUBLE is written as Java writes
//! it, and a value of another type (DATE, TIMESTAMP, ARRAY, ..) is refused
//! as Flink refuses it. `IS JSON` of NULL is false.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use eddy_engine::value_text::{write_decimal, write_java_double, write_java_float};

/// `__eddy_json_object(null_on_null, k1, v1, raw1, ..)`.
pub const JSON_OBJECT: &str = "__eddy_json_object";
/// `__eddy_json_array(null_on_null, v1, raw1, ..)`.
pub const JSON_ARRAY: &str = "__eddy_json_array";
/// `__eddy_json_object_of(null_on_null, keys, values)` (of ARRAY_AGGs).
pub const JSON_OBJECT_OF: &str = "__eddy_json_object_of";
/// `__eddy_json_array_of(null_on_null, values)` (of an ARRAY_AGG).
pub const JSON_ARRAY_OF: &str = "__eddy_json_array_of";
/// `__eddy_is_json(text, kind)`.
pub const IS_JSON: &str = "__eddy_is_json";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonBuild {
    name: &'static str,
    signature: Signature,
}

impl JsonBuild {
    pub fn all() -> Vec<Self> {
        [
            JSON_OBJECT,
            JSON_ARRAY,
            JSON_OBJECT_OF,
            JSON_ARRAY_OF,
            IS_JSON,
        ]
        .into_iter()
        .map(|name| Self {
            name,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
        .collect()
    }
}

impl ScalarUDFImpl for JsonBuild {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(if self.name == IS_JSON {
            DataType::Boolean
        } else {
            DataType::Utf8
        })
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // The values' types are checked when planning, as Flink does.
        let values: Vec<&DataType> = match self.name {
            JSON_OBJECT => args
                .arg_fields
                .iter()
                .skip(2)
                .step_by(3)
                .map(|f| f.data_type())
                .collect(),
            JSON_ARRAY => args
                .arg_fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|f| f.data_type())
                .collect(),
            _ => vec![],
        };
        for t in values {
            if !is_scalar(t) {
                return plan_err!(
                    "Type '{}' is not scalar or cannot be converted into JSON.",
                    crate::type_names::flink_type_name(t)
                );
            }
        }
        let t = self.return_type(&[])?;
        // IS JSON and the constructors are never NULL.
        Ok(Arc::new(Field::new(self.name, t, false)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out: ArrayRef = match self.name {
            IS_JSON => is_json(&arrays, rows)?,
            _ => {
                let mut out = StringBuilder::new();
                let mut text = String::new();
                for i in 0..rows {
                    text.clear();
                    match self.name {
                        JSON_OBJECT => object(&arrays, i, &mut text)?,
                        JSON_ARRAY => array(&arrays, i, &mut text)?,
                        JSON_OBJECT_OF => object_of(&arrays, i, &mut text)?,
                        _ => array_of(&arrays, i, &mut text)?,
                    }
                    out.append_value(&text);
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

fn is_scalar(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Null
            | DataType::Boolean
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Decimal128(..)
            | DataType::Float32
            | DataType::Float64
    ) || t.is_integer()
}

fn flag(a: &ArrayRef) -> bool {
    a.as_boolean_opt()
        .is_some_and(|b| !b.is_empty() && b.is_valid(0) && b.value(0))
}

/// Value `i` of `a` as JSON (`raw`: text that is JSON already).
fn write_json(out: &mut String, a: &dyn Array, i: usize, raw: bool) -> Result<()> {
    if a.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    match a.data_type() {
        DataType::Boolean => out.push_str(if a.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        DataType::Utf8 => {
            let s = a.as_string::<i32>().value(i);
            if raw {
                out.push_str(s);
            } else {
                out.push_str(&serde_json::to_string(s).unwrap_or_default());
            }
        }
        DataType::Decimal128(_, s) => write_decimal(
            out,
            a.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
                .value(i),
            *s,
        ),
        DataType::Float64 => write_java_double(
            out,
            a.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                .value(i),
        ),
        DataType::Float32 => write_java_float(
            out,
            a.as_primitive::<datafusion::arrow::datatypes::Float32Type>()
                .value(i),
        ),
        t if t.is_integer() => {
            let v = cast(&a.slice(i, 1), &DataType::Int64)?;
            let _ = write!(
                out,
                "{}",
                v.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(0)
            );
        }
        DataType::LargeUtf8 | DataType::Utf8View => {
            let v = cast(&a.slice(i, 1), &DataType::Utf8)?;
            return write_json(out, v.as_ref(), 0, raw);
        }
        t => {
            return exec_err!(
                "Type '{}' is not scalar or cannot be converted into JSON.",
                crate::type_names::flink_type_name(t)
            );
        }
    }
    Ok(())
}

fn key_text(a: &dyn Array, i: usize) -> Result<Option<String>> {
    if a.is_null(i) {
        return Ok(None);
    }
    let t = cast(&a.slice(i, 1), &DataType::Utf8)?;
    Ok(Some(t.as_string::<i32>().value(0).to_string()))
}

fn write_object(out: &mut String, members: BTreeMap<String, String>) {
    out.push('{');
    for (n, (k, v)) in members.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&k).unwrap_or_default());
        out.push(':');
        out.push_str(&v);
    }
    out.push('}');
}

fn object(args: &[ArrayRef], i: usize, out: &mut String) -> Result<()> {
    let null_on_null = flag(&args[0]);
    let mut members = BTreeMap::new();
    for kv in args[1..].chunks(3) {
        let [k, v, raw] = kv else {
            return exec_err!("JSON_OBJECT takes key-value pairs");
        };
        let Some(key) = key_text(k.as_ref(), i)? else {
            return exec_err!("JSON_OBJECT: a key is NULL");
        };
        if v.is_null(i) && !null_on_null {
            continue;
        }
        let mut value = String::new();
        write_json(&mut value, v.as_ref(), i, flag(raw))?;
        members.insert(key, value);
    }
    write_object(out, members);
    Ok(())
}

fn array(args: &[ArrayRef], i: usize, out: &mut String) -> Result<()> {
    let null_on_null = flag(&args[0]);
    out.push('[');
    let mut first = true;
    for vr in args[1..].chunks(2) {
        let [v, raw] = vr else {
            return exec_err!("JSON_ARRAY takes values");
        };
        if v.is_null(i) && !null_on_null {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_json(out, v.as_ref(), i, flag(raw))?;
    }
    out.push(']');
    Ok(())
}

/// The elements of list `a`'s row `i` (none for NULL).
fn elements(a: &ArrayRef, i: usize) -> Option<ArrayRef> {
    let l = a.as_list_opt::<i32>()?;
    (!l.is_null(i)).then(|| l.value(i))
}

fn object_of(args: &[ArrayRef], i: usize, out: &mut String) -> Result<()> {
    let null_on_null = flag(&args[0]);
    let mut members = BTreeMap::new();
    if let (Some(keys), Some(values)) = (elements(&args[1], i), elements(&args[2], i)) {
        for j in 0..keys.len() {
            let Some(key) = key_text(keys.as_ref(), j)? else {
                return exec_err!("JSON_OBJECTAGG: a key is NULL");
            };
            if values.is_null(j) && !null_on_null {
                continue;
            }
            let mut value = String::new();
            write_json(&mut value, values.as_ref(), j, false)?;
            if members.insert(key.clone(), value).is_some() {
                return exec_err!("JSON_OBJECTAGG: the key '{key}' comes twice");
            }
        }
    }
    write_object(out, members);
    Ok(())
}

fn array_of(args: &[ArrayRef], i: usize, out: &mut String) -> Result<()> {
    let null_on_null = flag(&args[0]);
    out.push('[');
    if let Some(values) = elements(&args[1], i) {
        let mut first = true;
        for j in 0..values.len() {
            if values.is_null(j) && !null_on_null {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            write_json(out, values.as_ref(), j, false)?;
        }
    }
    out.push(']');
    Ok(())
}

fn is_json(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let text = cast(&args[0], &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let kind = cast(&args[1], &DataType::Utf8)?;
    let kind = kind.as_string::<i32>();
    let kind = if kind.is_empty() {
        "VALUE"
    } else {
        kind.value(0)
    };
    let mut out = BooleanBuilder::new();
    for i in 0..rows {
        let ok = !text.is_null(i)
            && match serde_json::from_str::<serde_json::Value>(text.value(i)) {
                Err(_) => false,
                Ok(v) => match kind {
                    "OBJECT" => v.is_object(),
                    "ARRAY" => v.is_array(),
                    "SCALAR" => !v.is_object() && !v.is_array(),
                    _ => true,
                },
            };
        out.append_value(ok);
    }
    Ok(Arc::new(out.finish()))
}

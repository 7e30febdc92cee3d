//! Flink's PRINTF(format, args..): Java's `String.format` for the common
//! conversions (`%s %S %d %x %X %o %f %e %E %b %c %% %n`, with the flags
//! `- 0 + , (space)`, a width, a precision and `n$` argument indexes). An
//! argument is formatted as Flink hands it to Java (`%s` of a NULL is
//! `null`, of a TIMESTAMP its Java form `2024-01-01T10:00`); a format or
//! an argument Java would refuse gives NULL, as in Flink (which hands a
//! DECIMAL to `%f` as its own type, so that is NULL too).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Printf {
    signature: Signature,
}

impl Printf {
    pub fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Printf {
    fn name(&self) -> &str {
        "printf"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn return_field_from_args(&self, _: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(self.name(), DataType::Utf8, true)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let format = cast(&arrays[0], &DataType::Utf8)?;
        let format = format.as_string::<i32>();
        let values: Vec<Column> = arrays[1..].iter().map(Column::new).collect::<Result<_>>()?;
        let mut out = StringBuilder::new();
        for i in 0..rows {
            if format.is_null(i) {
                out.append_null();
                continue;
            }
            let row: Vec<Value> = values.iter().map(|c| c.value(i)).collect();
            // Flink gives NULL where Java refuses the format or an argument.
            match sprintf(format.value(i), &row) {
                Ok(s) => out.append_value(s),
                Err(_) => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// One argument of one row, as Java would see it.
#[derive(Debug, Clone)]
enum Value {
    Null,
    Long(i64),
    Double(f64),
    /// Exact decimal text (Java's BigDecimal).
    Decimal(String),
    Bool(bool),
    Text(String),
}

/// An argument column, read as [`Value`]s.
enum Column {
    Long(ArrayRef),
    Double(ArrayRef),
    Decimal(ArrayRef),
    Bool(ArrayRef),
    Text(ArrayRef),
}

impl Column {
    fn new(a: &ArrayRef) -> Result<Self> {
        Ok(match a.data_type() {
            t if t.is_integer() => Column::Long(cast(a, &DataType::Int64)?),
            DataType::Float32 | DataType::Float64 => Column::Double(cast(a, &DataType::Float64)?),
            DataType::Decimal128(..) | DataType::Decimal256(..) => {
                Column::Decimal(cast(a, &DataType::Utf8)?)
            }
            DataType::Boolean => Column::Bool(a.clone()),
            DataType::Null => Column::Text(cast(a, &DataType::Utf8)?),
            _ => {
                // Java's toString of Flink's value: the printed form.
                let mut b = StringBuilder::new();
                let mut text = String::new();
                for i in 0..a.len() {
                    if a.is_null(i) {
                        b.append_null();
                    } else {
                        text.clear();
                        eddy_engine::value_text::write_value(&mut text, a.as_ref(), i);
                        b.append_value(&text);
                    }
                }
                Column::Text(Arc::new(b.finish()))
            }
        })
    }

    fn value(&self, i: usize) -> Value {
        let a = match self {
            Column::Long(a)
            | Column::Double(a)
            | Column::Decimal(a)
            | Column::Bool(a)
            | Column::Text(a) => a,
        };
        if a.is_null(i) {
            return Value::Null;
        }
        match self {
            Column::Long(a) => Value::Long(a.as_primitive::<Int64Type>().value(i)),
            Column::Double(a) => Value::Double(a.as_primitive::<Float64Type>().value(i)),
            Column::Decimal(a) => Value::Decimal(a.as_string::<i32>().value(i).to_string()),
            Column::Bool(a) => Value::Bool(a.as_boolean().value(i)),
            Column::Text(a) => Value::Text(a.as_string::<i32>().value(i).to_string()),
        }
    }
}

/// Java's `String.valueOf` of a value.
fn java_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Long(n) => n.to_string(),
        Value::Double(d) => java_double(*d),
        Value::Decimal(s) | Value::Text(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
    }
}

/// Java's `Double.toString` for the usual magnitudes.
fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = d.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        let s = format!("{d:E}");
        return if s.contains('.') {
            s
        } else {
            s.replacen('E', ".0E", 1)
        };
    }
    let s = d.to_string();
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// `format` with `args`, as Java's `String.format`.
fn sprintf(format: &str, args: &[Value]) -> std::result::Result<String, String> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        // [index$][flags][width][.precision]conversion
        let start = i;
        let mut digits = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            digits.push(chars[i]);
            i += 1;
        }
        let mut index = None;
        if i < chars.len() && chars[i] == '$' && !digits.is_empty() {
            index = digits.parse::<usize>().ok();
            i += 1;
        } else {
            i = start;
        }
        let mut flags = String::new();
        while i < chars.len() && "-#+ 0,(".contains(chars[i]) {
            flags.push(chars[i]);
            i += 1;
        }
        let mut width = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            width.push(chars[i]);
            i += 1;
        }
        let mut precision = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                p.push(chars[i]);
                i += 1;
            }
            precision = p.parse::<usize>().ok();
        }
        let Some(&conversion) = chars.get(i) else {
            return Err(format!(
                "Format specifier '%{}' is incomplete",
                chars[start..].iter().collect::<String>()
            ));
        };
        i += 1;
        let width: usize = width.parse().unwrap_or(0);
        let body = match conversion {
            '%' => "%".to_string(),
            'n' => "\n".to_string(),
            _ => {
                let k = match index {
                    Some(k) => k - 1,
                    None => {
                        next += 1;
                        next - 1
                    }
                };
                let Some(v) = args.get(k) else {
                    return Err(format!("Format specifier '%{conversion}' has no argument"));
                };
                convert(conversion, &flags, precision, v)?
            }
        };
        out.push_str(&pad(&body, width, &flags, conversion));
    }
    Ok(out)
}

/// One conversion of one value, before padding to width.
fn convert(
    conversion: char,
    flags: &str,
    precision: Option<usize>,
    v: &Value,
) -> std::result::Result<String, String> {
    let mismatch = || format!("{conversion} != {}", type_name(v));
    let sign = |negative: bool, digits: String| -> String {
        if negative {
            if flags.contains('(') {
                format!("({digits})")
            } else {
                format!("-{digits}")
            }
        } else if flags.contains('+') {
            format!("+{digits}")
        } else if flags.contains(' ') {
            format!(" {digits}")
        } else {
            digits
        }
    };
    Ok(match (conversion, v) {
        ('s' | 'S', v) => {
            let mut s = java_string(v);
            if let Some(p) = precision {
                s = s.chars().take(p).collect();
            }
            if conversion == 'S' {
                s.to_uppercase()
            } else {
                s
            }
        }
        ('b' | 'B', v) => {
            let s = match v {
                Value::Null => "false".into(),
                Value::Bool(b) => b.to_string(),
                _ => "true".into(),
            };
            if conversion == 'B' {
                s.to_uppercase()
            } else {
                s
            }
        }
        (_, Value::Null) => "null".into(),
        ('d', Value::Long(n)) => {
            let digits = n.unsigned_abs().to_string();
            sign(
                *n < 0,
                if flags.contains(',') {
                    group(&digits)
                } else {
                    digits
                },
            )
        }
        ('x' | 'X', Value::Long(n)) => {
            let s = format!("{n:x}");
            if conversion == 'X' {
                s.to_uppercase()
            } else {
                s
            }
        }
        ('o', Value::Long(n)) => format!("{n:o}"),
        ('c', Value::Long(n)) => char::from_u32(*n as u32)
            .map(String::from)
            .ok_or_else(mismatch)?,
        ('c', Value::Text(s)) if s.chars().count() == 1 => s.clone(),
        ('f' | 'e' | 'E', Value::Long(_)) => return Err(mismatch()),
        ('f' | 'e' | 'E', v) => {
            let Value::Double(d) = v else {
                return Err(mismatch());
            };
            let d = *d;
            let p = precision.unwrap_or(6);
            let text = match conversion {
                'f' => format!("{:.*}", p, d.abs()),
                _ => {
                    let s = format!("{:.*e}", p, d.abs());
                    // Java writes the exponent with a sign and two digits.
                    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                    let e: i32 = e.parse().unwrap_or(0);
                    let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
                    if conversion == 'E' {
                        s.to_uppercase()
                    } else {
                        s
                    }
                }
            };
            let text = if flags.contains(',') && conversion == 'f' {
                match text.split_once('.') {
                    Some((w, f)) => format!("{}.{f}", group(w)),
                    None => group(&text),
                }
            } else {
                text
            };
            sign(d.is_sign_negative() && d != 0.0, text)
        }
        _ => return Err(mismatch()),
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Long(_) => "java.lang.Long",
        Value::Double(_) => "java.lang.Double",
        Value::Decimal(_) => "java.math.BigDecimal",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Text(_) => "java.lang.String",
    }
}

/// Digits grouped by thousands with commas.
fn group(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `body` padded to `width`: left-justified with `-`, zero-padded after the
/// sign with `0` (numbers only), else right-justified with spaces.
fn pad(body: &str, width: usize, flags: &str, conversion: char) -> String {
    let len = body.chars().count();
    if len >= width {
        return body.to_string();
    }
    let fill = width - len;
    if flags.contains('-') {
        return format!("{body}{}", " ".repeat(fill));
    }
    if flags.contains('0') && "dxXofeE".contains(conversion) {
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &body[1..]),
            _ => (String::new(), body),
        };
        return format!("{sign}{}{digits}", "0".repeat(fill));
    }
    format!("{}{body}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_formats() {
        let f = |fmt: &str, args: &[Value]| sprintf(fmt, args).expect("format");
        assert_eq!(
            f("%s-%d", &[Value::Text("a".into()), Value::Long(5)]),
            "a-5"
        );
        assert_eq!(
            f(
                "%5d|%-5d|%05d",
                &[Value::Long(42), Value::Long(42), Value::Long(-42)]
            ),
            "   42|42   |-0042"
        );
        assert_eq!(
            f("%.2f %,d", &[Value::Double(1.23456), Value::Long(1234567)]),
            "1.23 1,234,567"
        );
        assert_eq!(
            f("%x %X %%", &[Value::Long(255), Value::Long(255)]),
            "ff FF %"
        );
        assert_eq!(
            f(
                "%2$s %1$s",
                &[Value::Text("a".into()), Value::Text("b".into())]
            ),
            "b a"
        );
        assert_eq!(f("%s %b", &[Value::Null, Value::Null]), "null false");
        assert_eq!(f("%e", &[Value::Double(12345.678)]), "1.234568e+04");
        assert_eq!(f("%s", &[Value::Double(1.0)]), "1.0");
        assert!(sprintf("%d", &[Value::Text("x".into())]).is_err());
    }
}

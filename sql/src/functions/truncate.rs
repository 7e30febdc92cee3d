//! Flink's TRUNCATE(x [, d]): `x` cut toward zero to `d` decimal places (0
//! by default; a negative `d` cuts digits before the point). A DECIMAL
//! keeps its precision and takes scale `min(s, d)` (so `TRUNCATE(12.345,
//! 1)` prints `12.3`); other numbers keep their type. `d` must be a
//! constant, as the result type depends on it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::arity::unary;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, FieldRef, Float32Type, Float64Type, Int64Type,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Truncate {
    signature: Signature,
}

impl Truncate {
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    datafusion::logical_expr::TypeSignature::Any(1),
                    datafusion::logical_expr::TypeSignature::Any(2),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

/// The constant number of places.
fn places(v: Option<&ScalarValue>) -> Result<i64> {
    match v.map(|v| v.cast_to(&DataType::Int64)) {
        None => Ok(0),
        Some(Ok(ScalarValue::Int64(Some(d)))) => Ok(d),
        _ => plan_err!("TRUNCATE takes a constant number of decimal places"),
    }
}

fn result_type(t: &DataType, d: i64) -> Result<DataType> {
    Ok(match t {
        DataType::Decimal128(p, s) => DataType::Decimal128(*p, (*s as i64).min(d).max(0) as i8),
        DataType::Null => DataType::Float64,
        t if t.is_numeric() => t.clone(),
        t => return plan_err!("TRUNCATE takes a number, not {t}"),
    })
}

impl ScalarUDFImpl for Truncate {
    fn name(&self) -> &str {
        "truncate"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        plan_err!("TRUNCATE computes its type from its arguments")
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let d = places(args.scalar_arguments.get(1).copied().flatten())?;
        let t = result_type(args.arg_fields[0].data_type(), d)?;
        Ok(Arc::new(Field::new(self.name(), t, true)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let d = match args.args.get(1) {
            Some(ColumnarValue::Scalar(v)) => places(Some(v))?,
            Some(ColumnarValue::Array(_)) => {
                return exec_err!("TRUNCATE takes a constant number of decimal places");
            }
            None => 0,
        };
        let x = args.args[0].to_array(args.number_rows)?;
        let out = truncate(&x, d, args.return_field.data_type())?;
        Ok(ColumnarValue::Array(out))
    }
}

/// `v` cut toward zero to a multiple of `unit`.
fn cut(v: i128, unit: i128) -> i128 {
    v - v % unit
}

fn truncate(x: &ArrayRef, d: i64, to: &DataType) -> Result<ArrayRef> {
    Ok(match x.data_type() {
        DataType::Decimal128(_, s) => {
            let (s, d) = (*s as i64, d);
            let DataType::Decimal128(p, rs) = to else {
                return exec_err!("TRUNCATE: bad result type {to}");
            };
            let drop = s - d.max(-38).min(s);
            let unit = 10i128.pow(drop.clamp(0, 38) as u32);
            let keep = 10i128.pow((s - *rs as i64).clamp(0, 38) as u32);
            let out: Decimal128Array = unary(x.as_primitive::<Decimal128Type>(), |v: i128| {
                cut(v, unit) / keep
            });
            Arc::new(out.with_precision_and_scale(*p, *rs)?)
        }
        DataType::Float64 => {
            let f = |v: f64| cut_float(v, d);
            Arc::new(unary::<Float64Type, _, Float64Type>(x.as_primitive(), f))
        }
        DataType::Float32 => {
            let f = |v: f32| cut_float(v as f64, d) as f32;
            Arc::new(unary::<Float32Type, _, Float32Type>(x.as_primitive(), f))
        }
        DataType::Null => datafusion::arrow::array::new_null_array(to, x.len()),
        t if t.is_integer() => {
            let longs = cast(x, &DataType::Int64)?;
            let unit = if d >= 0 {
                1
            } else {
                10i64.saturating_pow((-d) as u32)
            };
            let out = unary::<Int64Type, _, Int64Type>(longs.as_primitive(), |v| v - v % unit);
            cast(&out, to)?
        }
        t => return exec_err!("TRUNCATE takes a number, not {t}"),
    })
}

/// A double cut toward zero to `d` places, as Java's BigDecimal would.
fn cut_float(v: f64, d: i64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(d.clamp(-300, 300) as i32);
    let cut = (v * scale).trunc() / scale;
    // Through text, so 12.3 stays 12.3 rather than 12.299999..
    format!("{cut:.*}", d.max(0) as usize)
        .parse()
        .unwrap_or(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_cut_to_fewer_places() {
        let x: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(12345), Some(-12345), None])
                .with_precision_and_scale(5, 3)
                .expect("decimal"),
        );
        let to = result_type(x.data_type(), 1).expect("type");
        assert_eq!(to, DataType::Decimal128(5, 1));
        let out = truncate(&x, 1, &to).expect("truncate");
        let out = out.as_primitive::<Decimal128Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            [Some(123), Some(-123), None]
        );
        assert_eq!(cut_float(12.345, 2), 12.34);
        assert_eq!(cut_float(-1.99, 0), -1.0);
    }
}

//! Flink's CEIL and FLOOR: an exact argument keeps its type (a DECIMAL its
//! precision, with scale 0: `CEIL(1.5)` is `DECIMAL(2, 0)` 2, as Flink
//! prints it), where DataFusion's return a DOUBLE.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::compute::kernels::arity::unary;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type};
use datafusion::common::{Result, exec_err, plan_err};

use super::FlinkFunction;

pub(super) fn functions() -> Vec<FlinkFunction> {
    vec![
        FlinkFunction::any_args("ceil", 1, DataType::Null, ceil)
            .with_return_type(result_type)
            .with_alias("ceiling"),
        FlinkFunction::any_args("floor", 1, DataType::Null, floor).with_return_type(result_type),
    ]
}

/// The result type of CEIL and FLOOR of `args[0]`, as Flink's.
fn result_type(args: &[DataType]) -> Result<DataType> {
    match &args[0] {
        DataType::Decimal128(p, _) => Ok(DataType::Decimal128(*p, 0)),
        t @ (DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64) => Ok(t.clone()),
        DataType::Null => Ok(DataType::Float64),
        t => plan_err!("CEIL and FLOOR take a number, not {t}"),
    }
}

fn ceil(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    round(&args[0], true)
}

fn floor(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    round(&args[0], false)
}

/// CEIL (`up`) or FLOOR of every value of `a`.
fn round(a: &ArrayRef, up: bool) -> Result<ArrayRef> {
    Ok(match a.data_type() {
        DataType::Decimal128(p, s) => {
            let unit = 10i128.pow(u32::from(s.unsigned_abs()));
            let whole: Decimal128Array = unary(a.as_primitive::<Decimal128Type>(), |v: i128| {
                let (q, r) = (v / unit, v % unit);
                if up && r > 0 {
                    q + 1
                } else if !up && r < 0 {
                    q - 1
                } else {
                    q
                }
            });
            Arc::new(whole.with_precision_and_scale(*p, 0)?)
        }
        DataType::Float64 => {
            let f = |v: f64| if up { v.ceil() } else { v.floor() };
            Arc::new(unary::<Float64Type, _, Float64Type>(a.as_primitive(), f))
        }
        DataType::Float32 => {
            let f = |v: f32| if up { v.ceil() } else { v.floor() };
            Arc::new(unary::<Float32Type, _, Float32Type>(a.as_primitive(), f))
        }
        DataType::Null => datafusion::arrow::array::new_null_array(&DataType::Float64, a.len()),
        t if t.is_integer() => a.clone(),
        t => return exec_err!("CEIL and FLOOR take a number, not {t}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_to_scale_zero_toward_either_side() {
        let a: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(15), Some(-15), Some(-5), Some(20), None])
                .with_precision_and_scale(2, 1)
                .expect("decimal"),
        );
        let c = round(&a, true).expect("ceil");
        let c = c.as_primitive::<Decimal128Type>();
        assert_eq!(c.data_type(), &DataType::Decimal128(2, 0));
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [Some(2), Some(-1), Some(0), Some(2), None]
        );
        let f = round(&a, false).expect("floor");
        let f = f.as_primitive::<Decimal128Type>();
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            [Some(1), Some(-2), Some(-1), Some(2), None]
        );
    }
}

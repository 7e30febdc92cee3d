//! Decimal division with Flink's result type. Flink divides
//! `DECIMAL(p1, s1) / DECIMAL(p2, s2)` into scale `max(6, s1 + p2 + 1)` and
//! precision `p1 - s1 + s2 + scale` (capped at 38), with integers taken as
//! `DECIMAL(10, 0)` (INT) or `DECIMAL(19, 0)` (BIGINT); DataFusion keeps
//! fewer digits. An [`ExprPlanner`] routes such divisions to
//! [`DECIMAL_DIVIDE`], before DataFusion's type coercion.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Builder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, ScalarUDF};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use super::FlinkFunction;

/// The function Flink's decimal divisions are planned as.
pub const DECIMAL_DIVIDE: &str = "flink_decimal_divide";

pub(super) fn functions() -> Vec<FlinkFunction> {
    vec![
        FlinkFunction::any_args(DECIMAL_DIVIDE, 2, DataType::Null, divide)
            .with_return_type(|args| division_type(&args[0], &args[1])),
    ]
}

/// The decimal precision and scale Flink gives a numeric type, if exact.
fn as_decimal(t: &DataType) -> Option<(u8, i8)> {
    match t {
        DataType::Decimal128(p, s) => Some((*p, *s)),
        DataType::Int8 => Some((3, 0)),
        DataType::Int16 => Some((5, 0)),
        DataType::Int32 => Some((10, 0)),
        DataType::Int64 => Some((19, 0)),
        _ => None,
    }
}

/// Flink's result type of `a / b` for decimals.
pub fn division_type(a: &DataType, b: &DataType) -> Result<DataType> {
    let (Some((p1, s1)), Some((p2, s2))) = (as_decimal(a), as_decimal(b)) else {
        return datafusion::common::plan_err!("{DECIMAL_DIVIDE} of {a} and {b}");
    };
    let (p1, s1, p2, s2) = (p1 as i32, s1 as i32, p2 as i32, s2 as i32);
    let mut scale = 6.max(s1 + p2 + 1);
    let mut precision = p1 - s1 + s2 + scale;
    if precision > 38 {
        let digits = precision - scale;
        scale = (38 - digits).max(scale.min(6));
        precision = 38;
    }
    Ok(DataType::Decimal128(precision as u8, scale as i8))
}

fn divide(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let result = division_type(args[0].data_type(), args[1].data_type())?;
    let DataType::Decimal128(p, s) = result else {
        return exec_err!("decimal division gave {result}");
    };
    let operand = |a: &ArrayRef| -> Result<(ArrayRef, i8)> {
        let (p, s) = as_decimal(a.data_type()).unwrap_or((38, 0));
        Ok((cast(a, &DataType::Decimal128(p.max(1), s))?, s))
    };
    let (a, s1) = operand(&args[0])?;
    let (b, s2) = operand(&args[1])?;
    let a = a.as_primitive::<Decimal128Type>();
    let b = b.as_primitive::<Decimal128Type>();
    // a/10^s1 / (b/10^s2) * 10^s = a * 10^(s - s1 + s2) / b
    let shift = s as i32 - s1 as i32 + s2 as i32;
    let mut out = Decimal128Builder::with_capacity(rows);
    for i in 0..rows {
        if a.is_null(i) || b.is_null(i) {
            out.append_null();
            continue;
        }
        let (x, y) = (a.value(i), b.value(i));
        if y == 0 {
            return exec_err!("Division by zero");
        }
        out.append_option(
            scaled_quotient(x, y, shift).filter(|q| q.unsigned_abs() < 10u128.pow(p as u32)),
        );
    }
    Ok(Arc::new(out.finish().with_precision_and_scale(p, s)?))
}

/// `x * 10^shift / y` rounded HALF_UP, or `None` on overflow.
fn scaled_quotient(x: i128, y: i128, shift: i32) -> Option<i128> {
    let (num, den) = if shift >= 0 {
        (x.checked_mul(10i128.checked_pow(shift as u32)?)?, y)
    } else {
        (x, y.checked_mul(10i128.checked_pow((-shift) as u32)?)?)
    };
    let q = num / den;
    let r = num % den;
    // round half away from zero
    if r.unsigned_abs().checked_mul(2)? >= den.unsigned_abs() {
        Some(if (num < 0) != (den < 0) { q - 1 } else { q + 1 })
    } else {
        Some(q)
    }
}

/// Plans `a / b` over decimals (or a decimal and an integer) as Flink does.
#[derive(Debug)]
pub struct FlinkArithmetic {
    divide: Arc<ScalarUDF>,
}

impl FlinkArithmetic {
    /// The planner calling `divide` (the registered [`DECIMAL_DIVIDE`]).
    pub fn new(divide: Arc<ScalarUDF>) -> Self {
        Self { divide }
    }
}

/// An integer literal that fits an INT is an INT in Flink.
fn flink_operand(e: Expr, t: &DataType) -> Expr {
    match &e {
        Expr::Literal(ScalarValue::Int64(Some(v)), _) if i32::try_from(*v).is_ok() => {
            datafusion::logical_expr::cast(e, DataType::Int32)
        }
        _ if *t == DataType::Null => e,
        _ => e,
    }
}

impl ExprPlanner for FlinkArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if expr.op != BinaryOperator::Divide {
            return Ok(PlannerResult::Original(expr));
        }
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        let decimal =
            matches!(lt, DataType::Decimal128(_, _)) || matches!(rt, DataType::Decimal128(_, _));
        if !decimal || as_decimal(&lt).is_none() || as_decimal(&rt).is_none() {
            return Ok(PlannerResult::Original(expr));
        }
        let args = vec![
            flink_operand(expr.left, &lt),
            flink_operand(expr.right, &rt),
        ];
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(self.divide.clone(), args),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_division_types() {
        assert_eq!(
            division_type(&DataType::Decimal128(10, 2), &DataType::Int32).ok(),
            Some(DataType::Decimal128(21, 13))
        );
        assert_eq!(
            division_type(&DataType::Decimal128(2, 1), &DataType::Int32).ok(),
            Some(DataType::Decimal128(13, 12))
        );
        assert_eq!(
            division_type(&DataType::Int32, &DataType::Decimal128(2, 1)).ok(),
            Some(DataType::Decimal128(17, 6))
        );
    }

    #[test]
    fn quotients_round_half_up() {
        assert_eq!(scaled_quotient(1250, 3, 11), Some(41666666666667));
        assert_eq!(scaled_quotient(-1, 2, 0), Some(-1));
        assert_eq!(scaled_quotient(1, 3, 0), Some(0));
    }
}

//! Flink's `STDDEV_POP`, `STDDEV_SAMP` (`STDDEV`), `VAR_POP` and
//! `VAR_SAMP` (`VARIANCE`). Flink (through Calcite) computes them from the
//! sums as `(SUM(x * x) - SUM(x) * SUM(x) / COUNT(x)) / n`, in the type of
//! the argument, so over integers the result is an integer (the square root
//! truncated) and the divisions are integer divisions; DataFusion returns a
//! DOUBLE from Welford's algorithm. Decimal arguments use DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

/// Which statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    StddevPop,
    StddevSamp,
    VarPop,
    VarSamp,
}

impl Kind {
    fn is_sample(self) -> bool {
        matches!(self, Kind::StddevSamp | Kind::VarSamp)
    }

    fn is_stddev(self) -> bool {
        matches!(self, Kind::StddevPop | Kind::StddevSamp)
    }
}

/// The four functions, replacing DataFusion's of the same names.
pub(super) fn functions() -> Vec<AggregateUDF> {
    use datafusion::functions_aggregate::{stddev, variance};
    [
        (
            Kind::StddevPop,
            "stddev_pop",
            vec![],
            stddev::stddev_pop_udaf(),
        ),
        (
            Kind::StddevSamp,
            "stddev_samp",
            vec!["stddev".to_string()],
            stddev::stddev_udaf(),
        ),
        (Kind::VarPop, "var_pop", vec![], variance::var_pop_udaf()),
        (
            Kind::VarSamp,
            "var_samp",
            vec!["variance".to_string(), "var".to_string()],
            variance::var_samp_udaf(),
        ),
    ]
    .into_iter()
    .map(|(kind, name, aliases, inner)| {
        AggregateUDF::new_from_impl(FlinkVariance {
            kind,
            name,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
            inner,
        })
    })
    .collect()
}

/// One of the statistics with Flink's types and arithmetic.
#[derive(Debug)]
struct FlinkVariance {
    kind: Kind,
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    /// DataFusion's function, for decimal arguments.
    inner: Arc<AggregateUDF>,
}

impl PartialEq for FlinkVariance {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}
impl Eq for FlinkVariance {}
impl std::hash::Hash for FlinkVariance {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

/// How the arithmetic goes for an argument type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arith {
    /// Integers of this many bits, wrapping as Java's do.
    Integer(u32),
    Float,
}

fn arith(t: &DataType) -> Option<Arith> {
    match t {
        DataType::Int8 => Some(Arith::Integer(8)),
        DataType::Int16 => Some(Arith::Integer(16)),
        DataType::Int32 => Some(Arith::Integer(32)),
        DataType::Int64 => Some(Arith::Integer(64)),
        DataType::Float32 | DataType::Float64 => Some(Arith::Float),
        _ => None,
    }
}

impl AggregateUDFImpl for FlinkVariance {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if arith(t).is_some() => Ok(vec![t.clone()]),
            _ => {
                let fields: Vec<FieldRef> = arg_types
                    .iter()
                    .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
                    .collect();
                let coerced = datafusion::logical_expr::type_coercion::functions::fields_with_udf(
                    &fields,
                    self.inner.as_ref(),
                )?;
                Ok(coerced.iter().map(|f| f.data_type().clone()).collect())
            }
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if arith(t).is_some() => Ok(t.clone()),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let t = args.return_field.data_type();
        match arith(t) {
            Some(arith) if !args.is_distinct => Ok(Box::new(Sums {
                kind: self.kind,
                arith,
                data_type: t.clone(),
                ints: (0, 0),
                floats: (0.0, 0.0),
                count: 0,
            })),
            _ => self.inner.inner().accumulator(args),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let t = args.return_field.data_type();
        let sum_type = match arith(t) {
            Some(_) if args.is_distinct => return self.inner.inner().state_fields(args),
            Some(Arith::Integer(_)) => DataType::Int64,
            Some(Arith::Float) => DataType::Float64,
            None => return self.inner.inner().state_fields(args),
        };
        let field = |what: &str, t: DataType| {
            Arc::new(Field::new(format_state_name(args.name, what), t, true))
        };
        Ok(vec![
            field("sum_of_squares", sum_type.clone()),
            field("sum", sum_type),
            field("count", DataType::Int64),
        ])
    }
}

/// `SUM(x * x)`, `SUM(x)` and `COUNT(x)`.
#[derive(Debug)]
struct Sums {
    kind: Kind,
    arith: Arith,
    data_type: DataType,
    /// Sum of squares and sum, wrapped to the argument's width.
    ints: (i64, i64),
    floats: (f64, f64),
    count: i64,
}

/// `v` wrapped to `bits` bits, as Java's integer arithmetic leaves it.
fn wrap(v: i64, bits: u32) -> i64 {
    match bits {
        8 => v as i8 as i64,
        16 => v as i16 as i64,
        32 => v as i32 as i64,
        _ => v,
    }
}

impl Sums {
    fn add_ints(&mut self, squares: i64, sum: i64, count: i64, bits: u32) {
        self.ints.0 = wrap(self.ints.0.wrapping_add(squares), bits);
        self.ints.1 = wrap(self.ints.1.wrapping_add(sum), bits);
        self.count += count;
    }
}

impl Accumulator for Sums {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match self.arith {
            Arith::Integer(bits) => {
                let v = cast(&values[0], &DataType::Int64)?;
                let (mut squares, mut sum, mut count) = (0i64, 0i64, 0i64);
                for x in v.as_primitive::<Int64Type>().iter().flatten() {
                    squares = wrap(squares.wrapping_add(wrap(x.wrapping_mul(x), bits)), bits);
                    sum = wrap(sum.wrapping_add(x), bits);
                    count += 1;
                }
                self.add_ints(squares, sum, count, bits);
            }
            Arith::Float => {
                let v = cast(&values[0], &DataType::Float64)?;
                for x in v.as_primitive::<Float64Type>().iter().flatten() {
                    self.floats.0 += x * x;
                    self.floats.1 += x;
                    self.count += 1;
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let n = self.count;
        let d = if self.kind.is_sample() { n - 1 } else { n };
        if n == 0 || d == 0 {
            return ScalarValue::try_from(&self.data_type);
        }
        match self.arith {
            Arith::Integer(bits) => {
                let (squares, sum) = self.ints;
                let mean_square = wrap(sum.wrapping_mul(sum), bits).wrapping_div(n);
                let variance = squares.wrapping_sub(mean_square).wrapping_div(d);
                let result = if self.kind.is_stddev() {
                    // Java's (long) of a double: truncated, NaN as 0.
                    let root = (variance as f64).sqrt();
                    if root.is_nan() { 0 } else { root as i64 }
                } else {
                    variance
                };
                ScalarValue::Int64(Some(wrap(result, bits))).cast_to(&self.data_type)
            }
            Arith::Float => {
                let (squares, sum) = self.floats;
                let variance = (squares - sum * sum / n as f64) / d as f64;
                let result = if self.kind.is_stddev() {
                    variance.sqrt()
                } else {
                    variance
                };
                ScalarValue::Float64(Some(result)).cast_to(&self.data_type)
            }
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let count = ScalarValue::Int64(Some(self.count));
        Ok(match self.arith {
            Arith::Integer(_) => vec![
                ScalarValue::Int64(Some(self.ints.0)),
                ScalarValue::Int64(Some(self.ints.1)),
                count,
            ],
            Arith::Float => vec![
                ScalarValue::Float64(Some(self.floats.0)),
                ScalarValue::Float64(Some(self.floats.1)),
                count,
            ],
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = cast(&states[2], &DataType::Int64)?;
        let counts = counts.as_primitive::<Int64Type>();
        match self.arith {
            Arith::Integer(bits) => {
                let squares = cast(&states[0], &DataType::Int64)?;
                let sums = cast(&states[1], &DataType::Int64)?;
                let (squares, sums) = (
                    squares.as_primitive::<Int64Type>(),
                    sums.as_primitive::<Int64Type>(),
                );
                for i in 0..counts.len() {
                    self.add_ints(squares.value(i), sums.value(i), counts.value(i), bits);
                }
            }
            Arith::Float => {
                let squares = cast(&states[0], &DataType::Float64)?;
                let sums = cast(&states[1], &DataType::Float64)?;
                let (squares, sums) = (
                    squares.as_primitive::<Float64Type>(),
                    sums.as_primitive::<Float64Type>(),
                );
                for i in 0..counts.len() {
                    self.floats.0 += squares.value(i);
                    self.floats.1 += sums.value(i);
                    self.count += counts.value(i);
                }
            }
        }
        Ok(())
    }
}

//! Flink's `AVG`: over an integer type the result has that type (the sum
//! divided by the count, truncated), where DataFusion returns a DOUBLE.
//! Other types use DataFusion's `avg`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

fn is_integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

/// `AVG` with Flink's result type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FlinkAvg {
    signature: Signature,
    inner: Arc<AggregateUDF>,
}

impl FlinkAvg {
    /// Flink's AVG, delegating non-integer arguments to DataFusion's.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            inner: datafusion::functions_aggregate::average::avg_udaf(),
        }
    }
}

impl Default for FlinkAvg {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for FlinkAvg {
    fn name(&self) -> &str {
        "avg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if is_integer(t) => Ok(vec![t.clone()]),
            _ => {
                // DataFusion's avg declares its coercions in its signature.
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
            [t] if is_integer(t) => Ok(t.clone()),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let t = args.return_field.data_type();
        if is_integer(t) {
            return Ok(Box::new(IntegerAvg {
                sum: 0,
                count: 0,
                data_type: t.clone(),
            }));
        }
        self.inner.inner().accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if is_integer(args.return_field.data_type()) {
            return Ok(vec![
                Arc::new(Field::new(
                    format_state_name(args.name, "count"),
                    DataType::Int64,
                    true,
                )),
                Arc::new(Field::new(
                    format_state_name(args.name, "sum"),
                    DataType::Int64,
                    true,
                )),
            ]);
        }
        self.inner.inner().state_fields(args)
    }
}

/// Sum and count of integers; the average truncates toward zero as Java's
/// integer division does.
#[derive(Debug)]
struct IntegerAvg {
    sum: i128,
    count: i64,
    data_type: DataType,
}

fn int64s(a: &ArrayRef) -> Result<datafusion::arrow::array::Int64Array> {
    Ok(cast(a, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

impl Accumulator for IntegerAvg {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let v = int64s(&values[0])?;
        self.count += (v.len() - v.null_count()) as i64;
        self.sum += v.iter().flatten().map(i128::from).sum::<i128>();
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let v = int64s(&values[0])?;
        self.count -= (v.len() - v.null_count()) as i64;
        self.sum -= v.iter().flatten().map(i128::from).sum::<i128>();
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let avg = (self.count > 0).then(|| (self.sum / self.count as i128) as i64);
        ScalarValue::Int64(avg).cast_to(&self.data_type)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Int64(Some(self.count)),
            ScalarValue::Int64(Some(self.sum as i64)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = int64s(&states[0])?;
        let sums = int64s(&states[1])?;
        self.count += counts.iter().flatten().sum::<i64>();
        self.sum += sums.iter().flatten().map(i128::from).sum::<i128>();
        Ok(())
    }
}

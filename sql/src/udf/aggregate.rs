//! User-defined aggregate functions (Flink's `AggregateFunction`):
//! accumulate, retract, merge and get-value over a serde accumulator, run
//! as a DataFusion aggregate whose state is the accumulator's bytes, so
//! that checkpoints, restores, rescales and the slices of HOP and
//! CUMULATE windows carry it like any built-in aggregate's.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::value::{SqlArgs, SqlValue};

/// An aggregate function over rows of [`AggregateFunction::Args`].
///
/// ```
/// use eddy_sql::udf::AggregateFunction;
/// /// The mean of BIGINT values, as a DOUBLE (NULL over no values).
/// struct Mean;
/// impl AggregateFunction for Mean {
///     type Args = (i64,);
///     type Acc = (i64, i64);
///     type Output = Option<f64>;
///     const RETRACTS: bool = true;
///     fn accumulate(&self, acc: &mut (i64, i64), (x,): (i64,)) {
///         acc.0 += x;
///         acc.1 += 1;
///     }
///     fn retract(&self, acc: &mut (i64, i64), (x,): (i64,)) {
///         acc.0 -= x;
///         acc.1 -= 1;
///     }
///     fn merge(&self, acc: &mut (i64, i64), other: (i64, i64)) {
///         acc.0 += other.0;
///         acc.1 += other.1;
///     }
///     fn get_value(&self, acc: &(i64, i64)) -> Option<f64> {
///         (acc.1 > 0).then(|| acc.0 as f64 / acc.1 as f64)
///     }
/// }
/// ```
pub trait AggregateFunction: Send + Sync + 'static {
    /// The arguments of a call, a tuple of [`SqlValue`]s. A row where an
    /// argument that is not an `Option` is NULL is skipped, as built-in
    /// aggregates skip NULLs.
    type Args: SqlArgs;
    /// The accumulator: starts as `Default`, checkpointed with serde.
    type Acc: Serialize + DeserializeOwned + Default + Send + Sync + 'static;
    /// The result.
    type Output: SqlValue;

    /// Whether [`AggregateFunction::retract`] undoes an accumulate. Over
    /// updating input, a function that cannot retract is recomputed from
    /// the values kept per key.
    const RETRACTS: bool = false;

    /// Adds a row.
    fn accumulate(&self, acc: &mut Self::Acc, args: Self::Args);

    /// Takes back a row added before (only called when `RETRACTS`).
    fn retract(&self, acc: &mut Self::Acc, args: Self::Args) {
        let _ = (acc, args);
    }

    /// Adds another accumulator's rows (window slices, restored state).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);

    /// The result over the rows accumulated.
    fn get_value(&self, acc: &Self::Acc) -> Self::Output;
}

/// An [`AggregateFunction`] as a DataFusion aggregate under `name`.
pub fn aggregate_udf<F: AggregateFunction>(name: &str, function: Arc<F>) -> AggregateUDF {
    AggregateUDF::new_from_impl(UserAggregate {
        name: name.to_string(),
        signature: Signature::exact(F::Args::data_types(), Volatility::Immutable),
        function,
    })
}

struct UserAggregate<F> {
    name: String,
    signature: Signature,
    function: Arc<F>,
}

impl<F> fmt::Debug for UserAggregate<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserAggregate({})", self.name)
    }
}

impl<F> PartialEq for UserAggregate<F> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.function, &other.function)
    }
}
impl<F> Eq for UserAggregate<F> {}
impl<F> std::hash::Hash for UserAggregate<F> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl<F: AggregateFunction> AggregateUDFImpl for UserAggregate<F> {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(F::Output::data_type())
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(UserAccumulator {
            name: self.name.clone(),
            function: self.function.clone(),
            acc: F::Acc::default(),
            _args: PhantomData,
        }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[acc]", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

struct UserAccumulator<F: AggregateFunction> {
    name: String,
    function: Arc<F>,
    acc: F::Acc,
    _args: PhantomData<fn(F::Args)>,
}

impl<F: AggregateFunction> fmt::Debug for UserAccumulator<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserAccumulator({})", self.name)
    }
}

impl<F: AggregateFunction> UserAccumulator<F> {
    fn error(&self, what: &str, e: impl fmt::Display) -> DataFusionError {
        DataFusionError::Execution(format!(
            "the accumulator of function {} could not be {what}: {e}",
            self.name
        ))
    }
}

impl<F: AggregateFunction> Accumulator for UserAccumulator<F> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |v| v.len());
        for args in F::Args::rows(values, rows)?.into_iter().flatten() {
            self.function.accumulate(&mut self.acc, args);
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |v| v.len());
        for args in F::Args::rows(values, rows)?.into_iter().flatten() {
            self.function.retract(&mut self.acc, args);
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        F::RETRACTS
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(bytes) = states.first().and_then(|s| s.as_binary_opt::<i32>()) else {
            return Err(self.error("merged", "its state is not BYTES"));
        };
        for b in bytes.iter().flatten() {
            let other: F::Acc = postcard::from_bytes(b).map_err(|e| self.error("restored", e))?;
            self.function.merge(&mut self.acc, other);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let bytes = postcard::to_allocvec(&self.acc).map_err(|e| self.error("saved", e))?;
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = self.function.get_value(&self.acc);
        let column = F::Output::to_column(vec![Some(value)]);
        ScalarValue::try_from_array(&column, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Schema;
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::col;
    use eddy_engine::RowKind::{self, *};
    use eddy_engine::harness::{
        Rescale, Step, assert_rescale_restore, assert_snapshot_restore, kv_changes, kv_schema,
    };
    use eddy_engine::ops::aggregate::AggregateCall;
    use eddy_engine::ops::aggregate::group::GroupAggregate;

    /// A sum kept as a list of the values seen (so that its state is more
    /// than a number), taking values back on retraction.
    struct Values;

    impl AggregateFunction for Values {
        type Args = (i64,);
        type Acc = Vec<i64>;
        type Output = Option<i64>;
        const RETRACTS: bool = true;
        fn accumulate(&self, acc: &mut Vec<i64>, (x,): (i64,)) {
            acc.push(x);
        }
        fn retract(&self, acc: &mut Vec<i64>, (x,): (i64,)) {
            if let Some(i) = acc.iter().position(|v| *v == x) {
                acc.swap_remove(i);
            }
        }
        fn merge(&self, acc: &mut Vec<i64>, other: Vec<i64>) {
            acc.extend(other);
        }
        fn get_value(&self, acc: &Vec<i64>) -> Option<i64> {
            (!acc.is_empty()).then(|| acc.iter().sum())
        }
    }

    fn factory() -> GroupAggregate {
        let schema = kv_schema();
        let udaf = Arc::new(aggregate_udf("values_sum", Arc::new(Values)));
        let call = AggregateExprBuilder::new(udaf, vec![col("v", &schema).expect("column")])
            .schema(schema.clone())
            .alias("s")
            .build()
            .expect("aggregate");
        GroupAggregate {
            key_count: 1,
            calls: vec![AggregateCall {
                function: Arc::new(call),
                filter: None,
            }],
            updating_input: true,
            update_before: true,
            state_ttl: None,
            input_schema: schema,
            schema: Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("s", DataType::Int64, true),
            ])),
            description: "GroupAggregate".into(),
        }
    }

    fn steps() -> Vec<Step> {
        let rows: [&[(RowKind, i64, i64)]; 3] = [
            &[
                (Insert, 1, 5),
                (Insert, 2, 3),
                (Insert, 3, 1),
                (Insert, 4, 4),
            ],
            &[(Insert, 1, 9), (UpdateBefore, 2, 3), (Insert, 5, 7)],
            &[
                (Delete, 1, 5),
                (Insert, 2, 8),
                (Insert, 3, 3),
                (Delete, 4, 4),
                (Insert, 5, 1),
                (Insert, 6, 2),
                (Insert, 7, 2),
                (Insert, 8, 2),
                (Insert, 9, 2),
            ],
        ];
        rows.iter().map(|r| kv_changes(r)).collect()
    }

    #[tokio::test]
    async fn accumulators_are_checkpointed_and_restored() {
        let steps = steps();
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory(), &steps, split).await;
        }
    }

    #[tokio::test]
    async fn accumulators_are_restored_at_another_parallelism() {
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            let rescale = Rescale {
                keys: &[&[0]],
                from,
                to,
            };
            assert_rescale_restore(&factory(), &steps(), 2, rescale).await;
        }
    }
}

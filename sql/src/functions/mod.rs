//! Flink's scalar functions where DataFusion has none or differs. Each is a
//! row-wise function over Arrow arrays registered under Flink's name,
//! replacing DataFusion's function of that name.

mod avg;
mod cast;
mod charset;
mod decimal;

pub use cast::CAST_TO_STRING;
pub use decimal::{DECIMAL_DIVIDE, FlinkArithmetic};
pub use json::{JSON_VALUE_ERROR, JSON_VALUE_RAISE};
pub use random::{RAND_INTEGER, RAND_SEEDED, call_id as random_call_id};
pub use text::FLINK_SUBSTRING;
pub use unnest::UNNEST_PART;

/// The function [`UNNEST_PART`] names.
pub fn unnest_part() -> ScalarUDF {
    ScalarUDF::new_from_impl(unnest::UnnestPart::new())
}
pub use window::{AS_OF, CUMULATE_ENDS, HOP_STARTS, PLUS_MILLIS, PROCTIME, SESSION_END, SLICE_END};
mod datetime;
mod hash;
mod json;
pub mod json_build;
mod math;
mod percentile;
mod printf;
mod random;
mod split;
mod string;
mod text;
mod timeadd;
mod timezone;
mod truncate;
mod unnest;
mod url;
mod variance;
mod window;

use std::hash::{Hash, Hasher};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

use datafusion::execution::SessionState;
use datafusion::execution::registry::FunctionRegistry;

/// Computes a result type from argument types.
type ReturnTypeFn = fn(&[DataType]) -> Result<DataType>;

/// Computes a result column from argument columns (all of `rows` rows).
type Kernel = fn(&[ArrayRef], usize) -> Result<ArrayRef>;

/// A Flink function: a name, the argument types it takes (arguments are
/// coerced to them), its result type and its kernel.
#[derive(Debug)]
pub struct FlinkFunction {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    arg_sets: Vec<Vec<DataType>>,
    /// Takes this many arguments of any type (then `arg_sets` is empty).
    any_arity: Option<usize>,
    return_type: DataType,
    /// Computes the result type from the argument types, if not fixed.
    return_type_fn: Option<ReturnTypeFn>,
    /// Constant arguments after the first reach the kernel as one-row
    /// arrays (the kernel reads them once) instead of repeated per row.
    constant_parameters: bool,
    kernel: Kernel,
}

impl PartialEq for FlinkFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for FlinkFunction {}
impl Hash for FlinkFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl FlinkFunction {
    /// A function taking one of `arg_sets` (chosen by argument count);
    /// arguments are cast to the set's types.
    fn new(
        name: &'static str,
        arg_sets: Vec<Vec<DataType>>,
        return_type: DataType,
        kernel: Kernel,
    ) -> Self {
        Self {
            name,
            aliases: vec![],
            signature: Signature::user_defined(Volatility::Immutable),
            arg_sets,
            any_arity: None,
            return_type,
            return_type_fn: None,
            constant_parameters: false,
            kernel,
        }
    }

    /// Gives a new value at every call (not folded into a constant when
    /// planning), like the current time.
    fn volatile(mut self) -> Self {
        self.signature = Signature::user_defined(Volatility::Volatile);
        self
    }

    /// Passes constant arguments after the first as one-row arrays.
    fn with_constant_parameters(mut self) -> Self {
        self.constant_parameters = true;
        self
    }

    /// A function taking `arity` arguments of any type, as they are.
    fn any_args(name: &'static str, arity: usize, return_type: DataType, kernel: Kernel) -> Self {
        let mut f = Self::new(name, vec![], return_type, kernel);
        f.any_arity = Some(arity);
        f
    }

    fn with_return_type(mut self, f: ReturnTypeFn) -> Self {
        self.return_type_fn = Some(f);
        self
    }

    fn with_alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_string());
        self
    }
}

impl ScalarUDFImpl for FlinkFunction {
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
        if self.any_arity == Some(arg_types.len()) {
            return Ok(arg_types.to_vec());
        }
        match self.arg_sets.iter().find(|s| s.len() == arg_types.len()) {
            Some(set) => Ok(set.clone()),
            None => datafusion::common::plan_err!(
                "Invalid number of arguments for function {}: {}",
                self.name.to_ascii_uppercase(),
                arg_types.len()
            ),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match self.return_type_fn {
            Some(f) => f(arg_types),
            None => Ok(self.return_type.clone()),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if all_scalar { 1 } else { rows };
        let arrays = if self.constant_parameters && !all_scalar {
            args.args
                .iter()
                .enumerate()
                .map(|(i, a)| match a {
                    ColumnarValue::Scalar(v) if i > 0 => v.to_array(),
                    a => a.to_array(rows),
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            ColumnarValue::values_to_arrays(&args.args)?
        };
        let result = (self.kernel)(&arrays, n)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&result, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// Registers Flink's functions in a DataFusion session state, and the
/// planner of Flink's arithmetic.
pub fn register(state: &mut SessionState) -> Result<()> {
    for f in string::functions()
        .into_iter()
        .chain(datetime::functions())
        .chain(window::functions())
        .chain(cast::functions())
        .chain(decimal::functions())
        .chain(math::functions())
        .chain(json::functions())
        .chain(hash::functions())
        .chain(text::functions())
        .chain(timeadd::functions())
        .chain(url::functions())
        .chain(charset::functions())
        .chain(split::functions())
        .chain(timezone::functions())
    {
        let udf = Arc::new(ScalarUDF::new_from_impl(f));
        if udf.name() == DECIMAL_DIVIDE {
            state.register_expr_planner(Arc::new(FlinkArithmetic::new(udf.clone())))?;
        }
        state.register_udf(udf)?;
    }
    state.register_udf(Arc::new(
        ScalarUDF::new_from_impl(unnest::UnnestPart::new()),
    ))?;
    state.register_udf(Arc::new(
        ScalarUDF::new_from_impl(truncate::Truncate::new()),
    ))?;
    state.register_udf(Arc::new(ScalarUDF::new_from_impl(printf::Printf::new())))?;
    state.register_udf(Arc::new(ScalarUDF::new_from_impl(
        random::SeededRandom::double(),
    )))?;
    state.register_udf(Arc::new(ScalarUDF::new_from_impl(
        random::SeededRandom::integer(),
    )))?;
    for f in json_build::JsonBuild::all() {
        state.register_udf(Arc::new(ScalarUDF::new_from_impl(f)))?;
    }
    state.register_udaf(Arc::new(
        datafusion::logical_expr::AggregateUDF::new_from_impl(avg::FlinkAvg::new()),
    ))?;
    state.register_udaf(Arc::new(
        datafusion::logical_expr::AggregateUDF::new_from_impl(percentile::FlinkPercentile::new()),
    ))?;
    for f in variance::functions() {
        state.register_udaf(Arc::new(f))?;
    }
    Ok(())
}

/// The text of constant argument `k` (a kernel gets a constant as one
/// row, see `with_constant_parameters`), if given and not NULL.
pub(super) fn constant_text(args: &[ArrayRef], k: usize) -> Result<Option<String>> {
    let Some(a) = args.get(k) else {
        return Ok(None);
    };
    let a = cast(a, &DataType::Utf8)?;
    let a = a.as_string::<i32>();
    Ok((!a.is_empty() && !a.is_null(0)).then(|| a.value(0).to_string()))
}

/// Applies `f` to each row's strings; NULL where any is NULL or `f` gives
/// none.
pub(super) fn map_strings(
    args: &[ArrayRef],
    rows: usize,
    f: impl Fn(&[&str]) -> Option<String>,
) -> Result<ArrayRef> {
    let columns = args
        .iter()
        .map(|a| cast(a, &DataType::Utf8))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let columns: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
    let mut out = StringBuilder::new();
    let mut row: Vec<&str> = Vec::with_capacity(columns.len());
    for i in 0..rows {
        row.clear();
        if columns.iter().any(|c| c.is_null(i)) {
            out.append_null();
            continue;
        }
        row.extend(columns.iter().map(|c| c.value(i)));
        match f(&row) {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

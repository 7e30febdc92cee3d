//! Flink's scalar functions where DataFusion has none or differs. Each is a
//! row-wise function over Arrow arrays registered under Flink's name,
//! replacing DataFusion's function of that name.

mod datetime;
mod string;

use std::hash::{Hash, Hasher};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

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
    return_type: DataType,
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
            return_type,
            kernel,
        }
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
        match self.arg_sets.iter().find(|s| s.len() == arg_types.len()) {
            Some(set) => Ok(set.clone()),
            None => datafusion::common::plan_err!(
                "Invalid number of arguments for function {}: {}",
                self.name.to_ascii_uppercase(),
                arg_types.len()
            ),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let n = if all_scalar { 1 } else { rows };
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

/// Registers Flink's functions in a DataFusion context.
pub fn register(ctx: &SessionContext) {
    for f in string::functions().into_iter().chain(datetime::functions()) {
        ctx.register_udf(ScalarUDF::new_from_impl(f));
    }
}

//! User-defined scalar functions: a typed Rust closure called once per row,
//! or a vectorized function over Arrow columns, both as DataFusion scalar
//! functions.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::value::{SqlArgs, SqlValue};

/// Computes a result column from argument columns of `rows` rows.
pub type Kernel = Arc<dyn Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync>;

/// A Rust closure taking [`SqlValue`]s that can be called on columns.
pub trait RowFunction<Args>: Send + Sync + 'static {
    /// The result's Rust type.
    type Output: SqlValue;

    /// Calls the closure on each row whose arguments it takes.
    fn call_rows(&self, columns: &[ArrayRef], rows: usize) -> Result<ArrayRef>;
}

macro_rules! row_function {
    ($($a:ident),*) => {
        impl<F, R, $($a: SqlValue),*> RowFunction<($($a,)*)> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            R: SqlValue,
        {
            type Output = R;
            #[allow(non_snake_case)]
            fn call_rows(&self, columns: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
                let values = <($($a,)*)>::rows(columns, rows)?
                    .into_iter()
                    .map(|args| args.map(|($($a,)*)| self($($a),*)))
                    .collect();
                Ok(R::to_column(values))
            }
        }
    };
}

row_function!();
row_function!(A);
row_function!(A, B);
row_function!(A, B, C);
row_function!(A, B, C, D);
row_function!(A, B, C, D, E);
row_function!(A, B, C, D, E, G);

/// A user-defined scalar function (Flink's `ScalarFunction`), before it is
/// registered under a name.
///
/// ```
/// use eddy_sql::udf::ScalarFunction;
/// // NULL in, NULL out: the closure is not called for a NULL argument.
/// let len = ScalarFunction::new(|s: String| s.chars().count() as i32);
/// // An Option parameter sees NULL as None.
/// let or_default = ScalarFunction::new(|s: Option<String>| s.unwrap_or_default());
/// # let _ = (len, or_default);
/// ```
#[derive(Clone)]
pub struct ScalarFunction {
    pub(crate) arg_types: Vec<DataType>,
    pub(crate) return_type: DataType,
    pub(crate) deterministic: bool,
    pub(crate) kernel: Kernel,
}

impl fmt::Debug for ScalarFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScalarFunction")
            .field("arg_types", &self.arg_types)
            .field("return_type", &self.return_type)
            .field("deterministic", &self.deterministic)
            .finish()
    }
}

impl ScalarFunction {
    /// A function calling `f` once per row. Its SQL signature comes from
    /// the closure's parameter and result types (see [`SqlValue`]).
    pub fn new<Args: SqlArgs, F: RowFunction<Args>>(f: F) -> Self {
        let f = Arc::new(f);
        Self {
            arg_types: Args::data_types(),
            return_type: F::Output::data_type(),
            deterministic: true,
            kernel: Arc::new(move |columns, rows| f.call_rows(columns, rows)),
        }
    }

    /// A function over whole columns: `f` gets one array per argument (of
    /// `arg_types`, arguments are cast to them) and the row count, and
    /// returns an array of `return_type` with one value per row.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_sql::udf::ScalarFunction;
    /// use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
    /// use datafusion::arrow::datatypes::{DataType, Int64Type};
    /// let double = ScalarFunction::vectorized(vec![DataType::Int64], DataType::Int64, |args, _| {
    ///     let x = args[0].as_primitive::<Int64Type>();
    ///     Ok(Arc::new(x.iter().map(|v| v.map(|v| v * 2)).collect::<Int64Array>()) as ArrayRef)
    /// });
    /// # let _ = double;
    /// ```
    pub fn vectorized(
        arg_types: Vec<DataType>,
        return_type: DataType,
        f: impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync + 'static,
    ) -> Self {
        Self {
            arg_types,
            return_type,
            deterministic: true,
            kernel: Arc::new(f),
        }
    }

    /// Marks the function as giving a new value at each call (Flink's
    /// `isDeterministic() == false`): it is not folded into a constant
    /// when planning.
    pub fn non_deterministic(mut self) -> Self {
        self.deterministic = false;
        self
    }

    /// The DataFusion function of this function under `name`.
    pub fn into_udf(self, name: &str) -> ScalarUDF {
        ScalarUDF::new_from_impl(UserScalar::new(name, self))
    }
}

/// A [`ScalarFunction`] as DataFusion calls it.
pub(crate) struct UserScalar {
    name: String,
    signature: Signature,
    function: ScalarFunction,
}

impl UserScalar {
    pub(crate) fn new(name: &str, function: ScalarFunction) -> Self {
        let volatility = if function.deterministic {
            Volatility::Immutable
        } else {
            Volatility::Volatile
        };
        Self {
            name: name.to_string(),
            signature: Signature::exact(function.arg_types.clone(), volatility),
            function,
        }
    }
}

impl fmt::Debug for UserScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserScalar({})", self.name)
    }
}

impl PartialEq for UserScalar {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.function.kernel, &other.function.kernel)
    }
}
impl Eq for UserScalar {}
impl std::hash::Hash for UserScalar {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// Calls `kernel` on a call's arguments: constant arguments only become
/// arrays when a column is among them, and a call of constants gives a
/// constant.
pub(crate) fn invoke(kernel: &Kernel, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar && !args.args.is_empty() {
        1
    } else {
        args.number_rows
    };
    let arrays = args
        .args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<Result<Vec<_>>>()?;
    let result = kernel(&arrays, rows)?;
    if result.len() != rows {
        return exec_err!(
            "the function returned {} values for {rows} rows",
            result.len()
        );
    }
    if all_scalar && !args.args.is_empty() {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &result, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

impl ScalarUDFImpl for UserScalar {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.function.return_type.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let result = invoke(&self.function.kernel, args)
            .map_err(|e| e.context(format!("in function {}", self.name)))?;
        if let ColumnarValue::Array(a) = &result
            && a.data_type() != &self.function.return_type
        {
            return exec_err!(
                "function {} returned {} where it declares {}",
                self.name,
                a.data_type(),
                self.function.return_type
            );
        }
        Ok(result)
    }
}

//! User-defined table functions (Flink's `TableFunction`): one row in,
//! any number of rows out, for `LATERAL TABLE(f(..))`. A table function is
//! planned as a scalar function giving each row's output rows as an ARRAY
//! of ROWs under a hidden name, which the lateral rewrite unnests
//! ([`crate::lateral`]) as it unnests an `UNNEST` of such an array.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ListArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::scalar::{Kernel, invoke};
use super::value::{SqlArgs, SqlValue};

/// The prefix of the hidden scalar function a table function is planned as.
pub const TABLE_FUNCTION_PREFIX: &str = "__eddy_table_function_";

/// A row a table function emits: a [`SqlValue`] (one column) or a tuple
/// of them (one column each).
pub trait SqlRow: Sized + Send + 'static {
    /// The columns' Arrow types.
    fn data_types() -> Vec<DataType>;
    /// The columns of `rows`.
    fn to_columns(rows: Vec<Self>) -> Vec<ArrayRef>;
}

impl<T: SqlValue> SqlRow for T {
    fn data_types() -> Vec<DataType> {
        vec![T::data_type()]
    }
    fn to_columns(rows: Vec<Self>) -> Vec<ArrayRef> {
        vec![T::to_column(rows.into_iter().map(Some).collect())]
    }
}

macro_rules! row {
    ($($a:ident $i:tt),*) => {
        impl<$($a: SqlValue),*> SqlRow for ($($a,)*) {
            fn data_types() -> Vec<DataType> {
                vec![$($a::data_type()),*]
            }
            #[allow(non_snake_case)]
            fn to_columns(rows: Vec<Self>) -> Vec<ArrayRef> {
                $(let mut $a = Vec::with_capacity(rows.len());)*
                for row in rows {
                    $($a.push(Some(row.$i));)*
                }
                vec![$($a::to_column($a)),*]
            }
        }
    };
}

row!(A 0, B 1);
row!(A 0, B 1, C 2);
row!(A 0, B 1, C 2, D 3);
row!(A 0, B 1, C 2, D 3, E 4);
row!(A 0, B 1, C 2, D 3, E 4, G 5);

/// A Rust closure giving the rows of one input row.
pub trait RowsFunction<Args>: Send + Sync + 'static {
    /// The Rust type of an output row.
    type Row: SqlRow;
    /// The output rows of each input row.
    fn call_rows(&self, columns: &[ArrayRef], rows: usize) -> Result<Vec<Vec<Self::Row>>>;
}

macro_rules! rows_function {
    ($($a:ident),*) => {
        impl<F, R, $($a: SqlValue),*> RowsFunction<($($a,)*)> for F
        where
            F: Fn($($a),*) -> Vec<R> + Send + Sync + 'static,
            R: SqlRow,
        {
            type Row = R;
            #[allow(non_snake_case)]
            fn call_rows(&self, columns: &[ArrayRef], rows: usize) -> Result<Vec<Vec<R>>> {
                Ok(<($($a,)*)>::rows(columns, rows)?
                    .into_iter()
                    .map(|args| args.map(|($($a,)*)| self($($a),*)).unwrap_or_default())
                    .collect())
            }
        }
    };
}

rows_function!(A);
rows_function!(A, B);
rows_function!(A, B, C);
rows_function!(A, B, C, D);
rows_function!(A, B, C, D, E);
rows_function!(A, B, C, D, E, G);

/// A user-defined table function, before it is registered under a name.
///
/// ```
/// use eddy_sql::udf::TableFunction;
/// // SELECT s, word, length FROM t, LATERAL TABLE(split(s)) AS w(word, length)
/// let split = TableFunction::new(|s: String| {
///     s.split(' ').map(|w| (w.to_string(), w.len() as i32)).collect::<Vec<_>>()
/// })
/// .with_names(["word", "length"]);
/// # let _ = split;
/// ```
#[derive(Clone)]
pub struct TableFunction {
    pub(crate) arg_types: Vec<DataType>,
    pub(crate) fields: Fields,
    pub(crate) deterministic: bool,
    /// Gives a LIST of STRUCTs of `fields` per input row.
    pub(crate) kernel: Kernel,
}

impl fmt::Debug for TableFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableFunction")
            .field("arg_types", &self.arg_types)
            .field("fields", &self.fields)
            .finish()
    }
}

impl TableFunction {
    /// A table function calling `f` once per row; the rows it returns are
    /// the row's output. Columns are named `f0`, `f1`, .. (see
    /// [`TableFunction::with_names`]). A NULL argument that the closure
    /// does not take as an `Option` gives no rows.
    pub fn new<Args: SqlArgs, F: RowsFunction<Args>>(f: F) -> Self {
        let types = <F::Row as SqlRow>::data_types();
        let fields: Fields = types
            .iter()
            .enumerate()
            .map(|(i, t)| Field::new(format!("f{i}"), t.clone(), true))
            .collect();
        let f = Arc::new(f);
        let struct_fields = fields.clone();
        Self {
            arg_types: Args::data_types(),
            fields,
            deterministic: true,
            kernel: Arc::new(move |columns, rows| {
                let per_row = f.call_rows(columns, rows)?;
                let lengths = per_row.iter().map(Vec::len).collect::<Vec<_>>();
                let all = per_row.into_iter().flatten().collect::<Vec<_>>();
                let count = all.len();
                let columns = <F::Row as SqlRow>::to_columns(all);
                let rows =
                    StructArray::try_new_with_length(struct_fields.clone(), columns, None, count)?;
                Ok(Arc::new(ListArray::new(
                    Arc::new(Field::new_list_field(
                        DataType::Struct(struct_fields.clone()),
                        false,
                    )),
                    OffsetBuffer::from_lengths(lengths),
                    Arc::new(rows),
                    None,
                )) as ArrayRef)
            }),
        }
    }

    /// A table function over whole columns: `kernel` gets one array per
    /// argument (of `arg_types`) and the row count, and returns a LIST of
    /// STRUCTs of `fields` with one list (the rows) per input row.
    pub fn vectorized(
        arg_types: Vec<DataType>,
        fields: Fields,
        kernel: impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync + 'static,
    ) -> Self {
        Self {
            arg_types,
            fields,
            deterministic: true,
            kernel: Arc::new(kernel),
        }
    }

    /// Names the output columns (as Flink's `ROW<word STRING, ..>` hint).
    ///
    /// # Panics
    /// If the number of names is not the number of columns: the
    /// function's definition is wrong, not its input.
    pub fn with_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        let names = names.into_iter().map(Into::into).collect::<Vec<String>>();
        assert_eq!(
            names.len(),
            self.fields.len(),
            "with_names: the function gives {} columns",
            self.fields.len()
        );
        self.fields = self
            .fields
            .iter()
            .zip(names)
            .map(|(f, n)| f.as_ref().clone().with_name(n))
            .collect();
        let inner = self.kernel.clone();
        let fields = self.fields.clone();
        self.kernel = Arc::new(move |columns, rows| renamed(inner(columns, rows)?, &fields));
        self
    }

    /// Marks the function as giving new rows at each call.
    pub fn non_deterministic(mut self) -> Self {
        self.deterministic = false;
        self
    }

    /// The output columns.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The hidden scalar function this function is planned as.
    pub fn into_udf(self, name: &str) -> ScalarUDF {
        ScalarUDF::new_from_impl(RowsOf::new(name, self))
    }
}

/// A LIST of STRUCTs with the struct's fields renamed.
fn renamed(list: ArrayRef, fields: &Fields) -> Result<ArrayRef> {
    let Some(list) = list.as_any().downcast_ref::<ListArray>() else {
        return exec_err!(
            "a table function gives a LIST of ROWs, not {}",
            list.data_type()
        );
    };
    let Some(rows) = list.values().as_any().downcast_ref::<StructArray>() else {
        return exec_err!("a table function gives a LIST of ROWs");
    };
    let rows = StructArray::try_new_with_length(
        fields.clone(),
        rows.columns().to_vec(),
        rows.nulls().cloned(),
        rows.len(),
    )?;
    Ok(Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(
            DataType::Struct(fields.clone()),
            false,
        )),
        list.offsets().clone(),
        Arc::new(rows),
        list.nulls().cloned(),
    )))
}

/// A [`TableFunction`] as the scalar function DataFusion plans.
struct RowsOf {
    name: String,
    signature: Signature,
    function: TableFunction,
}

impl RowsOf {
    fn new(name: &str, function: TableFunction) -> Self {
        let volatility = if function.deterministic {
            Volatility::Immutable
        } else {
            Volatility::Volatile
        };
        Self {
            name: format!("{TABLE_FUNCTION_PREFIX}{name}"),
            signature: Signature::exact(function.arg_types.clone(), volatility),
            function,
        }
    }
}

impl fmt::Debug for RowsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowsOf({})", self.name)
    }
}

impl PartialEq for RowsOf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.function.kernel, &other.function.kernel)
    }
}
impl Eq for RowsOf {}
impl std::hash::Hash for RowsOf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for RowsOf {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Struct(self.function.fields.clone()),
            false,
        ))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name.trim_start_matches(TABLE_FUNCTION_PREFIX);
        invoke(&self.function.kernel, args).map_err(|e| e.context(format!("in function {name}")))
    }
}

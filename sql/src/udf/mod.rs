//! User-defined functions: scalar, table and aggregate functions written
//! in Rust, registered in a [`Session`](crate::Session) under a name
//! (Flink's `createTemporaryFunction` and `createTemporarySystemFunction`)
//! and called from SQL as built-in functions are.
//!
//! Row-wise functions are plain typed closures: their SQL signature comes
//! from their Rust types ([`SqlValue`]). Vectorized functions take and
//! return Arrow arrays.

mod aggregate;
mod scalar;
mod table;
mod value;

pub use aggregate::{AggregateFunction, aggregate_udf};
pub use scalar::{RowFunction, ScalarFunction};
pub use table::{RowsFunction, SqlRow, TABLE_FUNCTION_PREFIX, TableFunction};
pub use value::{SqlArgs, SqlValue};

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, Expr, ScalarUDF};

/// A user-defined function of any kind, ready to register.
#[derive(Clone)]
pub enum UserFunction {
    /// A scalar function.
    Scalar(ScalarFunction),
    /// A table function (`LATERAL TABLE(f(..))`).
    Table(TableFunction),
    /// An aggregate function: the DataFusion aggregate under a name.
    Aggregate(Arc<dyn Fn(&str) -> AggregateUDF + Send + Sync>),
}

impl std::fmt::Debug for UserFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scalar(s) => s.fmt(f),
            Self::Table(t) => t.fmt(f),
            Self::Aggregate(_) => f.write_str("AggregateFunction"),
        }
    }
}

impl UserFunction {
    /// An aggregate function (its name is set when it is registered).
    pub fn aggregate(function: impl AggregateFunction) -> Self {
        let function = Arc::new(function);
        Self::Aggregate(Arc::new(move |name| aggregate_udf(name, function.clone())))
    }

    /// Flink's name for the kind (`DESCRIBE FUNCTION`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Scalar(_) => "SCALAR",
            Self::Table(_) => "TABLE",
            Self::Aggregate(_) => "AGGREGATE",
        }
    }
}

impl From<ScalarFunction> for UserFunction {
    fn from(f: ScalarFunction) -> Self {
        Self::Scalar(f)
    }
}

impl From<TableFunction> for UserFunction {
    fn from(f: TableFunction) -> Self {
        Self::Table(f)
    }
}

/// The DataFusion functions a user function is registered as.
pub(crate) enum Registered {
    Scalar(Arc<ScalarUDF>),
    Aggregate(Arc<AggregateUDF>),
}

impl UserFunction {
    pub(crate) fn into_registered(self, name: &str) -> Registered {
        match self {
            Self::Scalar(f) => Registered::Scalar(Arc::new(f.into_udf(name))),
            Self::Table(f) => Registered::Scalar(Arc::new(f.into_udf(name))),
            Self::Aggregate(f) => Registered::Aggregate(Arc::new(f(name))),
        }
    }
}

/// A registered function, to call from the Table API.
#[derive(Clone, Debug)]
pub enum FunctionRef {
    /// A scalar function (or the hidden scalar function of a table function).
    Scalar(Arc<ScalarUDF>),
    /// An aggregate function.
    Aggregate(Arc<AggregateUDF>),
}

impl FunctionRef {
    /// The expression calling the function on `args`.
    pub fn call(&self, args: Vec<Expr>) -> Expr {
        use datafusion::logical_expr::expr;
        match self {
            Self::Scalar(f) => Expr::ScalarFunction(expr::ScalarFunction::new_udf(f.clone(), args)),
            Self::Aggregate(f) => Expr::AggregateFunction(expr::AggregateFunction::new_udf(
                f.clone(),
                args,
                false,
                None,
                vec![],
                None,
            )),
        }
    }
}

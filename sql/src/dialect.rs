//! The sqlparser dialect under Eddy's Flink layer.

use datafusion::sql::sqlparser::dialect::GenericDialect;

/// The dialect under the Flink layer: backtick identifiers, Flink's operators.
pub static DIALECT: GenericDialect = GenericDialect {};

//! From SQL to DataFusion expressions, and DataFusion's errors as located
//! SQL errors; shared by the session and the streaming planner.

use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast;

use crate::error::Result;
use crate::error::{Location, SqlError};

/// Plans a SQL expression over `schema` (computed columns, watermarks).
pub fn sql_expr(
    state: &SessionState,
    ast: &ast::Expr,
    schema: &DFSchema,
    at: Location,
) -> Result<Expr> {
    let mut ast = ast.clone();
    crate::rewrite::rewrite_expr(&mut ast);
    state
        .create_logical_expr_from_sql_expr(
            ast::ExprWithAlias {
                expr: ast,
                alias: None,
            },
            schema,
        )
        .map_err(|e| df_error(e, at))
}

/// The function DataFusion's "Invalid function 'f'" error names, if it is one.
fn unknown_function(message: &str) -> Option<&str> {
    let rest = message.split_once("Invalid function '")?.1;
    rest.split_once('\'').map(|(name, _)| name)
}

/// A DataFusion error as a located SQL error, using its span when it has one.
pub fn df_error(e: DataFusionError, at: Location) -> SqlError {
    let location = e
        .diagnostic()
        .and_then(|d| d.span)
        .map(|s| Location {
            line: s.start.line,
            column: s.start.column,
        })
        .filter(|l| l.line > 0)
        .unwrap_or(at);
    let message = e.strip_backtrace();
    if let Some(name) = unknown_function(&message) {
        // A Flink function Eddy lacks is refused by name (DataFusion only
        // says it does not know it).
        let hint = message
            .split_once("Did you mean")
            .map(|(_, h)| format!(" (did you mean{})", h.trim_end_matches('?')))
            .unwrap_or_default();
        return SqlError::NotSupported {
            location,
            message: format!(
                "Function '{}' is not supported by Eddy yet, or is not a function{hint}",
                name.to_ascii_uppercase()
            ),
        };
    }
    if message.contains("This feature is not implemented") {
        SqlError::NotSupported { location, message }
    } else {
        SqlError::Plan { location, message }
    }
}

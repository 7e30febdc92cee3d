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
    if message.contains("This feature is not implemented") {
        SqlError::NotSupported { location, message }
    } else {
        SqlError::Plan { location, message }
    }
}

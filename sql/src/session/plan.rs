//! Planning queries: SQL text or a parsed query to an optimized DataFusion
//! plan (temporal joins resolved against the catalog), and a query's
//! columns conformed to the sink table an `INSERT` names.

use std::collections::HashMap;

use datafusion::arrow::datatypes::Field;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast;

use super::Session;
use crate::error::{Location, Result, SqlError};
use crate::expr::df_error;
use crate::rewrite::rewrite_query;
use crate::statement::Statement;
use crate::types::flink_type_name;

impl Session {
    /// Plans the text of one query (`SELECT ..`, `VALUES ..`) to an
    /// optimized logical plan (the Table API's `sql_query`).
    pub async fn query_plan(&self, sql: &str) -> Result<LogicalPlan> {
        let statements = crate::split_statements(sql);
        let [one] = statements.as_slice() else {
            return Err(SqlError::Plan {
                location: Location { line: 1, column: 1 },
                message: format!("expected one query, got {} statements", statements.len()),
            });
        };
        let located = crate::parse_statement(one)?;
        match &located.statement {
            Statement::Query(q) => self.plan_query(q, located.location).await,
            _ => Err(SqlError::Plan {
                location: located.location,
                message:
                    "only a query (SELECT) makes a table; run other statements with execute_sql"
                        .into(),
            }),
        }
    }

    /// Optimizes a plan built outside SQL (the Table API) as SQL plans are.
    pub fn optimize(&self, plan: &LogicalPlan) -> Result<LogicalPlan> {
        let at = Location { line: 1, column: 1 };
        self.state().optimize(plan).map_err(|e| df_error(e, at))
    }

    /// Plans a query to an optimized logical plan.
    pub async fn plan_query(&self, query: &ast::Query, at: Location) -> Result<LogicalPlan> {
        let mut query = query.clone();
        self.quote_user_functions(&mut query);
        rewrite_query(&mut query);
        crate::lateral::table_functions(&mut query, &|f| self.table_function_columns(f)).map_err(
            |message| SqlError::Plan {
                location: at,
                message,
            },
        )?;
        crate::lateral::unnest_columns(&mut query);
        if query.to_string().contains(crate::system_time::VERSIONED) {
            let views = self.view_rowtimes().await;
            crate::system_time::versioned_joins(
                &mut query,
                &|name| self.versioned_rowtime(name, &views),
                at,
            )?;
        }
        let state = self.state();
        let stmt = DfStatement::Statement(Box::new(ast::Statement::Query(Box::new(query))));
        let plan = state
            .statement_to_plan(stmt)
            .await
            .map_err(|e| df_error(e, at))?;
        let plan = crate::lateral::decorrelate_unnest(plan).map_err(|e| df_error(e, at))?;
        state.optimize(&plan).map_err(|e| df_error(e, at))
    }

    /// The rowtime column of each view that has one.
    pub(super) async fn view_rowtimes(&self) -> HashMap<String, String> {
        let mut found = HashMap::new();
        for name in self.views.keys() {
            let Ok(provider) = self.ctx.table_provider(name.as_str()).await else {
                continue;
            };
            let Some(view) = (provider.as_ref() as &dyn std::any::Any).downcast_ref::<ViewTable>()
            else {
                continue;
            };
            let plan = view.logical_plan();
            let rowtime = plan.schema().fields().iter().find(|f| {
                crate::planner::traces_to_table_column(plan, f.name(), &|table, column| {
                    self.tables.get(table).is_some_and(|t| {
                        t.def.watermark.as_ref().is_some_and(|w| w.column == column)
                    })
                })
            });
            if let Some(f) = rowtime {
                found.insert(name.clone(), f.name().clone());
            }
        }
        found
    }

    /// The rowtime column of versioned table or view `name` (for
    /// `FOR SYSTEM_TIME AS OF`), or why it is none (Flink's words).
    pub(super) fn versioned_rowtime(
        &self,
        name: &str,
        views: &HashMap<String, String>,
    ) -> std::result::Result<String, String> {
        if let Some(entry) = self.tables.get(name) {
            // Without a watermark the table may serve a lookup join; the
            // planner checks what the join needs.
            return match (&entry.def.watermark, entry.def.columns.first()) {
                (Some(w), _) => Ok(w.column.clone()),
                (None, Some(c)) => Ok(c.name.clone()),
                (None, None) => Err(format!("table '{name}' has no columns")),
            };
        }
        if self.views.contains_key(name) {
            return views.get(name).cloned().ok_or_else(|| {
                "Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table, but no row time attribute can be found.".into()
            });
        }
        Err(format!("Object '{name}' not found"))
    }

    /// Casts and renames a query's columns to the sink table's physical columns.
    pub(super) fn conform_to_sink(
        &self,
        plan: LogicalPlan,
        table: &str,
        columns: &[String],
        at: Location,
    ) -> Result<LogicalPlan> {
        let entry = self.tables.get(table).ok_or_else(|| SqlError::Plan {
            location: at,
            message: format!("Object '{table}' not found"),
        })?;
        let sink = &entry.sink_schema();
        let targets: Vec<&Field> = if columns.is_empty() {
            entry
                .sink_columns()
                .iter()
                .filter_map(|c| sink.field_with_name(c).ok())
                .collect()
        } else {
            columns
                .iter()
                .map(|c| {
                    sink.field_with_name(c).map_err(|_| SqlError::Plan {
                        location: at,
                        message: format!("Unknown target column '{c}'"),
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        let fields = plan.schema().fields().len();
        if fields != targets.len() {
            return Err(SqlError::Plan {
                location: at,
                message: format!(
                    "Column types of query result and sink for '{table}' do not match.\nCause: Different number of columns.\n\nQuery schema: [{}]\nSink schema:  [{}]",
                    plan.schema()
                        .fields()
                        .iter()
                        .map(|f| format!("{}: {}", f.name(), flink_type_name(f.data_type())))
                        .collect::<Vec<_>>()
                        .join(", "),
                    targets
                        .iter()
                        .map(|f| format!("{}: {}", f.name(), flink_type_name(f.data_type())))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let mut exprs = vec![];
        for f in sink.fields() {
            let e = match targets.iter().position(|t| t.name() == f.name()) {
                Some(i) => {
                    let (q, src) = plan.schema().qualified_field(i);
                    let col = Expr::Column(datafusion::common::Column::new(q.cloned(), src.name()));
                    if src.data_type() == f.data_type() {
                        col
                    } else {
                        datafusion::logical_expr::cast(col, f.data_type().clone())
                    }
                }
                None => Expr::Literal(
                    datafusion::common::ScalarValue::try_from(f.data_type())
                        .map_err(|e| df_error(e, at))?,
                    None,
                ),
            };
            exprs.push(e.alias(f.name()));
        }
        datafusion::logical_expr::LogicalPlanBuilder::from(plan)
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(|e| df_error(e, at))
    }
}

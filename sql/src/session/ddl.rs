//! DDL: `CREATE TABLE`, `CREATE VIEW` (and the Table API's views), `DROP`.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::DFSchema;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::sqlparser::ast;

use super::{Outcome, Session, relocate};
use crate::catalog::{CatalogTable, TableEntry};
use crate::error::{Location, Result, SqlError};
use crate::expr::{df_error, sql_expr};
use crate::statement::{ColumnKind, CreateTable};
use crate::types::flink_type_name;

impl Session {
    pub(super) fn create_table(&mut self, t: &CreateTable, at: Location) -> Result<Outcome> {
        if self.tables.contains_key(&t.name) || self.views.contains_key(&t.name) {
            if t.if_not_exists {
                return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
            }
            return Err(SqlError::Plan {
                location: at,
                message: format!("Table '{}' already exists", t.name),
            });
        }
        let mut physical = vec![];
        for c in &t.columns {
            if let ColumnKind::Physical(ty) = &c.kind {
                physical.push(Field::new(
                    &c.name,
                    ty.data_type.clone(),
                    ty.nullable && !t.primary_key.contains(&c.name),
                ));
            }
        }
        let physical_schema = Arc::new(Schema::new(physical));
        // Computed columns may use metadata columns too.
        let readable_schema = crate::catalog::schema_with_metadata(&physical_schema, t, |_| true);
        let physical_df =
            DFSchema::try_from(readable_schema.as_ref().clone()).map_err(|e| df_error(e, at))?;
        let state = self.state();
        let mut fields = vec![];
        let mut extras = BTreeMap::new();
        for c in &t.columns {
            let field = match &c.kind {
                ColumnKind::Physical(ty) => Field::new(
                    &c.name,
                    ty.data_type.clone(),
                    ty.nullable && !t.primary_key.contains(&c.name),
                ),
                ColumnKind::Metadata { data_type, .. } => {
                    Field::new(&c.name, data_type.data_type.clone(), true)
                }
                ColumnKind::Computed(ast) => {
                    let e = sql_expr(&state, ast, &physical_df, c.location)?;
                    let phys = state
                        .create_physical_expr(e, &physical_df)
                        .map_err(|e| df_error(e, c.location))?;
                    let dt = phys
                        .data_type(&readable_schema)
                        .map_err(|e| df_error(e, c.location))?;
                    extras.insert(
                        c.name.clone(),
                        format!("AS {}", crate::rewrite::quoted(ast)),
                    );
                    // The processing time is never NULL.
                    let nullable = !crate::catalog::is_proctime_call(ast)
                        && phys.nullable(&readable_schema).unwrap_or(true);
                    Field::new(&c.name, dt, nullable)
                }
            };
            fields.push(field);
        }
        let schema = Arc::new(Schema::new(fields));
        if let Some(w) = &t.watermark {
            let Ok(rowtime) = schema.field_with_name(&w.column) else {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!(
                        "The rowtime attribute field '{}' is not defined in the table schema, at {}",
                        w.column, at
                    ),
                });
            };
            if !matches!(
                rowtime.data_type(),
                datafusion::arrow::datatypes::DataType::Timestamp(_, _)
            ) {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!(
                        "Invalid data type of time field for watermark definition. The field must be of type TIMESTAMP(p) or TIMESTAMP_LTZ(p), the supported precision 'p' is from 0 to 3, but the time field type is {}",
                        flink_type_name(rowtime.data_type())
                    ),
                });
            }
            let full = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| df_error(e, at))?;
            let e = sql_expr(&state, &w.expr, &full, at)?;
            state
                .create_physical_expr(e, &full)
                .map_err(|e| df_error(e, at))?;
        }
        for k in &t.primary_key {
            if schema.field_with_name(k).is_err() {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!("Primary key column '{k}' is not defined in the table"),
                });
            }
        }
        // A key column is NOT NULL, and stays so if the key is dropped.
        let mut def = t.clone();
        for c in def.columns.iter_mut() {
            if let ColumnKind::Physical(ty) = &mut c.kind
                && t.primary_key.contains(&c.name)
            {
                ty.nullable = false;
            }
        }
        let entry = TableEntry {
            def,
            schema: schema.clone(),
            physical_schema,
            extras,
        };
        // Validate the options now, as Flink does when the table is used.
        self.ctx
            .register_table(
                t.name.as_str(),
                Arc::new(CatalogTable {
                    name: t.name.clone(),
                    schema,
                }),
            )
            .map_err(|e| df_error(e, at))?;
        self.tables.insert(t.name.clone(), entry);
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }

    pub(super) async fn create_view(
        &mut self,
        name: &str,
        if_not_exists: bool,
        columns: &[String],
        query: &ast::Query,
        text: &str,
        at: Location,
    ) -> Result<Outcome> {
        if self.tables.contains_key(name) || self.views.contains_key(name) {
            if if_not_exists {
                return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
            }
            return Err(SqlError::Plan {
                location: at,
                message: format!("View '{name}' already exists"),
            });
        }
        let mut plan = self.plan_query(query, at).await?;
        if !columns.is_empty() {
            if columns.len() != plan.schema().fields().len() {
                return Err(SqlError::Plan {
                    location: at,
                    message: "the view's column list does not match its query".into(),
                });
            }
            let exprs: Vec<Expr> = plan
                .schema()
                .iter()
                .zip(columns)
                .map(|((q, f), n)| {
                    Expr::Column(datafusion::common::Column::new(q.cloned(), f.name())).alias(n)
                })
                .collect();
            plan = datafusion::logical_expr::LogicalPlanBuilder::from(plan)
                .project(exprs)
                .and_then(|b| b.build())
                .map_err(|e| df_error(e, at))?;
        }
        self.register_view(name, plan, text)
            .map_err(|e| relocate(e, at))?;
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }

    /// Registers `plan` as view `name` (`text`: its definition, for
    /// messages), replacing a view of that name (the Table API's
    /// `create_temporary_view`). A table of that name is an error.
    pub fn register_view(&mut self, name: &str, plan: LogicalPlan, text: &str) -> Result<()> {
        let at = Location { line: 1, column: 1 };
        if self.tables.contains_key(name) {
            return Err(SqlError::Plan {
                location: at,
                message: format!("Table '{name}' already exists"),
            });
        }
        let view = ViewTable::new(plan, Some(text.to_string()));
        self.ctx
            .deregister_table(name)
            .map_err(|e| df_error(e, at))?;
        self.ctx
            .register_table(name, Arc::new(view))
            .map_err(|e| df_error(e, at))?;
        self.views.insert(name.to_string(), text.to_string());
        Ok(())
    }

    pub(super) fn drop(
        &mut self,
        view: bool,
        name: &str,
        if_exists: bool,
        at: Location,
    ) -> Result<Outcome> {
        let existed = if view {
            self.views.remove(name).is_some()
        } else {
            self.tables.remove(name).is_some()
        };
        if existed {
            let _ = self.ctx.deregister_table(name);
        } else if !if_exists {
            let what = if view { "View" } else { "Table" };
            return Err(SqlError::Plan {
                location: at,
                message: format!(
                    "{what} with identifier 'default_catalog.default_database.{name}' does not exist."
                ),
            });
        }
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }
}

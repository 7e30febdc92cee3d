//! What a session shows of itself: `SHOW`, `DESCRIBE`, and the names a
//! shell completes.

use super::{Outcome, Session, Vocabulary, is_hidden};
use crate::error::{Location, Result, SqlError};
use crate::expr::df_error;
use crate::types::flink_type_name;

impl Session {
    /// The names a shell completes: tables and views, their columns,
    /// functions and `SET` keys.
    pub fn vocabulary(&self) -> Vocabulary {
        let state = self.state();
        let mut v = Vocabulary {
            relations: self
                .tables
                .keys()
                .filter(|n| !is_hidden(n))
                .chain(self.views.keys().filter(|n| !is_hidden(n)))
                .cloned()
                .collect(),
            columns: self
                .tables
                .values()
                .flat_map(|t| t.schema.fields().iter().map(|f| f.name().clone()))
                .collect(),
            functions: state
                .scalar_functions()
                .keys()
                .chain(state.aggregate_functions().keys())
                .filter(|n| !n.starts_with("__eddy"))
                .cloned()
                .collect(),
            keys: crate::options::OPTIONS
                .iter()
                .map(|o| o.key.to_string())
                .collect(),
        };
        for list in [
            &mut v.relations,
            &mut v.columns,
            &mut v.functions,
            &mut v.keys,
        ] {
            list.sort();
            list.dedup();
        }
        v
    }

    pub(super) fn show(&self, what: &str, pattern: Option<&str>) -> Outcome {
        let (header, mut names): (&str, Vec<String>) = match what {
            "CATALOGS" => ("catalog name", vec!["default_catalog".into()]),
            "CURRENT CATALOG" => ("current catalog name", vec!["default_catalog".into()]),
            "DATABASES" => ("database name", vec!["default_database".into()]),
            "CURRENT DATABASE" => ("current database name", vec!["default_database".into()]),
            "VIEWS" => (
                "view name",
                self.views
                    .keys()
                    .filter(|v| !is_hidden(v))
                    .cloned()
                    .collect(),
            ),
            "TABLES" => (
                "table name",
                self.tables
                    .keys()
                    .filter(|n| !is_hidden(n))
                    .chain(self.views.keys().filter(|v| !is_hidden(v)))
                    .cloned()
                    .collect(),
            ),
            "FUNCTIONS" => (
                "function name",
                self.state()
                    .scalar_functions()
                    .keys()
                    .chain(self.state().aggregate_functions().keys())
                    .filter(|n| !n.starts_with("__eddy"))
                    .cloned()
                    .collect(),
            ),
            "USER FUNCTIONS" => ("function name", self.user_function_names()),
            _ => ("job id", vec![]),
        };
        names.retain(|n| pattern.is_none_or(|p| super::catalog::like(n, p)));
        names.sort();
        Outcome::Rows {
            header: vec![header.into()],
            rows: names.into_iter().map(|n| vec![n]).collect(),
        }
    }

    pub(super) async fn describe(&self, name: &str, at: Location) -> Result<Outcome> {
        let header = ["name", "type", "null", "key", "extras", "watermark"]
            .map(String::from)
            .to_vec();
        if let Some(t) = self.tables.get(name) {
            let wm = t.def.watermark.as_ref();
            let rows = t
                .schema
                .fields()
                .iter()
                .map(|f| {
                    let is_rowtime = wm.is_some_and(|w| &w.column == f.name());
                    let mut ty = flink_type_name(f.data_type());
                    if is_rowtime {
                        ty.push_str(" *ROWTIME*");
                    } else if t.is_proctime(f.name()) {
                        ty.push_str(" *PROCTIME*");
                    }
                    let extra = t.extras.get(f.name()).cloned().unwrap_or_default();
                    vec![
                        f.name().clone(),
                        ty,
                        f.is_nullable().to_string().to_uppercase(),
                        if t.def.primary_key.contains(f.name()) {
                            "PRI(".to_string() + f.name() + ")"
                        } else {
                            String::new()
                        },
                        extra,
                        if is_rowtime {
                            wm.map(|w| crate::rewrite::quoted(&w.expr))
                                .unwrap_or_default()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            return Ok(Outcome::Rows { header, rows });
        }
        if self.views.contains_key(name) {
            let schema = self
                .ctx
                .table_provider(name)
                .await
                .map_err(|e| df_error(e, at))?
                .schema();
            let rows = schema
                .fields()
                .iter()
                .map(|f| {
                    vec![
                        f.name().clone(),
                        flink_type_name(f.data_type()),
                        f.is_nullable().to_string().to_uppercase(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]
                })
                .collect();
            return Ok(Outcome::Rows { header, rows });
        }
        Err(SqlError::Plan {
            location: at,
            message: format!(
                "Tables or views with the identifier 'default_catalog.default_database.{name}' doesn't exist."
            ),
        })
    }
}

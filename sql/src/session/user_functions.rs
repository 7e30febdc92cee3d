//! The session's user-defined functions: registered (from Rust, or by
//! `CREATE FUNCTION`), listed (`SHOW USER FUNCTIONS`), described
//! (`DESCRIBE FUNCTION`) and dropped (`DROP FUNCTION`).
//!
//! Flink resolves a name to a temporary system function, then a built-in
//! function, then a temporary (catalog) function. Eddy has one namespace,
//! so a temporary function may not take a built-in's name (Flink would
//! silently call the built-in); a temporary system function replaces the
//! built-in until it is dropped, as in Flink.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{self, VisitMut, VisitorMut};

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

use super::{Outcome, Session};
use crate::error::{Location, Result, SqlError};
use crate::type_names::flink_type_name;
use crate::udf::{FunctionRef, Registered, TABLE_FUNCTION_PREFIX, UserFunction};

/// A registered user function.
pub(crate) struct UserEntry {
    kind: &'static str,
    system: bool,
    language: &'static str,
    /// The output columns of a table function.
    columns: Option<Vec<String>>,
    /// The built-in function a system function replaced.
    replaced: Option<Builtin>,
    deterministic: bool,
    signature: String,
}

enum Builtin {
    Scalar(Arc<ScalarUDF>),
    Aggregate(Arc<AggregateUDF>),
}

fn plan_error(message: String) -> SqlError {
    SqlError::Plan {
        location: Location { line: 1, column: 1 },
        message,
    }
}

fn signature_text(name: &str, args: &[DataType], result: &str) -> String {
    let args = args
        .iter()
        .map(flink_type_name)
        .collect::<Vec<_>>()
        .join(", ");
    format!("{name}({args}) -> {result}")
}

impl Session {
    /// Registers `function` under `name` (case-insensitive, as Flink's
    /// function names). A `system` function may replace a built-in
    /// function of that name (until dropped); any other may not take a
    /// name in use.
    pub fn create_function(
        &mut self,
        name: &str,
        function: impl Into<UserFunction>,
        system: bool,
    ) -> Result<()> {
        self.create_function_in(name, function.into(), system, "RUST")
    }

    pub(crate) fn create_function_in(
        &mut self,
        name: &str,
        function: UserFunction,
        system: bool,
        language: &'static str,
    ) -> Result<()> {
        let name = name.to_ascii_lowercase();
        if name.is_empty() || name.starts_with("__eddy") {
            return Err(plan_error(format!("'{name}' is not a function name")));
        }
        if self.user_functions.contains_key(&name) {
            return Err(plan_error(format!(
                "Could not register temporary function: a function named '{name}' already \
                 exists (DROP TEMPORARY FUNCTION {name} first)"
            )));
        }
        let state = self.state();
        let builtin = match (
            state.scalar_functions().get(&name),
            state.aggregate_functions().get(&name),
        ) {
            (Some(f), _) => Some(Builtin::Scalar(f.clone())),
            (None, Some(f)) => Some(Builtin::Aggregate(f.clone())),
            (None, None) => None,
        };
        let rewritten = crate::rewrite::REWRITTEN_FUNCTIONS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&name));
        if (builtin.is_some() || rewritten) && !system {
            return Err(plan_error(format!(
                "'{name}' is a built-in function, which Flink would call instead of a temporary \
                 function of that name; register it as a temporary system function to replace \
                 the built-in, or choose another name"
            )));
        }
        let kind = function.kind();
        let (columns, deterministic, signature) = match &function {
            UserFunction::Scalar(f) => (
                None,
                f.deterministic,
                signature_text(&name, &f.arg_types, &flink_type_name(&f.return_type)),
            ),
            UserFunction::Table(f) => {
                let row = DataType::Struct(f.fields.clone());
                (
                    Some(f.fields.iter().map(|f| f.name().clone()).collect()),
                    f.deterministic,
                    signature_text(&name, &f.arg_types, &flink_type_name(&row)),
                )
            }
            UserFunction::Aggregate(_) => (None, true, String::new()),
        };
        let signature = match function.into_registered(&name) {
            Registered::Scalar(udf) => {
                self.ctx.register_udf(udf.as_ref().clone());
                signature
            }
            Registered::Aggregate(udaf) => {
                let args = udaf.signature().type_signature.get_example_types();
                let args = args.first().cloned().unwrap_or_default();
                let result = udaf
                    .return_type(&args)
                    .map(|t| flink_type_name(&t))
                    .unwrap_or_default();
                self.ctx.register_udaf(udaf.as_ref().clone());
                signature_text(&name, &args, &result)
            }
        };
        self.user_functions.insert(
            name,
            UserEntry {
                kind,
                system,
                language,
                columns,
                replaced: builtin,
                deterministic,
                signature,
            },
        );
        Ok(())
    }

    /// The function `name` (a user function or a built-in), to call from
    /// the Table API.
    pub fn function_ref(&self, name: &str) -> Option<FunctionRef> {
        let name = name.to_ascii_lowercase();
        let state = self.state();
        let entry = self.user_functions.get(&name);
        if entry.is_some_and(|e| e.kind == "TABLE") {
            let hidden = format!("{TABLE_FUNCTION_PREFIX}{name}");
            return state
                .scalar_functions()
                .get(&hidden)
                .cloned()
                .map(FunctionRef::Scalar);
        }
        if name.starts_with("__eddy") {
            return None;
        }
        match state.scalar_functions().get(&name) {
            Some(f) => Some(FunctionRef::Scalar(f.clone())),
            None => state
                .aggregate_functions()
                .get(&name)
                .cloned()
                .map(FunctionRef::Aggregate),
        }
    }

    /// Quotes the name of each call of a user function in `query`, so that
    /// the rewrites of Flink's built-ins leave it alone (a system function
    /// may replace one of them) and DataFusion finds it as registered.
    pub(crate) fn quote_user_functions(&self, query: &mut ast::Query) {
        struct Quote<'a>(&'a BTreeMap<String, UserEntry>);
        impl VisitorMut for Quote<'_> {
            type Break = ();
            fn pre_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
                if let ast::Expr::Function(f) = e
                    && let [ast::ObjectNamePart::Identifier(id)] = f.name.0.as_mut_slice()
                    && id.quote_style.is_none()
                    && self.0.contains_key(&id.value.to_ascii_lowercase())
                {
                    *id = ast::Ident::with_quote('"', id.value.to_ascii_lowercase());
                }
                ControlFlow::Continue(())
            }
        }
        if !self.user_functions.is_empty() {
            let _ = query.visit(&mut Quote(&self.user_functions));
        }
    }

    /// The output columns of the table function `name`, if there is one.
    pub(crate) fn table_function_columns(&self, name: &str) -> Option<Vec<String>> {
        self.user_functions.get(name)?.columns.clone()
    }

    /// `DROP [TEMPORARY] [SYSTEM] FUNCTION [IF EXISTS] name`.
    pub fn drop_function(
        &mut self,
        name: &str,
        system: bool,
        if_exists: bool,
        at: Location,
    ) -> Result<Outcome> {
        let name = name.to_ascii_lowercase();
        let found = self.user_functions.get(&name).map(|e| e.system);
        match found {
            Some(s) if s == system => {}
            Some(s) => {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!(
                        "'{name}' is a temporary{} function: drop it with DROP TEMPORARY{} FUNCTION",
                        if s { " system" } else { "" },
                        if s { " SYSTEM" } else { "" },
                    ),
                });
            }
            None if if_exists => {
                return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
            }
            None => {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!("Function {name} doesn't exist"),
                });
            }
        }
        let entry = self.user_functions.remove(&name).expect("found above");
        let hidden = format!("{TABLE_FUNCTION_PREFIX}{name}");
        let state = self.ctx.state_ref();
        let mut state = state.write();
        match entry.kind {
            "TABLE" => {
                let _ = datafusion::execution::registry::FunctionRegistry::deregister_udf(
                    &mut *state,
                    &hidden,
                );
            }
            "AGGREGATE" => {
                let _ = datafusion::execution::registry::FunctionRegistry::deregister_udaf(
                    &mut *state,
                    &name,
                );
            }
            _ => {
                let _ = datafusion::execution::registry::FunctionRegistry::deregister_udf(
                    &mut *state,
                    &name,
                );
            }
        }
        drop(state);
        match entry.replaced {
            Some(Builtin::Scalar(f)) => {
                self.ctx.register_udf(f.as_ref().clone());
            }
            Some(Builtin::Aggregate(f)) => {
                self.ctx.register_udaf(f.as_ref().clone());
            }
            None => {}
        }
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }

    /// The names of the user's functions (`SHOW USER FUNCTIONS`).
    pub(crate) fn user_function_names(&self) -> Vec<String> {
        self.user_functions.keys().cloned().collect()
    }

    /// `DESCRIBE FUNCTION [EXTENDED] name`: Flink's rows of info name
    /// and value.
    pub(crate) fn describe_function(
        &self,
        name: &str,
        extended: bool,
        at: Location,
    ) -> Result<Outcome> {
        let lower = name.to_ascii_lowercase();
        let row = |k: &str, v: String| vec![k.to_string(), v];
        let mut rows = match self.user_functions.get(&lower) {
            Some(e) => vec![
                row("is system function", e.system.to_string()),
                row("is temporary", "true".into()),
                row("function language", e.language.into()),
            ],
            None if self.state().scalar_functions().contains_key(&lower)
                || self.state().aggregate_functions().contains_key(&lower) =>
            {
                vec![
                    row("is system function", "true".into()),
                    row("is temporary", "false".into()),
                ]
            }
            None => {
                return Err(SqlError::Plan {
                    location: at,
                    message: format!("Function {name} does not exist"),
                });
            }
        };
        if extended && let Some(e) = self.user_functions.get(&lower) {
            rows.push(row("kind", e.kind.into()));
            rows.push(row("is deterministic", e.deterministic.to_string()));
            rows.push(row("signature", e.signature.clone()));
        }
        Ok(Outcome::Rows {
            header: vec!["info name".into(), "info value".into()],
            rows,
        })
    }
}

//! Flink's JSON constructors and `IS JSON` after parsing: `JSON_OBJECT`,
//! `JSON_ARRAY` (with `NULL ON NULL`/`ABSENT ON NULL`; by default an object
//! keeps NULLs and an array drops them, as in Flink), `JSON_OBJECTAGG`
//! and `JSON_ARRAYAGG` (over `ARRAY_AGG`; Flink ignores an `ORDER BY`
//! inside, and so does Eddy) as calls of `crate::functions::json_build`,
//! and the tokenizer's mark of `IS [NOT] JSON` as its test.

use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments,
    JsonNullClause, Value,
};

use super::call;
use crate::functions::json_build::{
    IS_JSON, JSON_ARRAY, JSON_ARRAY_OF, JSON_OBJECT, JSON_OBJECT_OF,
};

fn flag(b: bool) -> Expr {
    Expr::Value(Value::Boolean(b).into())
}

/// Whether `e` makes JSON (a nested constructor): inserted as JSON.
fn makes_json(e: &Expr) -> bool {
    matches!(e, Expr::Function(f) if [JSON_OBJECT, JSON_ARRAY, JSON_OBJECT_OF, JSON_ARRAY_OF]
        .iter()
        .any(|n| f.name.to_string().eq_ignore_ascii_case(n)))
}

/// The arguments and the `NULL ON NULL` choice of a call.
fn arguments(f: &ast::Function) -> Option<(&[FunctionArg], Option<bool>)> {
    let FunctionArguments::List(list) = &f.args else {
        return match &f.args {
            FunctionArguments::None | FunctionArguments::Subquery(_) => Some((&[], None)),
            FunctionArguments::List(_) => None,
        };
    };
    let null_on_null = list.clauses.iter().find_map(|c| match c {
        FunctionArgumentClause::JsonNullClause(JsonNullClause::NullOnNull) => Some(true),
        FunctionArgumentClause::JsonNullClause(JsonNullClause::AbsentOnNull) => Some(false),
        _ => None,
    });
    Some((&list.args, null_on_null))
}

fn plain(a: &FunctionArg) -> Option<Expr> {
    match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
        _ => None,
    }
}

/// `e` in DataFusion's words if it is one of this module's forms.
pub(super) fn rewrite(e: &Expr) -> Option<Expr> {
    match e {
        Expr::IsNotDistinctFrom(x, mark) | Expr::IsDistinctFrom(x, mark) => {
            let Expr::Function(f) = mark.as_ref() else {
                return None;
            };
            if !f
                .name
                .to_string()
                .eq_ignore_ascii_case(crate::tokens::IS_JSON_MARK)
            {
                return None;
            }
            let kind = super::plain_args(f)?.into_iter().next()?;
            let test = call(IS_JSON, vec![(**x).clone(), kind]);
            Some(match e {
                Expr::IsDistinctFrom(..) => Expr::UnaryOp {
                    op: ast::UnaryOperator::Not,
                    expr: Box::new(test),
                },
                _ => test,
            })
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            let (args, null_on_null) = arguments(f)?;
            match name.as_str() {
                // Members come as `k, v` (see `crate::tokens`).
                "JSON_OBJECT" => {
                    let mut out = vec![flag(null_on_null.unwrap_or(true))];
                    for kv in args.chunks(2) {
                        let [k, v] = kv else { return None };
                        let (k, v) = (plain(k)?, plain(v)?);
                        let raw = makes_json(&v);
                        out.extend([k, v, flag(raw)]);
                    }
                    Some(call(JSON_OBJECT, out))
                }
                "JSON_ARRAY" => {
                    let mut out = vec![flag(null_on_null.unwrap_or(false))];
                    for a in args {
                        let v = plain(a)?;
                        let raw = makes_json(&v);
                        out.extend([v, flag(raw)]);
                    }
                    Some(call(JSON_ARRAY, out))
                }
                "JSON_OBJECTAGG" => {
                    let [k, v] = args else { return None };
                    let (k, v) = (plain(k)?, plain(v)?);
                    Some(call(
                        JSON_OBJECT_OF,
                        vec![
                            flag(null_on_null.unwrap_or(true)),
                            call("array_agg", vec![k]),
                            call("array_agg", vec![v]),
                        ],
                    ))
                }
                "JSON_ARRAYAGG" => {
                    let [a] = args else { return None };
                    let v = plain(a)?;
                    Some(call(
                        JSON_ARRAY_OF,
                        vec![
                            flag(null_on_null.unwrap_or(false)),
                            call("array_agg", vec![v]),
                        ],
                    ))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

//! Flink's JSON constructors and `IS JSON` after parsing: `JSON_OBJECT`,
//! `JSON_ARRAY` (with `NULL ON NULL`/`ABSENT ON NULL`; by default an object
//! keeps NULLs and an array drops them, as in Flink), `JSON_OBJECTAGG`
//! and `JSON_ARRAYAGG` (over `ARRAY_AGG`; Flink ignores an `ORDER BY`
//! inside, and so does Eddy) as calls of `crate::functions::json_build`,
//! the tokenizer's mark of `IS [NOT] JSON` as its test, and `JSON_VALUE`'s
//! `RETURNING t` (a TRY_CAST) and `ON ERROR` behaviours (`ON EMPTY` is
//! dropped: in Flink's lax mode a missing value is NULL whatever it says).

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

/// `JSON_VALUE(j, p [RETURNING t] [.. ON EMPTY] [.. ON ERROR])` in
/// DataFusion's words: the value TRY_CAST to `t`; on an error (text not
/// JSON, a path selecting no scalar, a value not of type `t`) NULL, the
/// DEFAULT, or the job fails (`ERROR ON ERROR`). Returns whether `e` was
/// such a call with a clause.
pub(super) fn json_value(e: &mut Expr) -> bool {
    let Expr::Function(f) = e else {
        return false;
    };
    if f.name.to_string().eq_ignore_ascii_case("JSON_QUERY") {
        return json_query(e);
    }
    if !f.name.to_string().eq_ignore_ascii_case("JSON_VALUE") {
        return false;
    }
    let FunctionArguments::List(list) = &mut f.args else {
        return false;
    };
    let returning = list
        .clauses
        .iter()
        .position(|c| matches!(c, FunctionArgumentClause::JsonReturningClause(_)))
        .and_then(|i| match list.clauses.remove(i) {
            FunctionArgumentClause::JsonReturningClause(r) => {
                let mut t = r.data_type;
                super::flink_data_type(&mut t);
                Some(t)
            }
            _ => None,
        });
    // The tokenizer's marks of ON EMPTY / ON ERROR (ON EMPTY dropped).
    let on_error = take_marks(list)
        .into_iter()
        .find(|m| m.what == "ERROR")
        .map(|m| (m.mode, m.default));
    if returning.is_none() && on_error.is_none() {
        return false;
    }
    let plain: Vec<Expr> = list.args.iter().filter_map(plain).collect();
    let base = e.clone();
    let value = match &returning {
        Some(t) => Expr::Cast {
            kind: ast::CastKind::TryCast,
            expr: Box::new(base.clone()),
            data_type: t.clone(),
            array: false,
            format: None,
        },
        None => base.clone(),
    };
    let Some((mode, default)) = on_error.filter(|(m, _)| m != "NULL") else {
        *e = value;
        return true;
    };
    let [j, p] = plain.as_slice() else {
        *e = value;
        return true;
    };
    let mut error = call(
        crate::functions::JSON_VALUE_ERROR,
        vec![j.clone(), p.clone()],
    );
    if returning.is_some() {
        // A value that does not convert to the type is an error too.
        let unconverted = super::binary(
            Expr::IsNotNull(Box::new(base)),
            ast::BinaryOperator::And,
            Expr::IsNull(Box::new(value.clone())),
        );
        error = super::binary(
            error,
            ast::BinaryOperator::Or,
            Expr::Nested(Box::new(unconverted)),
        );
    }
    let on_error = match (mode.as_str(), default) {
        ("DEFAULT", Some(d)) => match &returning {
            Some(t) => Expr::Cast {
                kind: ast::CastKind::Cast,
                expr: Box::new(d),
                data_type: t.clone(),
                array: false,
                format: None,
            },
            None => d,
        },
        _ => call(
            crate::functions::JSON_VALUE_RAISE,
            vec![j.clone(), p.clone()],
        ),
    };
    *e = Expr::Case {
        case_token: ast::helpers::attached_token::AttachedToken::empty(),
        end_token: ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![ast::CaseWhen {
            condition: error,
            result: on_error,
        }],
        else_result: Some(Box::new(value)),
    };
    true
}

/// `JSON_QUERY(j, p [wrapper] [.. ON EMPTY] [.. ON ERROR])` as
/// `json_query(j, p, wrapper, on_error)`.
fn json_query(e: &mut Expr) -> bool {
    let Expr::Function(f) = e else {
        return false;
    };
    let FunctionArguments::List(list) = &mut f.args else {
        return false;
    };
    let marks = take_marks(list);
    if marks.is_empty() {
        return false;
    }
    let mode = |what: &str, default: &str| {
        marks
            .iter()
            .find(|m| m.what == what)
            .map_or(default.to_string(), |m| m.mode.clone())
    };
    let (wrapper, on_error) = (mode("WRAPPER", "WITHOUT"), mode("ERROR", "NULL"));
    let mut plain: Vec<Expr> = list.args.iter().filter_map(plain).collect();
    if plain.len() != 2 {
        return false;
    }
    plain.extend([
        Expr::Value(Value::SingleQuotedString(wrapper).into()),
        Expr::Value(Value::SingleQuotedString(on_error).into()),
    ]);
    *e = call("json_query", plain);
    true
}

/// A mark the tokenizer wrote for a clause of `JSON_VALUE`/`JSON_QUERY`:
/// `__eddy_json_on(what, mode[, default])`.
struct Mark {
    /// `EMPTY`, `ERROR` or `WRAPPER`.
    what: String,
    /// `NULL`, `ERROR`, `DEFAULT`, `EMPTY ARRAY`, .. or the wrapper's kind.
    mode: String,
    /// The expression of `DEFAULT expr`.
    default: Option<Expr>,
}

/// The marks among a call's arguments, taken out of them.
fn take_marks(list: &mut ast::FunctionArgumentList) -> Vec<Mark> {
    let text = |e: Option<&Expr>| match e {
        Some(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let mut marks = vec![];
    let mut args = vec![];
    for a in list.args.drain(..) {
        let mark = match &a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Function(m)))
                if m.name
                    .to_string()
                    .eq_ignore_ascii_case(crate::tokens::JSON_ON_MARK) =>
            {
                super::plain_args(m)
            }
            _ => None,
        };
        match mark {
            Some(m) => marks.push(Mark {
                what: text(m.first()),
                mode: text(m.get(1)),
                default: m.get(2).cloned(),
            }),
            None => args.push(a),
        }
    }
    list.args = args;
    marks
}

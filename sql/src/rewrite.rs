//! Rewrites of the parsed SQL where Flink's syntax means something
//! DataFusion's planner would read differently: `TIMESTAMPDIFF(SECOND, ..)`
//! names its unit as a bare word, `TIMESTAMP_LTZ(p)` is a Flink type name.

use std::ops::ControlFlow;

mod functions;
mod json;

use datafusion::sql::sqlparser::ast::{
    self, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, TimezoneInfo, Value,
    ValueWithSpan, visit_expressions_mut,
};

/// Applies the rewrites to every expression of a query, and names
/// unaliased computed columns `EXPR$<position>` as Flink does.
pub fn rewrite_query(query: &mut ast::Query) {
    fetch_first(query);
    group_windows(&mut query.body);
    name_expressions(&mut query.body);
    let _ = visit_expressions_mut(query, |e| {
        rewrite_one(e);
        ControlFlow::<()>::Continue(())
    });
}

/// `FETCH FIRST n ROWS ONLY` (of every query and subquery) as `LIMIT n`,
/// which DataFusion plans (it refuses FETCH).
fn fetch_first(query: &mut ast::Query) {
    struct Fetch;
    impl ast::VisitorMut for Fetch {
        type Break = ();
        fn pre_visit_query(&mut self, q: &mut ast::Query) -> ControlFlow<()> {
            let plain = q
                .fetch
                .as_ref()
                .is_some_and(|f| !f.with_ties && !f.percent && f.quantity.is_some());
            if plain && let Some(fetch) = q.fetch.take() {
                let offset = match q.limit_clause.take() {
                    Some(ast::LimitClause::LimitOffset { offset, .. }) => offset,
                    _ => None,
                };
                q.limit_clause = Some(ast::LimitClause::LimitOffset {
                    limit: fetch.quantity,
                    offset,
                    limit_by: vec![],
                });
            }
            ControlFlow::Continue(())
        }
    }
    let _ = ast::VisitMut::visit(query, &mut Fetch);
}

/// Flink's legacy group windows, `GROUP BY TUMBLE(ts, size [, offset]), k`
/// with `TUMBLE_START/END/ROWTIME(ts, size)` in the select list, become the
/// window table function's form: the FROM relation is wrapped in a derived
/// table that adds `window_start`, `window_end` and `window_time` (keeping the
/// relation's name as its alias, so qualified columns still resolve), the
/// WHERE clause moves inside it, and the group window is grouped by
/// `window_start, window_end, window_time`.
fn group_windows(body: &mut ast::SetExpr) {
    match body {
        ast::SetExpr::Select(select) => {
            for t in select.from.iter_mut() {
                if let ast::TableFactor::Derived { subquery, .. } = &mut t.relation {
                    group_windows(&mut subquery.body);
                }
            }
            group_window(select);
        }
        ast::SetExpr::SetOperation { left, right, .. } => {
            group_windows(left);
            group_windows(right);
        }
        ast::SetExpr::Query(q) => group_windows(&mut q.body),
        _ => {}
    }
}

fn group_window(select: &mut ast::Select) {
    let ast::GroupByExpr::Expressions(keys, _) = &mut select.group_by else {
        return;
    };
    const WINDOWS: [&str; 3] = ["TUMBLE", "HOP", "SESSION"];
    let Some((pos, function, args)) = keys.iter().enumerate().find_map(|(i, e)| match e {
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            WINDOWS
                .contains(&name.as_str())
                .then(|| plain_args(f).map(|a| (i, name, a)))?
        }
        _ => None,
    }) else {
        return;
    };
    if args.len() < 2 || select.from.len() != 1 || !select.from[0].joins.is_empty() {
        return;
    }
    let relation = &select.from[0].relation;
    let alias = match relation {
        ast::TableFactor::Table { alias: Some(a), .. }
        | ast::TableFactor::Derived { alias: Some(a), .. } => a.name.clone(),
        ast::TableFactor::Table { name, .. } => match name.0.last().and_then(|p| p.as_ident()) {
            Some(id) => id.clone(),
            None => return,
        },
        _ => return,
    };
    let filter = select
        .selection
        .take()
        .map(|w| format!(" WHERE {w}"))
        .unwrap_or_default();
    // The relation with its WHERE, under its own name, as the window's input.
    let input = format!("(SELECT * FROM {relation}{filter}) AS {alias}");
    let time = args[0].to_string();
    let rest: Vec<String> = args[1..].iter().map(|a| a.to_string()).collect();
    let Ok(sql) =
        crate::window_tvf::window_sql(&function, &input, &time, &rest, Default::default())
    else {
        return;
    };
    let Ok(subquery) = datafusion::sql::sqlparser::parser::Parser::new(&crate::dialect::DIALECT)
        .try_with_sql(&format!("SELECT * FROM {sql}"))
        .and_then(|mut p| p.parse_query())
    else {
        return;
    };
    select.from[0].relation = ast::TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(ast::TableAlias {
            explicit: true,
            name: alias,
            columns: vec![],
            at: None,
        }),
        sample: None,
    };
    keys.splice(
        pos..=pos,
        ["window_start", "window_end", "window_time"].map(|c| Expr::Identifier(ast::Ident::new(c))),
    );
    let replace = |e: &mut Expr| {
        if let Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_uppercase();
            let column = match name.rsplit_once('_') {
                Some((w, "START")) if WINDOWS.contains(&w) => "window_start",
                Some((w, "END")) if WINDOWS.contains(&w) => "window_end",
                Some((w, "ROWTIME")) if WINDOWS.contains(&w) => "window_time",
                _ => return,
            };
            *e = Expr::Identifier(ast::Ident::new(column));
        }
    };
    for (i, item) in select.projection.iter_mut().enumerate() {
        match item {
            ast::SelectItem::UnnamedExpr(e) => {
                let before = e.clone();
                replace(e);
                if *e != before {
                    // Flink names an unaliased TUMBLE_START(..) by position.
                    *item = ast::SelectItem::ExprWithAlias {
                        expr: e.clone(),
                        alias: ast::Ident::new(format!("EXPR${i}")),
                    };
                }
            }
            ast::SelectItem::ExprWithAlias { expr, .. } => {
                let _ = visit_expressions_mut(expr, |e| {
                    replace(e);
                    ControlFlow::<()>::Continue(())
                });
            }
            _ => {}
        }
    }
    if let Some(h) = select.having.as_mut() {
        let _ = visit_expressions_mut(h, |e| {
            replace(e);
            ControlFlow::<()>::Continue(())
        });
    }
}

/// Flink names a select item that is neither a column nor aliased
/// `EXPR$<position>`; DataFusion would derive names that may collide
/// (`CAST(a AS INT)` and `CAST(a AS DOUBLE)`).
fn name_expressions(body: &mut ast::SetExpr) {
    match body {
        ast::SetExpr::Select(select) => {
            for (i, item) in select.projection.iter_mut().enumerate() {
                if let ast::SelectItem::UnnamedExpr(e) = item
                    && !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
                {
                    *item = ast::SelectItem::ExprWithAlias {
                        expr: e.clone(),
                        alias: ast::Ident::new(format!("EXPR${i}")),
                    };
                }
            }
            for t in select.from.iter_mut() {
                if let ast::TableFactor::Derived { subquery, .. } = &mut t.relation {
                    name_expressions(&mut subquery.body);
                }
            }
        }
        ast::SetExpr::SetOperation { left, right, .. } => {
            name_expressions(left);
            name_expressions(right);
        }
        ast::SetExpr::Query(q) => name_expressions(&mut q.body),
        _ => {}
    }
}

/// The expression as Flink shows it in DESCRIBE: identifiers in backticks.
pub fn quoted(expr: &Expr) -> String {
    let mut e = expr.clone();
    let _ = visit_expressions_mut(&mut e, |e| {
        match e {
            Expr::Identifier(id) => id.quote_style = Some('`'),
            Expr::CompoundIdentifier(ids) => {
                ids.iter_mut().for_each(|id| id.quote_style = Some('`'))
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    e.to_string()
}

/// Applies the rewrites to an expression and its children.
pub fn rewrite_expr(expr: &mut Expr) {
    let _ = visit_expressions_mut(expr, |e| {
        rewrite_one(e);
        ControlFlow::<()>::Continue(())
    });
}

/// The plain expression arguments of a function call.
fn plain_args(f: &ast::Function) -> Option<Vec<Expr>> {
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn binary(left: Expr, op: ast::BinaryOperator, right: Expr) -> Expr {
    Expr::Nested(Box::new(Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }))
}

/// Flink functions that are plain SQL in other words.
fn desugar(name: &str, args: Vec<Expr>) -> Option<Expr> {
    match (name, args.len()) {
        // IF(c, a, b) is CASE WHEN c THEN a ELSE b END.
        ("IF", 3) => {
            let mut it = args.into_iter();
            let (c, a, b) = (it.next()?, it.next()?, it.next()?);
            Some(Expr::Case {
                case_token: ast::helpers::attached_token::AttachedToken::empty(),
                end_token: ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![ast::CaseWhen {
                    condition: c,
                    result: a,
                }],
                else_result: Some(Box::new(b)),
            })
        }
        // Seeded: Java's generator, one per call (functions/random.rs).
        ("RAND", 1) => {
            let id = Expr::value(Value::Number(
                crate::functions::random_call_id().to_string(),
                false,
            ));
            Some(call(
                crate::functions::RAND_SEEDED,
                vec![args.into_iter().next()?, id],
            ))
        }
        ("RAND_INTEGER", 1 | 2) => {
            let id = Expr::value(Value::Number(
                crate::functions::random_call_id().to_string(),
                false,
            ));
            let mut args = args;
            if args.len() == 1 {
                args.insert(0, Expr::value(Value::Null));
            }
            args.push(id);
            Some(call(crate::functions::RAND_INTEGER, args))
        }
        ("MOD", 2) => {
            let mut it = args.into_iter();
            Some(binary(it.next()?, ast::BinaryOperator::Modulo, it.next()?))
        }
        // Flink's CONCAT is NULL when any argument is NULL, as `||` is.
        ("CONCAT", n) if n >= 1 => args
            .into_iter()
            .reduce(|a, b| binary(a, ast::BinaryOperator::StringConcat, b)),
        (
            "HOUR" | "MINUTE" | "SECOND" | "YEAR" | "MONTH" | "DAYOFMONTH" | "QUARTER" | "WEEK"
            | "DAYOFYEAR" | "DAYOFWEEK",
            1,
        ) => {
            let field = match name {
                "HOUR" => ast::DateTimeField::Hour,
                "MINUTE" => ast::DateTimeField::Minute,
                "SECOND" => ast::DateTimeField::Second,
                "YEAR" => ast::DateTimeField::Year,
                "MONTH" => ast::DateTimeField::Month,
                "QUARTER" => ast::DateTimeField::Quarter,
                "WEEK" => ast::DateTimeField::Week(None),
                "DAYOFYEAR" => ast::DateTimeField::Doy,
                "DAYOFWEEK" => ast::DateTimeField::Dow,
                _ => ast::DateTimeField::Day,
            };
            let extract = Expr::Extract {
                field,
                syntax: ast::ExtractSyntax::From,
                expr: Box::new(args.into_iter().next()?),
            };
            Some(flink_day_of_week(extract))
        }
        // LEFT and RIGHT of a negative length are empty in Flink
        // (DataFusion counts from the other end); LPAD and RPAD to a
        // negative length are NULL.
        ("LEFT" | "RIGHT", 2) | ("LPAD" | "RPAD", 3) => {
            let n = args.get(1)?.clone();
            let negative = binary(
                n,
                ast::BinaryOperator::Lt,
                Expr::Value(Value::Number("0".into(), false).into()),
            );
            let result = if name.ends_with("PAD") {
                Value::Null
            } else {
                Value::SingleQuotedString(String::new())
            };
            Some(Expr::Case {
                case_token: ast::helpers::attached_token::AttachedToken::empty(),
                end_token: ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![ast::CaseWhen {
                    condition: negative,
                    result: Expr::Value(result.into()),
                }],
                else_result: Some(Box::new(call(&name.to_ascii_lowercase(), args))),
            })
        }
        // Flink's GREATEST and LEAST are NULL when any argument is;
        // DataFusion's skip NULLs.
        ("GREATEST" | "LEAST", n) if n >= 1 => {
            let any_null = args
                .iter()
                .map(|a| Expr::IsNull(Box::new(a.clone())))
                .reduce(|a, b| binary(a, ast::BinaryOperator::Or, b))?;
            Some(Expr::Case {
                case_token: ast::helpers::attached_token::AttachedToken::empty(),
                end_token: ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![ast::CaseWhen {
                    condition: any_null,
                    result: Expr::Value(Value::Null.into()),
                }],
                else_result: Some(Box::new(call(&name.to_ascii_lowercase(), args))),
            })
        }
        _ => functions::desugar(name, args),
    }
}

/// `EXTRACT(DOW ..)` counts from 1 (Sunday) in Flink, from 0 in
/// DataFusion; other extractions are the same.
fn flink_day_of_week(extract: Expr) -> Expr {
    match &extract {
        Expr::Extract {
            field: ast::DateTimeField::Dow,
            ..
        } => binary(
            extract,
            ast::BinaryOperator::Plus,
            Expr::Value(Value::Number("1".into(), false).into()),
        ),
        _ => extract,
    }
}

/// Flink's built-in functions that this module (or the window TVF
/// planner) rewrites before DataFusion sees them, so that they are not in
/// DataFusion's function registry under Flink's name. A user function may
/// not take one of these names without replacing the built-in.
pub const REWRITTEN_FUNCTIONS: &[&str] = &[
    "ARRAY_REMOVE",
    "CONCAT",
    "CUMULATE",
    "DAYOFMONTH",
    "DAYOFWEEK",
    "DAYOFYEAR",
    "ELT",
    "ENDSWITH",
    "GREATEST",
    "HOP",
    "HOUR",
    "IF",
    "JSON_ARRAY",
    "JSON_ARRAYAGG",
    "JSON_OBJECT",
    "JSON_OBJECTAGG",
    "JSON_QUERY",
    "JSON_VALUE",
    "LEAST",
    "LEFT",
    "LISTAGG",
    "LOG",
    "LPAD",
    "MAP_FROM_ARRAYS",
    "MINUTE",
    "MOD",
    "MONTH",
    "QUARTER",
    "RAND",
    "RAND_INTEGER",
    "REGEXP",
    "REGEXP_REPLACE",
    "REGEXP_SUBSTR",
    "RIGHT",
    "RPAD",
    "SECOND",
    "SESSION",
    "SIGN",
    "SPLIT",
    "STARTSWITH",
    "SUBSTR",
    "SUBSTRING",
    "TIMESTAMPADD",
    "TIMESTAMPDIFF",
    "TO_DATE",
    "TUMBLE",
    "WEEK",
    "YEAR",
];

/// DataFusion's name of a Flink function that differs only in name.
fn renamed(flink: &str) -> Option<&'static str> {
    Some(match flink {
        "STARTSWITH" => "starts_with",
        "ENDSWITH" => "ends_with",
        "REGEXP" => "regexp_like",
        "SPLIT" => "string_to_array",
        // Flink removes every equal element; DataFusion's ARRAY_REMOVE
        // only the first.
        "ARRAY_REMOVE" => "array_remove_all",
        _ => return None,
    })
}

fn rewrite_one(e: &mut Expr) {
    if json::json_value(e) {
        return;
    }
    if let Expr::Function(f) = e {
        let name = f.name.to_string().to_ascii_uppercase();
        if let Some(new) = plain_args(f).and_then(|args| desugar(&name, args)) {
            *e = new;
            // The new expression's children were already visited.
            return;
        }
    }
    if let Some(new) = json::rewrite(e) {
        *e = new;
        return;
    }
    if let Some(new) = functions::operator(e) {
        *e = new;
        return;
    }
    match e {
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            if matches!(name.as_str(), "TIMESTAMPDIFF" | "TIMESTAMPADD")
                && let FunctionArguments::List(list) = &mut f.args
                && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) =
                    list.args.first_mut()
                && let Expr::Identifier(id) = first
            {
                let unit = id.value.to_ascii_uppercase();
                *first = Expr::Value(ValueWithSpan {
                    value: Value::SingleQuotedString(unit),
                    span: id.span,
                });
            }
            // Flink functions that are DataFusion's under another name,
            // with the same results.
            if let Some(df) = renamed(&name) {
                f.name = ast::ObjectName::from(vec![ast::Ident::new(df)]);
            }
            // LISTAGG(x [, sep]) is STRING_AGG(x, sep), ',' by default;
            // FILTER and DISTINCT stay.
            if name == "LISTAGG"
                && let FunctionArguments::List(list) = &mut f.args
                && matches!(list.args.len(), 1 | 2)
            {
                if list.args.len() == 1 {
                    list.args
                        .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(
                            ValueWithSpan {
                                value: Value::SingleQuotedString(",".into()),
                                span: ast::Spanned::span(&f.name),
                            },
                        ))));
                }
                f.name = ast::ObjectName::from(vec![ast::Ident::new("string_agg")]);
            }
        }
        Expr::Cast {
            data_type, expr, ..
        } if is_string_type(data_type) => {
            *e = call(crate::functions::CAST_TO_STRING, vec![(**expr).clone()]);
        }
        Expr::Cast { data_type, .. } => flink_data_type(data_type),
        // DataFusion plans an array literal's elements without the outer
        // query's columns (a lateral `UNNEST(ARRAY[t.a, t.b])` would not
        // find them); the function of the same meaning sees them.
        Expr::Array(a) if !a.elem.is_empty() => *e = call("make_array", a.elem.clone()),
        Expr::Extract {
            field: ast::DateTimeField::Dow,
            ..
        } => *e = flink_day_of_week(e.clone()),
        // `1.5E3` is a DOUBLE in Flink; other decimal literals are DECIMAL.
        Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if n.contains(['e', 'E'])) => {
            // Cast from text: a decimal read of `1e9` would lose exactness.
            let Value::Number(n, _) = &v.value else {
                return;
            };
            let literal = Expr::Value(ValueWithSpan {
                value: Value::SingleQuotedString(n.clone()),
                span: v.span,
            });
            *e = Expr::Cast {
                kind: ast::CastKind::Cast,
                expr: Box::new(literal),
                data_type: DataType::Double(ast::ExactNumberInfo::None),
                array: false,
                format: None,
            };
        }
        _ => {}
    }
}

fn is_string_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::String(_)
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Text
            | DataType::CharVarying(_)
            | DataType::CharacterVarying(_)
            | DataType::Character(_)
    )
}

/// A call of function `name`.
pub(crate) fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// Maps Flink type names that sqlparser keeps as custom types.
pub(crate) fn flink_data_type(t: &mut DataType) {
    match t {
        DataType::Custom(name, mods) => {
            let n = name.to_string().to_ascii_uppercase();
            if n == "TIMESTAMP_LTZ" {
                let p = mods
                    .first()
                    .and_then(|m| m.parse::<u64>().ok())
                    .unwrap_or(6);
                *t = DataType::Timestamp(Some(supported_precision(p)), TimezoneInfo::WithTimeZone);
            } else if n == "BYTES" {
                *t = DataType::Bytea;
            }
        }
        DataType::Timestamp(p, _) => {
            *p = Some(supported_precision(p.unwrap_or(6)));
        }
        // Flink's BYTES, which the parser reads as BigQuery's type.
        DataType::Bytes(_) => *t = DataType::Bytea,
        DataType::Array(ast::ArrayElemTypeDef::AngleBracket(inner)) => flink_data_type(inner),
        _ => {}
    }
}

/// DataFusion has timestamps of precision 0, 3, 6 and 9.
fn supported_precision(p: u64) -> u64 {
    match p {
        0 => 0,
        1..=3 => 3,
        4..=6 => 6,
        _ => 9,
    }
}

//! `FOR SYSTEM_TIME AS OF` (temporal joins), in two steps, as sqlparser
//! has no syntax for it in our dialect:
//!
//! 1. On the token stream, `rates FOR SYSTEM_TIME AS OF o.ts` becomes the
//!    table function call `__eddy_versioned('rates', 'o.ts')`, which
//!    parses; an alias after it stays the relation's alias.
//! 2. On the parsed query ([`versioned_joins`]), with the catalog at hand,
//!    the call becomes the table again, and the join's condition gains
//!    `flink_as_of(o.ts, r.<rowtime of rates>)`: always true, it marks the
//!    join as temporal for the streaming planner and keeps both time
//!    columns through the optimizer.

use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, Ident, JoinConstraint, JoinOperator, ObjectName,
    ObjectNamePart, SetExpr, TableFactor, TableFunctionArgs, Value,
};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::dialect::DIALECT;
use crate::error::{Location, Result, SqlError};

/// The table function a versioned relation is parsed as.
pub(crate) const VERSIONED: &str = "__eddy_versioned";

fn keyword(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

/// The start of the dotted name (`a`, `a.b`) ending at `end` (inclusive).
fn dotted_start(tokens: &[TokenWithSpan], end: usize) -> Option<usize> {
    let mut start = end;
    if !matches!(tokens.get(end)?.token, Token::Word(_)) {
        return None;
    }
    while start >= 2
        && tokens[start - 1].token == Token::Period
        && matches!(tokens[start - 2].token, Token::Word(_))
    {
        start -= 2;
    }
    Some(start)
}

/// The end (exclusive) of the dotted name starting at `start`.
fn dotted_end(tokens: &[TokenWithSpan], start: usize) -> Option<usize> {
    if !matches!(tokens.get(start)?.token, Token::Word(_)) {
        return None;
    }
    let mut end = start + 1;
    while end + 1 < tokens.len()
        && tokens[end].token == Token::Period
        && matches!(tokens[end + 1].token, Token::Word(_))
    {
        end += 2;
    }
    Some(end)
}

fn text(tokens: &[TokenWithSpan]) -> String {
    tokens.iter().map(|t| t.token.to_string()).collect()
}

/// Step 1: rewrites every `name FOR SYSTEM_TIME AS OF time` in `tokens`
/// (whitespace removed) into `__eddy_versioned('name', 'time')`.
pub fn rewrite(mut tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>> {
    let mut i = 1;
    while i + 4 < tokens.len() {
        let is_clause = keyword(&tokens[i].token, "FOR")
            && keyword(&tokens[i + 1].token, "SYSTEM_TIME")
            && keyword(&tokens[i + 2].token, "AS")
            && keyword(&tokens[i + 3].token, "OF");
        if !is_clause {
            i += 1;
            continue;
        }
        let at = Location {
            line: tokens[i].span.start.line,
            column: tokens[i].span.start.column,
        };
        let bad = |message: &str| SqlError::Plan {
            location: at,
            message: message.into(),
        };
        let start = dotted_start(&tokens, i - 1)
            .ok_or_else(|| bad("FOR SYSTEM_TIME AS OF must follow a table or view name"))?;
        let end = dotted_end(&tokens, i + 4).ok_or_else(|| {
            bad("FOR SYSTEM_TIME AS OF takes a time attribute column of the left table, such as o.ts")
        })?;
        let call = format!(
            "{VERSIONED}('{}', '{}')",
            text(&tokens[start..i]).replace('\'', "''"),
            text(&tokens[i + 4..end]).replace('\'', "''")
        );
        let mut new_tokens = Tokenizer::new(&DIALECT, &call)
            .tokenize_with_location()
            .map_err(|e| bad(&e.message))?;
        new_tokens.retain(|t| !matches!(t.token, Token::Whitespace(_)));
        for t in new_tokens.iter_mut() {
            t.span = tokens[start].span;
        }
        let n = new_tokens.len();
        tokens.splice(start..end, new_tokens);
        i = start + n;
    }
    Ok(tokens)
}

/// What step 2 needs of the catalog: the rowtime column of a versioned
/// table or view, or why it cannot be one (Flink's message).
pub type VersionedRowtime<'a> = dyn Fn(&str) -> std::result::Result<String, String> + 'a;

/// Step 2: turns each `__eddy_versioned(..)` relation of `query` back into
/// its table and marks its join's condition with `flink_as_of`.
pub fn versioned_joins(
    query: &mut ast::Query,
    rowtime: &VersionedRowtime,
    at: Location,
) -> Result<()> {
    set_expr(&mut query.body, rowtime, at)
}

fn set_expr(body: &mut SetExpr, rowtime: &VersionedRowtime, at: Location) -> Result<()> {
    match body {
        SetExpr::Select(select) => {
            for t in select.from.iter_mut() {
                table_with_joins(t, rowtime, at)?;
            }
            Ok(())
        }
        SetExpr::SetOperation { left, right, .. } => {
            set_expr(left, rowtime, at)?;
            set_expr(right, rowtime, at)
        }
        SetExpr::Query(q) => versioned_joins(q, rowtime, at),
        _ => Ok(()),
    }
}

fn table_with_joins(
    t: &mut ast::TableWithJoins,
    rowtime: &VersionedRowtime,
    at: Location,
) -> Result<()> {
    let bad = |message: String| SqlError::Plan {
        location: at,
        message,
    };
    nested(&mut t.relation, rowtime, at)?;
    if versioned(&t.relation).is_some() {
        return Err(bad(
            "FOR SYSTEM_TIME AS OF needs a table to join with: put the versioned table on the right of a JOIN".into(),
        ));
    }
    for j in t.joins.iter_mut() {
        nested(&mut j.relation, rowtime, at)?;
        let Some((table, time)) = versioned(&j.relation) else {
            continue;
        };
        let TableFactor::Table { alias, .. } = &j.relation else {
            continue;
        };
        let qualifier = alias
            .as_ref()
            .map(|a| a.name.value.clone())
            .unwrap_or_else(|| table.clone());
        let column = rowtime(&table).map_err(bad)?;
        let time_expr = parse_expr(&time, at)?;
        let marker = Expr::Function(ast::Function {
            name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(
                crate::functions::AS_OF,
            ))]),
            uses_odbc_syntax: false,
            parameters: ast::FunctionArguments::None,
            args: ast::FunctionArguments::List(ast::FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(time_expr)),
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::CompoundIdentifier(vec![
                        Ident::with_quote('`', qualifier),
                        Ident::with_quote('`', column),
                    ]))),
                ],
                clauses: vec![],
            }),
            filter: None,
            null_treatment: None,
            over: None,
            within_group: vec![],
        });
        let constraint = match &mut j.join_operator {
            JoinOperator::Join(c)
            | JoinOperator::Inner(c)
            | JoinOperator::Left(c)
            | JoinOperator::LeftOuter(c) => c,
            _ => {
                return Err(bad(
                    "Temporal table join currently only supports INNER JOIN and LEFT JOIN".into(),
                ));
            }
        };
        match constraint {
            JoinConstraint::On(on) => {
                *on = Expr::BinaryOp {
                    left: Box::new(Expr::Nested(Box::new(on.clone()))),
                    op: ast::BinaryOperator::And,
                    right: Box::new(marker),
                }
            }
            _ => {
                return Err(bad(
                    "a temporal table join needs an ON condition with an equality on the versioned table's key".into(),
                ));
            }
        }
        if let TableFactor::Table { name, args, .. } = &mut j.relation {
            *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::with_quote(
                '`', table,
            ))]);
            *args = None;
        }
    }
    Ok(())
}

/// Recurses into derived tables and nested joins.
fn nested(t: &mut TableFactor, rowtime: &VersionedRowtime, at: Location) -> Result<()> {
    match t {
        TableFactor::Derived { subquery, .. } => versioned_joins(subquery, rowtime, at),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => table_with_joins_nested(table_with_joins, rowtime, at),
        _ => Ok(()),
    }
}

fn table_with_joins_nested(
    t: &mut ast::TableWithJoins,
    rowtime: &VersionedRowtime,
    at: Location,
) -> Result<()> {
    table_with_joins(t, rowtime, at)
}

/// The table and time text of a `__eddy_versioned('table', 'time')` relation.
fn versioned(t: &TableFactor) -> Option<(String, String)> {
    let TableFactor::Table {
        name,
        args: Some(TableFunctionArgs { args, .. }),
        ..
    } = t
    else {
        return None;
    };
    if !name.to_string().eq_ignore_ascii_case(VERSIONED) {
        return None;
    }
    let text = |a: &FunctionArg| match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    match args.as_slice() {
        [table, time] => Some((text(table)?.trim_matches('`').to_string(), text(time)?)),
        _ => None,
    }
}

fn parse_expr(text: &str, at: Location) -> Result<Expr> {
    datafusion::sql::sqlparser::parser::Parser::new(&DIALECT)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::Plan {
            location: at,
            message: format!("FOR SYSTEM_TIME AS OF {text}: {e}"),
        })
}

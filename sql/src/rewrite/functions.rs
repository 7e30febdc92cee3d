//! More of Flink's functions and operators in DataFusion's words:
//! `SIGN`, `LOG(x)` (natural), `TO_DATE(s, format)`, `SUBSTRING` (Flink's
//! start: 0 is 1, a negative one counts from the end), `EXTRACT(EPOCH |
//! MILLISECOND | MICROSECOND ..)`, `E`, `ELT`, `MAP_FROM_ARRAYS`, `REGEXP_SUBSTR`, `REGEXP_REPLACE`
//! (Flink replaces every match), `FLOOR`/`CEIL(ts TO unit)`, `SIMILAR TO`
//! (Flink's, with SQL's pattern language, matching the whole text) and
//! `BETWEEN SYMMETRIC`.

use datafusion::sql::sqlparser::ast::{self, DateTimeField, Expr, Value};

use super::{binary, call};
use crate::functions::FLINK_SUBSTRING;

fn text(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.into()).into())
}

fn number(n: i64) -> Expr {
    Expr::Value(Value::Number(n.to_string(), false).into())
}

fn case(conditions: Vec<(Expr, Expr)>, otherwise: Option<Expr>) -> Expr {
    Expr::Case {
        case_token: ast::helpers::attached_token::AttachedToken::empty(),
        end_token: ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: conditions
            .into_iter()
            .map(|(condition, result)| ast::CaseWhen { condition, result })
            .collect(),
        else_result: otherwise.map(Box::new),
    }
}

/// A Flink function call `name(args)` as DataFusion's words, if it is one
/// of this module's.
pub(super) fn desugar(name: &str, args: Vec<Expr>) -> Option<Expr> {
    match (name, args.len()) {
        ("SIGN", 1) => Some(call("signum", args)),
        // LOG(x) is the natural logarithm in Flink (DataFusion's is base 10).
        ("LOG", 1) => Some(call("ln", args)),
        ("TO_DATE", 2) => Some(Expr::Cast {
            kind: ast::CastKind::Cast,
            expr: Box::new(call("to_timestamp", args)),
            data_type: ast::DataType::Date,
            array: false,
            format: None,
        }),
        ("SUBSTRING" | "SUBSTR", 2 | 3) => Some(call(FLINK_SUBSTRING, args)),
        // Java's Math.E, a DOUBLE.
        ("E", 0) => Some(Expr::Cast {
            kind: ast::CastKind::Cast,
            expr: Box::new(text("2.718281828459045")),
            data_type: ast::DataType::Double(ast::ExactNumberInfo::None),
            array: false,
            format: None,
        }),
        ("MAP_FROM_ARRAYS", 2) => Some(call("map", args)),
        // Flink replaces every match; DataFusion only the first unless
        // told 'g'.
        ("REGEXP_REPLACE", 3) => {
            let mut args = args;
            args.push(text("g"));
            Some(call("regexp_replace", args))
        }
        // The first match: the whole pattern as the first group.
        ("REGEXP_SUBSTR", 2) => {
            let mut it = args.into_iter();
            let (s, re) = (it.next()?, it.next()?);
            let grouped = call("concat", vec![text("("), re, text(")")]);
            Some(call(
                "array_element",
                vec![call("regexp_match", vec![s, grouped]), number(1)],
            ))
        }
        // ELT(n, a1, a2, ..): the n-th, NULL out of range.
        ("ELT", n) if n >= 2 => {
            let mut it = args.into_iter();
            let index = it.next()?;
            let conditions = it
                .enumerate()
                .map(|(i, a)| {
                    let at = binary(index.clone(), ast::BinaryOperator::Eq, number(i as i64 + 1));
                    (at, a)
                })
                .collect();
            Some(case(conditions, None))
        }
        _ => None,
    }
}

/// `FLOOR(ts TO unit)`, `CEIL(ts TO unit)` and `SIMILAR TO` in DataFusion's
/// words; `None` for other expressions.
pub(super) fn operator(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let from = substring_from
                .as_deref()
                .cloned()
                .unwrap_or_else(|| number(1));
            let mut args = vec![(**expr).clone(), from];
            args.extend(substring_for.as_deref().cloned());
            Some(call(FLINK_SUBSTRING, args))
        }
        // EPOCH is a BIGINT; MILLISECOND and MICROSECOND count within the
        // second (DataFusion's include the seconds).
        Expr::Extract { field, .. }
            if matches!(
                field,
                DateTimeField::Epoch | DateTimeField::Millisecond | DateTimeField::Microsecond
            ) =>
        {
            let whole = Expr::Cast {
                kind: ast::CastKind::Cast,
                expr: Box::new(e.clone()),
                data_type: ast::DataType::BigInt(None),
                array: false,
                format: None,
            };
            Some(match field {
                DateTimeField::Millisecond => Expr::Nested(Box::new(binary(
                    whole,
                    ast::BinaryOperator::Modulo,
                    number(1000),
                ))),
                DateTimeField::Microsecond => Expr::Nested(Box::new(binary(
                    whole,
                    ast::BinaryOperator::Modulo,
                    number(1_000_000),
                ))),
                _ => whole,
            })
        }
        // BETWEEN SYMMETRIC (marked by the tokenizer): either order.
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let Expr::Function(f) = low.as_ref() else {
                return None;
            };
            if !f
                .name
                .to_string()
                .eq_ignore_ascii_case(crate::tokens::SYMMETRIC)
            {
                return None;
            }
            let low = super::plain_args(f)?.into_iter().next()?;
            let between = |a: &Expr, b: &Expr| Expr::Between {
                expr: expr.clone(),
                negated: false,
                low: Box::new(a.clone()),
                high: Box::new(b.clone()),
            };
            let either = Expr::Nested(Box::new(binary(
                between(&low, high),
                ast::BinaryOperator::Or,
                between(high, &low),
            )));
            Some(match negated {
                true => Expr::UnaryOp {
                    op: ast::UnaryOperator::Not,
                    expr: Box::new(either),
                },
                false => either,
            })
        }
        Expr::Floor {
            expr,
            field: ast::CeilFloorKind::DateTimeField(f),
        } if *f != DateTimeField::NoDateTime => {
            Some(call("date_trunc", vec![text(unit(f)?), (**expr).clone()]))
        }
        // The next boundary, unless the time is on one.
        Expr::Ceil {
            expr,
            field: ast::CeilFloorKind::DateTimeField(f),
        } if *f != DateTimeField::NoDateTime => {
            let u = unit(f)?;
            let floor = call("date_trunc", vec![text(u), (**expr).clone()]);
            let on = binary(floor.clone(), ast::BinaryOperator::Eq, (**expr).clone());
            let next = binary(
                floor,
                ast::BinaryOperator::Plus,
                Expr::Interval(ast::Interval {
                    value: Box::new(text("1")),
                    leading_field: Some(f.clone()),
                    leading_precision: None,
                    last_field: None,
                    fractional_seconds_precision: None,
                }),
            );
            Some(case(vec![(on, (**expr).clone())], Some(next)))
        }
        Expr::SimilarTo {
            negated,
            expr,
            pattern,
            escape_char: None,
        } => {
            let Expr::Value(v) = pattern.as_ref() else {
                return None;
            };
            let Value::SingleQuotedString(p) = &v.value else {
                return None;
            };
            let matched = call(
                "regexp_like",
                vec![(**expr).clone(), text(&similar_to_regex(p))],
            );
            Some(match negated {
                true => Expr::UnaryOp {
                    op: ast::UnaryOperator::Not,
                    expr: Box::new(matched),
                },
                false => matched,
            })
        }
        _ => None,
    }
}

/// DataFusion's `date_trunc` unit of a Flink time unit.
fn unit(f: &DateTimeField) -> Option<&'static str> {
    Some(match f {
        DateTimeField::Year | DateTimeField::Years => "year",
        DateTimeField::Quarter => "quarter",
        DateTimeField::Month | DateTimeField::Months => "month",
        DateTimeField::Week(_) | DateTimeField::Weeks => "week",
        DateTimeField::Day | DateTimeField::Days => "day",
        DateTimeField::Hour | DateTimeField::Hours => "hour",
        DateTimeField::Minute | DateTimeField::Minutes => "minute",
        DateTimeField::Second | DateTimeField::Seconds => "second",
        DateTimeField::Millisecond | DateTimeField::Milliseconds => "millisecond",
        _ => return None,
    })
}

/// A regular expression matching the whole text as SQL's `SIMILAR TO`
/// pattern `p` does: `%` any text, `_` one character, `.` itself, the
/// other regular-expression operators (`| * + ? {} () []`) as they are.
fn similar_to_regex(p: &str) -> String {
    let mut re = String::from("^(?:");
    for c in p.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '.' | '^' | '$' | '\\' => {
                re.push('\\');
                re.push(c);
            }
            c => re.push(c),
        }
    }
    re.push_str(")$");
    re
}

#[cfg(test)]
mod tests {
    use super::similar_to_regex;

    #[test]
    fn similar_to_patterns_match_the_whole_text() {
        assert_eq!(similar_to_regex("a%"), "^(?:a.*)$");
        assert_eq!(similar_to_regex("a_.c"), "^(?:a.\\.c)$");
        assert_eq!(similar_to_regex("(ab|cd)+"), "^(?:(ab|cd)+)$");
    }
}

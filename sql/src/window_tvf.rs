//! Flink's window table functions, `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts),
//! INTERVAL '1' MINUTE [, offset]))`, rewritten on the token stream into a
//! derived table DataFusion can plan: the rows of `t` with `window_start`,
//! `window_end` and `window_time` added. The rewrite happens before
//! sqlparser sees the query, since `TABLE t` is no expression it knows.

use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::dialect::DIALECT;
use crate::error::{Location, Result, SqlError};

fn keyword(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

fn location(t: &TokenWithSpan) -> Location {
    Location {
        line: t.span.start.line,
        column: t.span.start.column,
    }
}

/// Text of a token run.
fn text(tokens: &[TokenWithSpan]) -> String {
    tokens
        .iter()
        .map(|t| t.token.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits `tokens` (the inside of a call) at top-level commas.
fn split_args(tokens: &[TokenWithSpan]) -> Vec<&[TokenWithSpan]> {
    let mut args = vec![];
    let (mut depth, mut start) = (0i32, 0);
    for (i, t) in tokens.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                args.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    args.push(&tokens[start..]);
    args
}

/// Index of the `)` closing the `(` at `open`.
fn closing(tokens: &[TokenWithSpan], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Rewrites every window table function call in `tokens` (whitespace
/// already removed).
pub fn rewrite(mut tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>> {
    let mut i = 0;
    while i + 3 < tokens.len() {
        let is_call = keyword(&tokens[i].token, "TABLE")
            && tokens[i + 1].token == Token::LParen
            && ["TUMBLE", "HOP", "CUMULATE", "SESSION"]
                .iter()
                .any(|f| keyword(&tokens[i + 2].token, f))
            && tokens[i + 3].token == Token::LParen;
        if !is_call {
            i += 1;
            continue;
        }
        let at = location(&tokens[i + 2]);
        let bad = |message: String| SqlError::Plan {
            location: at,
            message,
        };
        let inner_close =
            closing(&tokens, i + 3).ok_or_else(|| bad("unclosed window function call".into()))?;
        let outer_close = inner_close + 1;
        if tokens.get(outer_close).map(|t| &t.token) != Some(&Token::RParen) {
            return Err(bad("expected ')' after the window function call".into()));
        }
        let function = tokens[i + 2].token.to_string().to_ascii_uppercase();
        let args = split_args(&tokens[i + 4..inner_close]);
        let replacement = derived_table(&function, &args, at)?;
        let mut new_tokens = Tokenizer::new(&DIALECT, &replacement)
            .tokenize_with_location()
            .map_err(|e| bad(e.message))?;
        new_tokens.retain(|t| !matches!(t.token, Token::Whitespace(_)));
        for t in new_tokens.iter_mut() {
            t.span = tokens[i + 2].span;
        }
        let n = new_tokens.len();
        tokens.splice(i..=outer_close, new_tokens);
        i += n;
    }
    Ok(tokens)
}

/// The derived table replacing a window function call.
fn derived_table(function: &str, args: &[&[TokenWithSpan]], at: Location) -> Result<String> {
    let bad = |message: String| SqlError::Plan {
        location: at,
        message,
    };
    let table = match args.first() {
        Some([first, rest @ ..]) if keyword(&first.token, "TABLE") && !rest.is_empty() => {
            // SESSION(TABLE t PARTITION BY k, ..): the partition keys are
            // the aggregation's group keys, so the clause itself is dropped.
            let end = rest
                .iter()
                .position(|t| keyword(&t.token, "PARTITION"))
                .unwrap_or(rest.len());
            if end < rest.len() && function != "SESSION" {
                return Err(bad(format!("{function} takes no PARTITION BY")));
            }
            text(&rest[..end])
        }
        _ => {
            return Err(bad(format!(
                "the first argument of {function} must be TABLE <name>"
            )));
        }
    };
    let column = match args.get(1) {
        Some([d, open, col @ .., close])
            if keyword(&d.token, "DESCRIPTOR")
                && open.token == Token::LParen
                && close.token == Token::RParen =>
        {
            text(col)
        }
        _ => {
            return Err(bad(format!(
                "the second argument of {function} must be DESCRIPTOR(<time column>)"
            )));
        }
    };
    let rest: Vec<String> = args[2..].iter().map(|a| text(a)).collect();
    window_sql(function, &table, &column, &rest, at)
}

/// The derived table (SQL text) of window function `function` over `table`
/// (a name or a parenthesized query with an alias) and time column `column`,
/// with the function's remaining arguments `rest`. Shared by the window
/// table functions and the legacy group windows.
pub fn window_sql(
    function: &str,
    table: &str,
    column: &str,
    rest: &[String],
    at: Location,
) -> Result<String> {
    let bad = |message: String| SqlError::Plan {
        location: at,
        message,
    };
    let (table, column) = (table.to_string(), column.to_string());
    let millis = |arg: &str| {
        interval_millis(arg).ok_or_else(|| SqlError::NotSupported {
            location: at,
            message: format!(
                "{function} with an interval Eddy cannot read at planning time: {arg}"
            ),
        })
    };
    match (function, rest) {
        ("TUMBLE", [size, offset @ ..]) if offset.len() <= 1 => {
            let size = millis(size)?;
            let offset = offset.first().map(|o| millis(o)).transpose()?.unwrap_or(0);
            if size <= 0 {
                return Err(bad("TUMBLE needs a positive size".into()));
            }
            Ok(tumble(&table, &column, size, offset))
        }
        ("TUMBLE", _) => Err(bad("TUMBLE takes a size and an optional offset".into())),
        ("HOP", [slide, size, offset @ ..]) if offset.len() <= 1 => {
            let (slide, size) = (millis(slide)?, millis(size)?);
            let offset = offset.first().map(|o| millis(o)).transpose()?.unwrap_or(0);
            if slide <= 0 || size <= 0 || size % slide != 0 {
                return Err(SqlError::NotSupported {
                    location: at,
                    message: "HOP windows whose size is not a positive multiple of the slide"
                        .into(),
                });
            }
            Ok(hop(&table, &column, slide, size, offset))
        }
        ("HOP", _) => Err(bad(
            "HOP takes a slide, a size and an optional offset".into()
        )),
        ("CUMULATE", [step, size, offset @ ..]) if offset.len() <= 1 => {
            let (step, size) = (millis(step)?, millis(size)?);
            let offset = offset.first().map(|o| millis(o)).transpose()?.unwrap_or(0);
            if step <= 0 || size <= 0 || size % step != 0 {
                return Err(bad(
                    "CUMULATE needs a max size that is a positive multiple of the step".into(),
                ));
            }
            Ok(cumulate(&table, &column, step, size, offset))
        }
        ("CUMULATE", _) => Err(bad(
            "CUMULATE takes a step, a max size and an optional offset".into(),
        )),
        ("SESSION", [gap]) => {
            let gap = millis(gap)?;
            if gap <= 0 {
                return Err(bad("SESSION needs a positive gap".into()));
            }
            Ok(session(&table, &column, gap))
        }
        ("SESSION", _) => Err(bad("SESSION takes a gap".into())),
        (other, _) => Err(SqlError::NotSupported {
            location: at,
            message: format!("the {other} window table function"),
        }),
    }
}

/// Milliseconds of an interval literal such as `INTERVAL '5' MINUTE`.
fn interval_millis(text: &str) -> Option<i64> {
    let mut words = text.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("INTERVAL") {
        return None;
    }
    let n: i64 = words.next()?.trim_matches('\'').trim().parse().ok()?;
    let unit = match words.next()?.to_ascii_uppercase().trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return None,
    };
    if words.next().is_some() {
        return None;
    }
    n.checked_mul(unit)
}

/// `SLICE_END(column, slice, offset, shift)`: the end of the `slice`-long
/// period holding the row time, plus `shift` (milliseconds), in integer
/// arithmetic.
fn slice_end(column: &str, slice: i64, offset: i64, shift: i64) -> String {
    format!(
        "{}({column}, {slice}, {offset}, {shift})",
        crate::functions::SLICE_END
    )
}

/// `PLUS_MILLIS(ts, ms)`.
fn plus(ts: &str, ms: i64) -> String {
    format!("{}({ts}, {ms})", crate::functions::PLUS_MILLIS)
}

/// HOP: one row per window holding the row (unnesting the windows'
/// starts). A window aggregation over it aggregates each row once, into
/// its slice, instead (see the streaming planner).
fn hop(table: &str, column: &str, slide: i64, size: i64, offset: i64) -> String {
    let starts = format!(
        "unnest({}({column}, {slide}, {size}, {offset}))",
        crate::functions::HOP_STARTS
    );
    format!(
        "(SELECT *, {end} AS window_end, {time} AS window_time \
         FROM (SELECT *, {starts} AS window_start FROM {table}))",
        end = plus("window_start", size),
        time = plus("window_start", size - 1),
    )
}

/// CUMULATE: one row per window holding the row (unnesting the windows'
/// ends), each starting at the row's period of `size`.
fn cumulate(table: &str, column: &str, step: i64, size: i64, offset: i64) -> String {
    let ends = format!(
        "unnest({}({column}, {step}, {size}, {offset}))",
        crate::functions::CUMULATE_ENDS
    );
    format!(
        "(SELECT *, {time} AS window_time \
         FROM (SELECT *, {start} AS window_start, {ends} AS window_end FROM {table}))",
        start = slice_end(column, size, offset, -size),
        time = plus("window_end", -1),
    )
}

/// SESSION: each row opens the session `[ts, ts + gap)`; the window
/// aggregation recognises `flink_session_end` and merges touching sessions.
fn session(table: &str, column: &str, gap: i64) -> String {
    let end = format!("{}({column}, {gap})", crate::functions::SESSION_END);
    format!(
        "(SELECT *, CAST({column} AS TIMESTAMP(3)) AS window_start, {end} AS window_end, \
         {time} AS window_time FROM {table})",
        time = plus(&end, -1),
    )
}

/// TUMBLE: the row's period of `size`.
fn tumble(table: &str, column: &str, size: i64, offset: i64) -> String {
    format!(
        "(SELECT *, {start} AS window_start, {end} AS window_end, \
         {time} AS window_time FROM {table})",
        start = slice_end(column, size, offset, -size),
        end = slice_end(column, size, offset, 0),
        time = slice_end(column, size, offset, -1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut t = Tokenizer::new(&DIALECT, sql)
            .tokenize_with_location()
            .expect("tokens");
        t.retain(|t| !matches!(t.token, Token::Whitespace(_)));
        text(&rewrite(t).expect("rewrite"))
    }

    #[test]
    fn tumble_becomes_a_derived_table() {
        let s = rewritten(
            "SELECT * FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY a",
        );
        assert!(s.contains("AS window_start"), "{s}");
        assert!(s.contains("FROM orders ) GROUP BY a"), "{s}");
        assert!(!s.contains("DESCRIPTOR"), "{s}");
    }

    #[test]
    fn interval_literals_in_milliseconds() {
        assert_eq!(interval_millis("INTERVAL '5' MINUTE"), Some(300_000));
        assert_eq!(interval_millis("INTERVAL '2' HOURS"), Some(7_200_000));
        assert_eq!(interval_millis("INTERVAL '1' MONTH"), None);
    }

    #[test]
    fn other_windows_are_reported_as_not_supported_yet() {
        let mut t = Tokenizer::new(
            &DIALECT,
            "SELECT * FROM TABLE(SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL '5' MONTH))",
        )
        .tokenize_with_location()
        .expect("tokens");
        t.retain(|t| !matches!(t.token, Token::Whitespace(_)));
        assert!(matches!(rewrite(t), Err(SqlError::NotSupported { .. })));
    }
}

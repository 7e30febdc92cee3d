//! Flink's SQL hints (`/*+ NAME(..) */`), which sqlparser reads as
//! comments. `OPTIONS` (dynamic table options, after a table's name) is
//! applied: [`options_hints`] finds each, and the session reads the table
//! with the options merged into its own. `STATE_TTL` (when state is
//! forgotten) changes what a query computes and is refused; the others
//! (join strategies, lookup retries and the like, which change how, not
//! what) are accepted with a warning that names them.

use std::collections::BTreeMap;
use std::ops::Range;

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::dialect::DIALECT;
use crate::error::{Location, Result, SqlError};

/// Checks the hints of a statement `text` that starts at `at` in its
/// script; returns the warnings for the hints it accepts.
pub fn check(text: &str, at: Location) -> Result<Vec<String>> {
    // A statement the tokenizer refuses gets its error from the parser.
    let Ok(tokens) = Tokenizer::new(&DIALECT, text).tokenize_with_location() else {
        return Ok(vec![]);
    };
    let mut warnings = vec![];
    for t in tokens {
        let Token::Whitespace(Whitespace::MultiLineComment(body)) = &t.token else {
            continue;
        };
        let Some(hint) = body.strip_prefix('+') else {
            continue;
        };
        let hint = hint.trim();
        let name: String = hint
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
            .to_ascii_uppercase();
        let location = located(at, &t);
        match name.as_str() {
            // Applied by the session (see `options_hints`).
            "OPTIONS" => {}
            "STATE_TTL" => {
                return Err(SqlError::NotSupported {
                    location,
                    message: format!(
                        "the hint /*+ {hint} */ is not supported yet; SET 'table.exec.state.ttl' \
                         sets the state TTL of the whole job"
                    ),
                });
            }
            _ => warnings.push(format!(
                "the hint /*+ {hint} */ at {location} is ignored: Eddy plans the query without it \
                 (the results are the same)"
            )),
        }
    }
    Ok(warnings)
}

/// A table's `OPTIONS` hint: `name /*+ OPTIONS('k' = 'v', ..) */`.
#[derive(Debug, PartialEq)]
pub struct OptionsHint {
    /// The table's name (its last part).
    pub table: String,
    /// The name and the hint, in the statement's text (bytes).
    pub span: Range<usize>,
    /// The options it sets.
    pub options: BTreeMap<String, String>,
    /// Whether the name needs no alias to stay the table's name: an alias
    /// follows, or the table is an `INSERT`'s target (which takes none).
    pub aliased: bool,
    /// Where the hint is.
    pub location: Location,
}

/// The `OPTIONS` hints of statement `text` (at `at` in its script).
pub fn options_hints(text: &str, at: Location) -> Result<Vec<OptionsHint>> {
    let Ok(tokens) = Tokenizer::new(&DIALECT, text).tokenize_with_location() else {
        return Ok(vec![]);
    };
    let solid = |t: &&TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
    let mut found = vec![];
    for (i, t) in tokens.iter().enumerate() {
        let Token::Whitespace(Whitespace::MultiLineComment(body)) = &t.token else {
            continue;
        };
        let Some(hint) = body.strip_prefix('+').map(str::trim) else {
            continue;
        };
        if !hint.to_ascii_uppercase().starts_with("OPTIONS") {
            continue;
        }
        let location = located(at, t);
        let error = |message: String| SqlError::Plan { location, message };
        // The table's (possibly qualified) name before the hint.
        let mut before = tokens[..i].iter().rev().filter(solid);
        let (table, first) = match before.next() {
            Some(
                w @ TokenWithSpan {
                    token: Token::Word(word),
                    ..
                },
            ) => {
                let mut first = w;
                let mut rest = before.clone();
                while let (
                    Some(TokenWithSpan {
                        token: Token::Period,
                        ..
                    }),
                    Some(q),
                ) = (rest.next(), rest.next())
                {
                    first = q;
                    before = rest.clone();
                }
                (word.value.clone(), first)
            }
            _ => {
                return Err(error(format!(
                    "the hint /*+ {hint} */ must follow a table's name"
                )));
            }
        };
        let options = hint_options(&hint["OPTIONS".len()..]).ok_or_else(|| {
            error(format!(
                "OPTIONS hint expects 'key' = 'value' pairs: /*+ {hint} */"
            ))
        })?;
        let target = matches!(before.next().map(|t| &t.token),
            Some(Token::Word(w)) if matches!(w.keyword, Keyword::INTO | Keyword::OVERWRITE | Keyword::TABLE));
        let aliased = target
            || match tokens[i + 1..].iter().find(solid).map(|t| &t.token) {
                Some(Token::Word(w)) => w.keyword == Keyword::NoKeyword || w.keyword == Keyword::AS,
                _ => false,
            };
        found.push(OptionsHint {
            table,
            span: offset(text, &first.span.start)..offset(text, &t.span.end),
            options,
            aliased,
            location,
        });
    }
    Ok(found)
}

/// `('k' = 'v', ..)`: the pairs, or `None` if it is not that.
fn hint_options(args: &str) -> Option<BTreeMap<String, String>> {
    let tokens = Tokenizer::new(&DIALECT, args).tokenize().ok()?;
    let mut t = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)));
    let mut options = BTreeMap::new();
    if t.next()? != Token::LParen {
        return None;
    }
    loop {
        let (Token::SingleQuotedString(k), Token::Eq, Token::SingleQuotedString(v)) =
            (t.next()?, t.next()?, t.next()?)
        else {
            return None;
        };
        options.insert(k, v);
        match t.next()? {
            Token::Comma => continue,
            Token::RParen => return t.next().is_none().then_some(options),
            _ => return None,
        }
    }
}

/// The byte offset of a (1-based line and character column) location.
fn offset(text: &str, at: &datafusion::sql::sqlparser::tokenizer::Location) -> usize {
    let mut line_start = 0;
    for _ in 1..at.line {
        match text[line_start..].find('\n') {
            Some(n) => line_start += n + 1,
            None => return text.len(),
        }
    }
    text[line_start..]
        .char_indices()
        .nth((at.column as usize).saturating_sub(1))
        .map_or(text.len(), |(i, _)| line_start + i)
}

/// Where token `t` of a statement at `at` is in its script.
fn located(at: Location, t: &TokenWithSpan) -> Location {
    Location {
        line: at.line + t.span.start.line.saturating_sub(1),
        column: if t.span.start.line <= 1 {
            at.column + t.span.start.column.saturating_sub(1)
        } else {
            t.span.start.column
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Location {
        Location { line: 3, column: 1 }
    }

    #[test]
    fn options_hints_name_their_table_span_and_pairs() {
        let text = "SELECT * FROM db.t /*+ OPTIONS('a' = 'b', 'c'='d') */ JOIN u\n  /*+ OPTIONS('x'='y') */ AS v ON TRUE";
        let hints = options_hints(text, at()).expect("hints");
        assert_eq!(hints.len(), 2);
        assert_eq!(hints[0].table, "t");
        assert_eq!(
            &text[hints[0].span.clone()],
            "db.t /*+ OPTIONS('a' = 'b', 'c'='d') */"
        );
        assert_eq!(hints[0].options.get("c").map(String::as_str), Some("d"));
        assert!(!hints[0].aliased);
        assert_eq!(&text[hints[1].span.clone()], "u\n  /*+ OPTIONS('x'='y') */");
        assert!(hints[1].aliased);
        assert_eq!(hints[1].location.line, 4);
        let bad = options_hints("SELECT * FROM t /*+ OPTIONS('a') */", at());
        assert!(
            bad.expect_err("refused")
                .to_string()
                .contains("'key' = 'value'")
        );
    }

    #[test]
    fn state_ttl_is_refused_others_warned() {
        assert!(
            check("SELECT * FROM t /*+ OPTIONS('a' = 'b') */", at())
                .expect("applied elsewhere")
                .is_empty()
        );
        assert!(check("SELECT /*+ STATE_TTL('t' = '1d') */ * FROM t", at()).is_err());
        let warned = check(
            "SELECT /*+ BROADCAST(t) */ * FROM t JOIN u ON t.k = u.k",
            at(),
        )
        .expect("accepted");
        assert_eq!(warned.len(), 1);
        assert!(warned[0].contains("BROADCAST(t)"), "{}", warned[0]);
        assert_eq!(
            check("SELECT 1 /* a comment */", at()).expect("none"),
            Vec::<String>::new()
        );
    }
}

//! Flink's SQL hints (`/*+ NAME(..) */`), which sqlparser reads as
//! comments. Eddy applies none yet; rather than drop them silently, a hint
//! that changes what a query computes (`OPTIONS`: the table's options;
//! `STATE_TTL`: when state is forgotten) is refused, and the others (join
//! strategies, lookup retries and the like, which change how, not what)
//! are accepted with a warning that names them.

use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

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
        let location = Location {
            line: at.line + t.span.start.line.saturating_sub(1),
            column: if t.span.start.line <= 1 {
                at.column + t.span.start.column.saturating_sub(1)
            } else {
                t.span.start.column
            },
        };
        match name.as_str() {
            "OPTIONS" => {
                return Err(SqlError::NotSupported {
                    location,
                    message: format!(
                        "the hint /*+ {hint} */ is not supported yet: Eddy would read the table \
                         with its declared options; put these options in the table's WITH clause \
                         (or a CREATE TABLE .. LIKE copy of it)"
                    ),
                });
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Location {
        Location { line: 3, column: 1 }
    }

    #[test]
    fn options_and_state_ttl_are_refused_others_warned() {
        let err = check("SELECT * FROM t /*+ OPTIONS('a' = 'b') */", at()).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("OPTIONS('a' = 'b')") && text.contains("line 3"),
            "{text}"
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

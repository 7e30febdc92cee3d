//! A cursor over sqlparser tokens (whitespace dropped) for the parts of
//! Flink's grammar that sqlparser does not know; sub-ranges are handed back
//! to sqlparser's own parser for expressions and queries.

use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::{Location, Result, SqlError};

pub use crate::dialect::DIALECT;
pub use flink_syntax::{IS_JSON_MARK, JSON_ON_MARK, SYMMETRIC};

mod flink_syntax;

/// Tokens of one statement and a position in them.
pub struct Cursor {
    tokens: Vec<TokenWithSpan>,
    pos: usize,
    end: Location,
}

fn loc(t: &TokenWithSpan) -> Location {
    Location {
        line: t.span.start.line,
        column: t.span.start.column,
    }
}

impl Cursor {
    /// Tokenizes positioned statement text.
    pub fn new(text: &str) -> Result<Self> {
        let tokens = Tokenizer::new(&DIALECT, text)
            .tokenize_with_location()
            .map_err(|e| SqlError::Parse {
                location: Location {
                    line: e.location.line,
                    column: e.location.column,
                },
                message: e.message,
            })?;
        let end = tokens.last().map(|t| Location {
            line: t.span.end.line,
            column: t.span.end.column,
        });
        let tokens: Vec<TokenWithSpan> = tokens
            .into_iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        let tokens = crate::window_tvf::rewrite(tokens)?;
        let tokens = crate::system_time::rewrite(tokens)?;
        let tokens = flink_syntax::rewrite(tokens);
        Ok(Self {
            tokens,
            pos: 0,
            end: end.unwrap_or_default(),
        })
    }

    /// The token at the cursor, or EOF.
    pub fn peek(&self) -> &Token {
        self.peek_nth(0)
    }

    /// The token `n` ahead.
    pub fn peek_nth(&self, n: usize) -> &Token {
        self.tokens
            .get(self.pos + n)
            .map_or(&Token::EOF, |t| &t.token)
    }

    /// Where the token at the cursor starts.
    pub fn location(&self) -> Location {
        self.tokens.get(self.pos).map_or(self.end, loc)
    }

    /// Moves past the current token and returns it.
    pub fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    /// Whether the next token is the keyword `kw` (case-insensitive, unquoted).
    pub fn is_keyword(&self, kw: &str) -> bool {
        self.is_keyword_at(0, kw)
    }

    /// Whether token `n` ahead is the keyword `kw`.
    pub fn is_keyword_at(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_nth(n), Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    }

    /// Consumes the keywords `kws` if they come next, in order.
    pub fn eat_keywords(&mut self, kws: &[&str]) -> bool {
        if kws
            .iter()
            .enumerate()
            .all(|(i, k)| self.is_keyword_at(i, k))
        {
            self.pos += kws.len();
            true
        } else {
            false
        }
    }

    /// Consumes `token` if it comes next.
    pub fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == token {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// An error at the cursor: `Encountered "x" ... expected ...`.
    pub fn error<T>(&self, expected: &str) -> Result<T> {
        let found = match self.peek() {
            Token::EOF => "<EOF>".to_string(),
            t => format!("\"{t}\""),
        };
        Err(SqlError::Parse {
            location: self.location(),
            message: format!("Encountered {found}; expected {expected}"),
        })
    }

    /// Consumes `token` or fails.
    pub fn expect(&mut self, token: &Token, what: &str) -> Result<()> {
        if self.eat(token) {
            Ok(())
        } else {
            self.error(what)
        }
    }

    /// Consumes the keywords or fails.
    pub fn expect_keywords(&mut self, kws: &[&str]) -> Result<()> {
        if self.eat_keywords(kws) {
            Ok(())
        } else {
            self.error(&kws.join(" "))
        }
    }

    /// An identifier (plain, backticked or double-quoted).
    pub fn identifier(&mut self) -> Result<String> {
        match self.peek().clone() {
            Token::Word(w) => {
                self.pos += 1;
                Ok(w.value)
            }
            _ => self.error("an identifier"),
        }
    }

    /// `(a, b, c)`: a parenthesized list of identifiers.
    pub fn identifier_list(&mut self) -> Result<Vec<String>> {
        self.expect(&Token::LParen, "'('")?;
        let mut names = vec![self.identifier()?];
        while self.eat(&Token::Comma) {
            names.push(self.identifier()?);
        }
        self.expect(&Token::RParen, "',' or ')'")?;
        Ok(names)
    }

    /// A possibly qualified name `a.b.c`; returns its parts.
    pub fn object_name(&mut self) -> Result<Vec<String>> {
        let mut parts = vec![self.identifier()?];
        while self.eat(&Token::Period) {
            parts.push(self.identifier()?);
        }
        Ok(parts)
    }

    /// A single-quoted string literal.
    pub fn string(&mut self) -> Result<String> {
        match self.peek().clone() {
            Token::SingleQuotedString(s) => {
                self.pos += 1;
                Ok(s)
            }
            _ => self.error("a string literal"),
        }
    }

    /// An unsigned integer literal.
    pub fn number(&mut self) -> Result<u64> {
        match self.peek().clone() {
            Token::Number(n, _) => match n.parse() {
                Ok(v) => {
                    self.pos += 1;
                    Ok(v)
                }
                Err(_) => self.error("an integer"),
            },
            _ => self.error("an integer"),
        }
    }

    /// Where the statement ends.
    pub fn end_location(&self) -> Location {
        self.end
    }

    /// Whether every token was consumed.
    pub fn at_end(&self) -> bool {
        matches!(self.peek(), Token::EOF)
    }

    /// Fails unless every token was consumed.
    pub fn expect_end(&self) -> Result<()> {
        if self.at_end() {
            Ok(())
        } else {
            self.error("end of statement")
        }
    }

    /// A sqlparser parser over the rest of the tokens; the cursor moves to
    /// the end.
    pub fn rest_parser(&mut self) -> Parser<'static> {
        let rest = self.tokens[self.pos..].to_vec();
        self.pos = self.tokens.len();
        Parser::new(&DIALECT).with_tokens_with_locations(rest)
    }

    /// A sqlparser parser over the tokens up to the next `;`; the cursor
    /// moves to that `;`.
    pub fn until_semicolon_parser(&mut self) -> Parser<'static> {
        let start = self.pos;
        while self.pos < self.tokens.len() && self.tokens[self.pos].token != Token::SemiColon {
            self.pos += 1;
        }
        Parser::new(&DIALECT).with_tokens_with_locations(self.tokens[start..self.pos].to_vec())
    }

    /// A sqlparser parser over the tokens up to (not including) the next
    /// top-level `,` or `)` or one of `stops` (keywords); the cursor moves
    /// past them.
    pub fn item_parser(&mut self, stops: &[&str]) -> Parser<'static> {
        let start = self.pos;
        let mut depth = 0i32;
        while self.pos < self.tokens.len() {
            match &self.tokens[self.pos].token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket if depth == 0 => break,
                Token::RParen | Token::RBracket => depth -= 1,
                Token::Comma if depth == 0 => break,
                _ if depth == 0 && stops.iter().any(|s| self.is_keyword(s)) => break,
                _ => {}
            }
            self.pos += 1;
        }
        Parser::new(&DIALECT).with_tokens_with_locations(self.tokens[start..self.pos].to_vec())
    }
}

/// A sqlparser error as a located parse error.
pub fn parse_error(
    e: datafusion::sql::sqlparser::parser::ParserError,
    fallback: Location,
    end: Location,
) -> SqlError {
    let message = e.to_string();
    let fallback = if message.contains("found: EOF") {
        end
    } else {
        fallback
    };
    // sqlparser appends " at Line: X, Column: Y"
    let location = message
        .rfind(" at Line: ")
        .and_then(|i| {
            let tail = &message[i + " at Line: ".len()..];
            let (line, col) = tail.split_once(", Column: ")?;
            Some(Location {
                line: line.trim().parse().ok()?,
                column: col.trim().parse().ok()?,
            })
        })
        .unwrap_or(fallback);
    let message = match message.rfind(" at Line: ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(&message)
        .to_string();
    SqlError::Parse { location, message }
}

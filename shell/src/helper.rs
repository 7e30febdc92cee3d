//! The line editor's help: a statement is complete at its `;` (outside
//! quotes and comments), Tab completes keywords, tables, views, columns,
//! functions and `SET` keys, and keywords, strings, numbers and comments
//! are colored as they are typed.

use std::borrow::Cow;

use eddy::Vocabulary;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

/// Keywords offered by completion and colored.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ALL",
    "AND",
    "AS",
    "ASC",
    "BETWEEN",
    "BIGINT",
    "BOOLEAN",
    "BY",
    "CASE",
    "CAST",
    "CREATE",
    "CUMULATE",
    "DATE",
    "DECIMAL",
    "DESC",
    "DESCRIBE",
    "DESCRIPTOR",
    "DISTINCT",
    "DOUBLE",
    "DROP",
    "ELSE",
    "END",
    "EXECUTE",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FOR",
    "FROM",
    "FULL",
    "FUNCTIONS",
    "GROUP",
    "HAVING",
    "HELP",
    "HOP",
    "IF",
    "IN",
    "INNER",
    "INSERT",
    "INT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOB",
    "JOBS",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "NOT",
    "NULL",
    "OF",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRECEDING",
    "PRIMARY",
    "PROCTIME",
    "QUIT",
    "RESET",
    "RIGHT",
    "ROW_NUMBER",
    "ROWS",
    "SECOND",
    "MINUTE",
    "HOUR",
    "DAY",
    "SELECT",
    "SESSION",
    "SET",
    "SHOW",
    "STATEMENT",
    "STOP",
    "STRING",
    "SYSTEM_TIME",
    "TABLE",
    "TABLES",
    "THEN",
    "TIMESTAMP",
    "TIMESTAMP_LTZ",
    "TRUE",
    "TUMBLE",
    "UNION",
    "VALUES",
    "VIEW",
    "VIEWS",
    "WATERMARK",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
];

/// The helper the editor asks.
#[derive(Default)]
pub struct SqlHelper {
    /// Names from the session, refreshed after each statement.
    pub vocabulary: Vocabulary,
}

impl SqlHelper {
    /// The candidates for the word `prefix`; `in_quotes`: the word is
    /// inside a string (a `SET` key).
    pub fn candidates(&self, prefix: &str, in_quotes: bool) -> Vec<String> {
        let fits = |w: &str| w.to_lowercase().starts_with(&prefix.to_lowercase()) && w != prefix;
        if in_quotes {
            return self
                .vocabulary
                .keys
                .iter()
                .filter(|k| fits(k))
                .cloned()
                .collect();
        }
        if prefix.is_empty() {
            return vec![];
        }
        let lower = prefix.chars().next().is_some_and(char::is_lowercase);
        let mut out: Vec<String> = KEYWORDS
            .iter()
            .filter(|k| fits(k))
            .map(|k| {
                if lower {
                    k.to_lowercase()
                } else {
                    k.to_string()
                }
            })
            .collect();
        for list in [
            &self.vocabulary.relations,
            &self.vocabulary.columns,
            &self.vocabulary.functions,
        ] {
            out.extend(list.iter().filter(|w| fits(w)).cloned());
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Where the word under the cursor starts, and whether it is in quotes.
fn word_start(line: &str, pos: usize) -> (usize, bool) {
    let before = &line[..pos];
    let quotes = before.chars().filter(|c| *c == '\'').count();
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || (quotes % 2 == 1 && *c == '.')))
        .map_or(0, |(i, c)| i + c.len_utf8());
    (start, quotes % 2 == 1)
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, in_quotes) = word_start(line, pos);
        let candidates = self
            .candidates(&line[start..pos], in_quotes)
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, candidates))
    }
}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Validator for SqlHelper {
    /// A statement is sent at its `;`; before, Enter starts a new line.
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        let command = input.trim().trim_end_matches(';').trim();
        let is_shell_word = ["quit", "exit", "help"]
            .iter()
            .any(|w| command.eq_ignore_ascii_case(w));
        Ok(
            if input.trim().is_empty() || is_shell_word || eddy::is_complete(input) {
                ValidationResult::Valid(None)
            } else {
                ValidationResult::Incomplete
            },
        )
    }
}

const KEYWORD_COLOR: &str = "\x1b[1;34m";
const STRING_COLOR: &str = "\x1b[32m";
const NUMBER_COLOR: &str = "\x1b[33m";
const COMMENT_COLOR: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// `line` with ANSI colors: keywords, strings, numbers, comments.
pub fn colored(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let color = if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            Some(COMMENT_COLOR)
        } else if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i = (i + 1).min(chars.len());
            Some(STRING_COLOR)
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            Some(NUMBER_COLOR)
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_uppercase();
            KEYWORDS.contains(&word.as_str()).then_some(KEYWORD_COLOR)
        } else {
            i += 1;
            None
        };
        let text: String = chars[start..i].iter().collect();
        match color {
            Some(color) => {
                out.push_str(color);
                out.push_str(&text);
                out.push_str(RESET);
            }
            None => out.push_str(&text),
        }
    }
    out
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned(colored(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        true
    }
}

impl Helper for SqlHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> SqlHelper {
        SqlHelper {
            vocabulary: Vocabulary {
                relations: vec!["orders".into(), "order_lines".into()],
                columns: vec!["order_id".into(), "price".into()],
                functions: vec!["concat".into()],
                keys: vec!["parallelism.default".into(), "pipeline.name".into()],
            },
        }
    }

    #[test]
    fn completion_offers_keywords_in_the_case_typed_and_names() {
        let h = helper();
        assert_eq!(h.candidates("SEL", false), ["SELECT"]);
        assert_eq!(h.candidates("sel", false), ["select"]);
        assert_eq!(
            h.candidates("ord", false),
            ["order", "order_id", "order_lines", "orders"]
        );
        assert!(h.candidates("", false).is_empty());
    }

    #[test]
    fn inside_quotes_completion_offers_set_keys() {
        let h = helper();
        let line = "SET 'para";
        let (start, in_quotes) = word_start(line, line.len());
        assert!(in_quotes);
        assert_eq!(&line[start..], "para");
        assert_eq!(
            h.candidates(&line[start..], in_quotes),
            ["parallelism.default"]
        );
    }

    #[test]
    fn keywords_strings_and_numbers_are_colored() {
        let c = colored("select 'a', 12 -- x");
        assert!(c.starts_with("\x1b[1;34mselect\x1b[0m"), "{c:?}");
        assert!(c.contains("\x1b[32m'a'\x1b[0m"));
        assert!(c.contains("\x1b[33m12\x1b[0m"));
        assert!(c.ends_with("\x1b[90m-- x\x1b[0m"));
    }
}

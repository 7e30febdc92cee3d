//! Splits a script into statements at `;` outside quotes and comments,
//! keeping where each starts so that errors point into the script.

use crate::error::Location;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// The text, without the closing `;`.
    pub text: String,
    /// Where the text starts in the script.
    pub start: Location,
}

impl ScriptStatement {
    /// The text padded with the lines and columns that precede it in the
    /// script, so that positions a parser reports are positions in the script.
    pub fn positioned_text(&self) -> String {
        let mut s = "\n".repeat(self.start.line.saturating_sub(1) as usize);
        s.push_str(&" ".repeat(self.start.column.saturating_sub(1) as usize));
        s.push_str(&self.text);
        s
    }
}

/// Splits `script`; statements holding only whitespace and comments are dropped.
/// A trailing statement without `;` is kept.
pub fn split_statements(script: &str) -> Vec<ScriptStatement> {
    let mut out = vec![];
    let chars: Vec<char> = script.chars().collect();
    let (mut line, mut col) = (1u64, 1u64);
    let mut start: Option<(usize, Location)> = None;
    let mut has_code = false;
    let mut i = 0;
    let mut begin_depth = 0usize;
    let mut word = String::new();
    while i < chars.len() {
        let c = chars[i];
        let here = Location { line, column: col };
        let advance = |i: &mut usize, line: &mut u64, col: &mut u64| {
            if chars[*i] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        };
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, &mut line, &mut col);
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            advance(&mut i, &mut line, &mut col);
            advance(&mut i, &mut line, &mut col);
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                advance(&mut i, &mut line, &mut col);
            }
            if i < chars.len() {
                advance(&mut i, &mut line, &mut col);
                advance(&mut i, &mut line, &mut col);
            }
            continue;
        }
        if !c.is_whitespace() && start.is_none() {
            start = Some((i, here));
        }
        if !c.is_whitespace() {
            has_code = true;
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c.to_ascii_uppercase());
        } else if !word.is_empty() {
            // EXECUTE STATEMENT SET BEGIN ... END; holds inner `;`s.
            match word.as_str() {
                "BEGIN" => begin_depth += 1,
                "END" => begin_depth = begin_depth.saturating_sub(1),
                _ => {}
            }
            word.clear();
        }
        if c == '\'' || c == '"' || c == '`' {
            advance(&mut i, &mut line, &mut col);
            while i < chars.len() {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        advance(&mut i, &mut line, &mut col);
                    } else {
                        break;
                    }
                }
                advance(&mut i, &mut line, &mut col);
            }
            if i < chars.len() {
                advance(&mut i, &mut line, &mut col);
            }
            continue;
        }
        if c == ';' && begin_depth == 0 {
            if let Some((s, loc)) = start.take()
                && has_code
            {
                out.push(ScriptStatement {
                    text: chars[s..i]
                        .iter()
                        .collect::<String>()
                        .trim_end()
                        .to_string(),
                    start: loc,
                });
            }
            has_code = false;
        }
        advance(&mut i, &mut line, &mut col);
    }
    if let Some((s, loc)) = start {
        let text: String = chars[s..].iter().collect::<String>().trim_end().to_string();
        if has_code && !text.is_empty() {
            out.push(ScriptStatement { text, start: loc });
        }
    }
    out
}

/// Whether `script` ends with a complete statement: every statement with
/// code is closed by a `;` outside quotes and comments (the shell reads
/// more lines until it is).
pub fn is_complete(script: &str) -> bool {
    let mut rest = script;
    // What follows the last top-level `;` must be only whitespace and
    // comments: split_statements drops exactly those.
    loop {
        let statements = split_statements(rest);
        let Some(last) = statements.last() else {
            return true;
        };
        // The last statement was closed if a `;` follows its text.
        let tail = &rest[offset_of(rest, last.start)..];
        match tail.get(last.text.len()..) {
            Some(after) => {
                let after = after.trim_start();
                if !after.starts_with(';') {
                    return false;
                }
                rest = &after[1..];
                if split_statements(rest).is_empty() {
                    return true;
                }
            }
            None => return false,
        }
    }
}

/// The byte offset of `at` in `text`.
fn offset_of(text: &str, at: Location) -> usize {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == at.line {
            return offset
                + line
                    .char_indices()
                    .nth(at.column.saturating_sub(1) as usize)
                    .map_or(line.len(), |(b, _)| b);
        }
        offset += line.len();
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let s = split_statements("SET 'a' = ';';\n-- c;\nSELECT 'x;y' /* ; */ FROM t;\n  SELECT 1");
        let texts: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec!["SET 'a' = ';'", "SELECT 'x;y' /* ; */ FROM t", "SELECT 1"]
        );
        assert_eq!(s[1].start, Location { line: 3, column: 1 });
        assert_eq!(s[2].start, Location { line: 4, column: 3 });
    }

    #[test]
    fn statement_set_keeps_inner_semicolons() {
        let s = split_statements(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END;",
        );
        assert_eq!(s.len(), 1);
        assert!(s[0].text.ends_with("END"));
    }

    #[test]
    fn a_script_is_complete_once_its_last_statement_has_its_semicolon() {
        assert!(is_complete(""));
        assert!(is_complete("  -- nothing yet\n"));
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1; -- done\n"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(!is_complete("SELECT 1; SELECT\n 2"));
        assert!(is_complete("SELECT 1; SELECT\n 2;"));
        assert!(!is_complete(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1;"
        ));
        assert!(is_complete("SELECT 'é'; SELECT 'ü';"));
    }

    #[test]
    fn positioned_text_reproduces_script_positions() {
        let s = &split_statements("\n\n   SELECT 1;")[0];
        assert_eq!(s.positioned_text(), "\n\n   SELECT 1");
    }
}

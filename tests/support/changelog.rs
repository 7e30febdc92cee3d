//! Printed changelogs (`+I[..]` lines, as Flink's print connector and
//! `eddy -f` write them) folded into the final multiset of rows, and the
//! difference of two such results: how tests compare Eddy with Flink.

use std::collections::BTreeMap;

/// Splits a printed line into its print prefix (identifier, without the
/// subtask number), kind and row text.
pub fn parse_line(line: &str) -> Option<(String, String, String)> {
    let start = ["+I[", "-U[", "+U[", "-D["]
        .iter()
        .filter_map(|k| line.find(k))
        .min()?;
    let prefix = line[..start].trim_end().trim_end_matches('>');
    // "first:2" -> "first"; "2" -> ""
    let prefix = match prefix.rsplit_once(':') {
        Some((id, n)) if n.chars().all(|c| c.is_ascii_digit()) => id.to_string(),
        _ if prefix.chars().all(|c| c.is_ascii_digit()) => String::new(),
        _ => prefix.to_string(),
    };
    Some((
        prefix,
        line[start..start + 2].to_string(),
        line[start + 2..].to_string(),
    ))
}

/// What a script printed: the changelog folded into the final multiset of
/// rows, and the other lines (SHOW / DESCRIBE tables) in order.
#[derive(Debug, PartialEq)]
pub struct Output {
    /// Each final row (with its print prefix) and how often it is there.
    pub rows: BTreeMap<String, i64>,
    /// Lines that are not rows (SHOW / DESCRIBE tables), in order.
    pub other: Vec<String>,
}

/// Folds a changelog into the final multiset; fails on a retraction of a
/// row that is not there.
pub fn fold(text: &str) -> Result<Output, String> {
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    let mut other = vec![];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((prefix, kind, row)) = parse_line(line) else {
            other.push(line.to_string());
            continue;
        };
        let key = if prefix.is_empty() {
            row
        } else {
            format!("{prefix}> {row}")
        };
        match kind.as_str() {
            "+I" | "+U" => *rows.entry(key).or_default() += 1,
            _ => {
                let n = rows.entry(key.clone()).or_default();
                if *n == 0 {
                    return Err(format!("retraction of a row never emitted: {line}"));
                }
                *n -= 1;
            }
        }
    }
    rows.retain(|_, n| *n > 0);
    Ok(Output { rows, other })
}

pub fn diff(expected: &Output, actual: &Output) -> String {
    let mut s = String::new();
    if expected.other != actual.other {
        s.push_str(&format!(
            "  other lines differ:\n  expected:\n{}\n  got:\n{}\n",
            expected.other.join("\n"),
            actual.other.join("\n")
        ));
    }
    let (expected, actual) = (&expected.rows, &actual.rows);
    for (k, n) in expected {
        let a = actual.get(k).copied().unwrap_or(0);
        if a != *n {
            s.push_str(&format!("  expected {n}x, got {a}x: {k}\n"));
        }
    }
    for (k, a) in actual {
        if !expected.contains_key(k) {
            s.push_str(&format!("  unexpected {a}x: {k}\n"));
        }
    }
    s
}

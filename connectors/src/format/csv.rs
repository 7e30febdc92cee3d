//! The `csv` format: Flink's options, splitting a record into fields with
//! RFC 4180 quoting, and appending fields to typed columns.

use std::borrow::Cow;

use datafusion::arrow::datatypes::SchemaRef;
use eddy_engine::Result;
use eddy_engine::connector::TableOptions;

use super::RowError;
use super::column::ColumnBuilder;

/// Option keys of the csv format.
pub const OPTION_KEYS: &[&str] = &[
    "format",
    "csv.field-delimiter",
    "csv.quote-character",
    "csv.disable-quote-character",
    "csv.allow-comments",
    "csv.ignore-parse-errors",
    "csv.array-element-delimiter",
    "csv.escape-character",
    "csv.null-literal",
    "csv.write-bigdecimal-in-scientific-notation",
];

/// Options of the csv format.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field separator (`csv.field-delimiter`, default `,`).
    pub delimiter: char,
    /// Quote character, `None` when quoting is disabled.
    pub quote: Option<char>,
    /// Lines starting with `#` are skipped.
    pub allow_comments: bool,
    /// Skip bad rows instead of failing.
    pub ignore_parse_errors: bool,
    /// Escape character inside fields.
    pub escape: Option<char>,
    /// A field equal to this is NULL.
    pub null_literal: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: ',',
            quote: Some('"'),
            allow_comments: false,
            ignore_parse_errors: false,
            escape: None,
            null_literal: None,
        }
    }
}

impl CsvOptions {
    /// Consumes the `csv.*` options.
    pub fn from_options(opts: &mut TableOptions) -> Result<Self> {
        let mut o = CsvOptions::default();
        if let Some(d) = opts.take_char("csv.field-delimiter")? {
            o.delimiter = d;
        }
        if let Some(q) = opts.take_char("csv.quote-character")? {
            o.quote = Some(q);
        }
        if opts
            .take_bool("csv.disable-quote-character")?
            .unwrap_or(false)
        {
            o.quote = None;
        }
        o.allow_comments = opts.take_bool("csv.allow-comments")?.unwrap_or(false);
        o.ignore_parse_errors = opts.take_bool("csv.ignore-parse-errors")?.unwrap_or(false);
        o.escape = opts.take_char("csv.escape-character")?;
        o.null_literal = opts.take("csv.null-literal");
        let _ = opts.take("csv.array-element-delimiter");
        let _ = opts.take_bool("csv.write-bigdecimal-in-scientific-notation")?;
        Ok(o)
    }
}

/// One field of a record: where it is and, when it had quotes or escapes,
/// its unquoted text.
#[derive(Debug, Default)]
pub struct Field {
    /// Byte offset of the field's first character in the record.
    pub start: usize,
    /// Byte offset just past the field (before the delimiter).
    pub end: usize,
    /// Whether `text` holds the value (quoted or escaped field); otherwise
    /// the value is `record[start..end]`.
    pub unquoted: bool,
    /// The text with quotes and escapes removed, when `unquoted`.
    pub text: String,
}

impl Field {
    /// The field's value within `record`.
    pub fn value<'a>(&'a self, record: &'a str) -> &'a str {
        if self.unquoted {
            &self.text
        } else {
            record.get(self.start..self.end).unwrap_or_default()
        }
    }
}

/// The 1-based character column of byte offset `at` in `record`.
pub fn char_column(record: &str, at: usize) -> usize {
    record.get(..at).map_or(at, |s| s.chars().count()) + 1
}

/// Splits a record into fields, reusing `fields`' allocations; returns how
/// many fields it has.
pub fn split_fields(
    record: &str,
    o: &CsvOptions,
    fields: &mut Vec<Field>,
) -> Result<usize, RowError> {
    // Fast path for one-byte delimiters, quotes and escapes (the usual
    // case): one pass over the bytes; a quote or escape sends the record to
    // the general path.
    let one_byte = |c: char| c.is_ascii().then_some(c as u8);
    let (Some(delim), Some(quote), Some(escape)) = (
        one_byte(o.delimiter),
        o.quote.map_or(Some(None), |q| one_byte(q).map(Some)),
        o.escape.map_or(Some(None), |e| one_byte(e).map(Some)),
    ) else {
        return split_quoted(record, o, fields);
    };
    if quote.is_some_and(|q| memchr::memchr(q, record.as_bytes()).is_some())
        || escape.is_some_and(|e| memchr::memchr(e, record.as_bytes()).is_some())
    {
        return split_quoted(record, o, fields);
    }
    let mut n = 0;
    let mut start = 0;
    let ends = memchr::memchr_iter(delim, record.as_bytes()).chain(std::iter::once(record.len()));
    for end in ends {
        if n == fields.len() {
            fields.push(Field::default());
        }
        let f = &mut fields[n];
        // Delimiters are ASCII, so `start..end` are char boundaries.
        f.start = start;
        f.end = end;
        f.unquoted = false;
        start = end + 1;
        n += 1;
    }
    Ok(n)
}

fn split_quoted(record: &str, o: &CsvOptions, fields: &mut Vec<Field>) -> Result<usize, RowError> {
    let mut n = 0;
    let mut chars = record.char_indices().peekable();
    let mut start = 0;
    loop {
        if n == fields.len() {
            fields.push(Field::default());
        }
        let field = &mut fields[n];
        field.start = start;
        field.unquoted = true;
        field.text.clear();
        n += 1;
        let quoted =
            o.quote.is_some() && chars.peek().map(|(_, c)| Some(*c) == o.quote) == Some(true);
        if quoted {
            chars.next();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                if Some(c) == o.escape {
                    if let Some((_, e)) = chars.next() {
                        field.text.push(e);
                    }
                } else if Some(c) == o.quote {
                    if chars.peek().map(|(_, c)| Some(*c) == o.quote) == Some(true) {
                        chars.next();
                        field.text.push(c);
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    field.text.push(c);
                }
            }
            if !closed {
                return Err(RowError {
                    column: char_column(record, field.start),
                    field: None,
                    message: "unterminated quoted field".into(),
                });
            }
        }
        loop {
            match chars.next() {
                None => return Ok(n),
                Some((i, c)) => {
                    if c == o.delimiter {
                        start = i + c.len_utf8();
                        break;
                    }
                    if Some(c) == o.escape {
                        if let Some((_, e)) = chars.next() {
                            field.text.push(e);
                        }
                        continue;
                    }
                    field.text.push(c);
                }
            }
        }
    }
}

/// Decodes a CSV record into the columns; `Ok(false)` for a skipped
/// comment line. An empty line is a record of one empty field, as in
/// Flink: it fails a table of more columns (or of a column that cannot be
/// empty) like any short row.
pub fn decode_row(
    record: &str,
    o: &CsvOptions,
    schema: &SchemaRef,
    columns: &mut [ColumnBuilder],
    skipped: &[bool],
    fields: &mut Vec<Field>,
) -> Result<bool, RowError> {
    let record = record.strip_suffix('\r').unwrap_or(record);
    if o.allow_comments && record.starts_with('#') {
        return Ok(false);
    }
    let n = split_fields(record, o, fields)?;
    if n < columns.len() && !o.ignore_parse_errors {
        return Err(RowError {
            column: record.chars().count() + 1,
            field: None,
            message: format!(
                "Row length mismatch. {} fields expected but was {n}.",
                columns.len()
            ),
        });
    }
    if n > columns.len() {
        return Err(RowError {
            column: char_column(record, fields[columns.len()].start),
            field: None,
            message: format!("too many fields: expected {}, found {n}", columns.len()),
        });
    }
    for (i, col) in columns.iter_mut().enumerate() {
        if skipped[i] {
            continue;
        }
        let Some(f) = fields[..n].get(i) else {
            col.append_null();
            continue;
        };
        let text = f.value(record);
        if o.null_literal.as_deref() == Some(text) {
            col.append_null();
            continue;
        }
        if let Err(message) = col.append_str(text) {
            if !o.ignore_parse_errors {
                return Err(RowError {
                    column: char_column(record, f.start),
                    field: Some(schema.field(i).name().clone()),
                    message,
                });
            }
            // Flink sets a field it cannot parse to NULL and keeps the row.
            col.append_null();
        }
    }
    Ok(true)
}

/// Quotes a text field for writing as Jackson's CSV writer (used by Flink)
/// does: when it holds a character at or below the delimiter and the quote
/// character (spaces, punctuation such as `!`, `#`, `(`), so
/// `2024-01-01 10:00:00` is quoted and `alice` is not.
pub fn quote_field<'a>(text: &'a str, o: &CsvOptions) -> Cow<'a, str> {
    let Some(q) = o.quote else {
        return Cow::Borrowed(text);
    };
    let highest_special = o.delimiter.max(q);
    if text.chars().any(|c| c <= highest_special) {
        let doubled = text.replace(q, &format!("{q}{q}"));
        Cow::Owned(format!("{q}{doubled}{q}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<(usize, String)> {
        let mut f = vec![];
        let n = split_fields(s, &CsvOptions::default(), &mut f).expect("split");
        f.truncate(n);
        f.into_iter()
            .map(|f| (char_column(s, f.start), f.value(s).to_string()))
            .collect()
    }

    #[test]
    fn quoted_fields_with_delimiters_and_doubled_quotes() {
        assert_eq!(
            split(r#"4,"q,""x""",-0.0"#),
            vec![(1, "4".into()), (3, r#"q,"x""#.into()), (13, "-0.0".into())]
        );
        assert_eq!(
            split("a,,"),
            vec![(1, "a".into()), (3, "".into()), (4, "".into())]
        );
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let mut f = vec![];
        assert!(split_fields("1,\"abc", &CsvOptions::default(), &mut f).is_err());
    }
}

//! Row formats shared by connectors: `csv`, `json`, `raw` and the changelog
//! format `debezium-json`, read into Arrow batches and written from them,
//! with Flink's options.

pub mod column;
pub mod csv;
pub mod debezium;
pub mod encode;
pub mod json;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use eddy_engine::connector::TableOptions;
use eddy_engine::{ChangeBatch, EngineError, Result, RowKind};

use self::column::ColumnBuilder;
pub use self::csv::CsvOptions;
pub use self::debezium::DebeziumOptions;
pub use self::json::{JsonOptions, TimestampStandard};

/// A configured format.
#[derive(Debug, Clone)]
pub enum Format {
    /// Comma-separated values.
    Csv(CsvOptions),
    /// One JSON object per line.
    Json(JsonOptions),
    /// Each line is the single (string) column.
    Raw,
    /// Debezium change events (a changelog: inserts, updates, deletes).
    DebeziumJson(DebeziumOptions),
}

/// The names of the supported formats.
pub const FORMATS: &[&str] = &["csv", "debezium-json", "json", "raw"];

impl Format {
    /// Consumes `format` and the options of that format.
    pub fn from_options(opts: &mut TableOptions) -> Result<Format> {
        let name = opts.require("format")?;
        match name.as_str() {
            "csv" => Ok(Format::Csv(CsvOptions::from_options(opts)?)),
            "json" => Ok(Format::Json(JsonOptions::from_options(opts)?)),
            "raw" => {
                let _ = opts.take("raw.charset");
                let _ = opts.take("raw.endianness");
                Ok(Format::Raw)
            }
            "debezium-json" => Ok(Format::DebeziumJson(DebeziumOptions::from_options(opts)?)),
            other => Err(EngineError::Plan(format!(
                "Could not find any format factory for identifier '{other}'.\n\nAvailable format identifiers are:\n\n{}",
                FORMATS.join("\n")
            ))),
        }
    }

    /// Every option key of this format, for the list of supported options.
    pub fn option_keys(&self) -> &'static [&'static str] {
        match self {
            Format::Csv(_) => csv::OPTION_KEYS,
            Format::Json(_) => json::OPTION_KEYS,
            Format::Raw => &["format", "raw.charset", "raw.endianness"],
            Format::DebeziumJson(_) => debezium::OPTION_KEYS,
        }
    }

    /// Whether bad rows are skipped and counted instead of failing the job.
    pub fn ignore_parse_errors(&self) -> bool {
        match self {
            Format::Csv(o) => o.ignore_parse_errors,
            Format::Json(o) => o.ignore_parse_errors,
            Format::DebeziumJson(o) => o.json.ignore_parse_errors,
            Format::Raw => false,
        }
    }

    /// Whether records carry changes (updates, deletes), not only rows.
    pub fn is_changelog(&self) -> bool {
        matches!(self, Format::DebeziumJson(_))
    }

    /// Short name (`csv`).
    pub fn name(&self) -> &'static str {
        match self {
            Format::Csv(_) => "csv",
            Format::Json(_) => "json",
            Format::Raw => "raw",
            Format::DebeziumJson(_) => "debezium-json",
        }
    }
}

/// Where a record came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// File path, or topic and partition.
    pub source: &'a str,
    /// 1-based line number in the file, or the offset.
    pub line: u64,
    /// `line` is a Kafka offset.
    pub is_offset: bool,
}

impl Origin<'_> {
    /// The record's place; `column` is where in it the bad value starts.
    fn describe(&self, column: usize) -> String {
        if self.is_offset {
            format!("{}, offset {} (character {column})", self.source, self.line)
        } else {
            format!("{}:{}:{column}", self.source, self.line)
        }
    }
}

/// Turns records (lines) into Arrow batches of a schema.
pub struct Decoder {
    schema: SchemaRef,
    format: Format,
    columns: Vec<ColumnBuilder>,
    /// Per column: left NULL, not decoded (the query does not read it).
    unread: Vec<bool>,
    rows: usize,
    /// Row kinds, kept for changelog formats only.
    kinds: Vec<i8>,
    skipped: u64,
    scratch: Vec<csv::Field>,
    /// A JSON row's values, one slot per column, reused between rows.
    json_slots: Vec<Option<serde_json::Value>>,
}

impl Decoder {
    /// A decoder for rows of `schema` in `format`.
    pub fn new(schema: SchemaRef, format: Format) -> Result<Self> {
        if matches!(format, Format::Raw) && schema.fields().len() != 1 {
            return Err(EngineError::Plan(format!(
                "The 'raw' format only supports a single physical column, but the table has {}",
                schema.fields().len()
            )));
        }
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                ColumnBuilder::new(f.data_type())
                    .map_err(|e| EngineError::Plan(format!("column '{}': {e}", f.name())))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            unread: vec![false; columns.len()],
            schema,
            format,
            columns,
            rows: 0,
            kinds: vec![],
            skipped: 0,
            scratch: vec![],
            json_slots: vec![],
        })
    }

    /// Decodes only the columns at `read` (when given); the others come out
    /// NULL. Unread values are not checked either.
    pub fn reading_only(mut self, read: Option<&[usize]>) -> Self {
        if let Some(read) = read {
            for (i, s) in self.unread.iter_mut().enumerate() {
                *s = !read.contains(&i);
            }
        }
        self
    }

    /// Rows decoded and not yet taken by [`Decoder::flush`].
    pub fn buffered_rows(&self) -> usize {
        self.rows
    }

    /// Rows skipped as unparseable since the last call; resets the count.
    pub fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }

    /// Decodes one record. A bad record fails with its origin named, or is
    /// skipped and counted when the format ignores parse errors.
    pub fn decode(&mut self, record: &[u8], origin: Origin<'_>) -> Result<()> {
        self.decode_counted(record, origin).map(|_| ())
    }

    /// [`Decoder::decode`], returning how many rows the record gave (a
    /// changelog record may give none or two).
    pub fn decode_counted(&mut self, record: &[u8], origin: Origin<'_>) -> Result<usize> {
        let result = match std::str::from_utf8(record) {
            Err(e) => Err(RowError {
                column: e.valid_up_to() + 1,
                field: None,
                message: "invalid UTF-8".into(),
            }),
            Ok(text) => match &self.format {
                Format::Csv(o) => csv::decode_row(
                    text,
                    o,
                    &self.schema,
                    &mut self.columns,
                    &self.unread,
                    &mut self.scratch,
                )
                .map(usize::from),
                Format::Json(o) => json::decode_row(
                    text,
                    o,
                    &self.schema,
                    &mut self.columns,
                    &self.unread,
                    &mut self.json_slots,
                )
                .map(usize::from),
                Format::DebeziumJson(o) => debezium::decode_record(
                    text,
                    o,
                    &self.schema,
                    &mut self.columns,
                    &self.unread,
                    &mut self.kinds,
                ),
                Format::Raw => self.columns[0]
                    .append_str(text)
                    .map(|()| 1)
                    .map_err(|message| RowError {
                        column: 1,
                        field: Some(self.schema.field(0).name().clone()),
                        message,
                    }),
            },
        };
        match result {
            Ok(n) => {
                if !self.format.is_changelog() {
                    self.kinds
                        .extend(std::iter::repeat_n(RowKind::Insert as i8, n));
                }
                self.rows += n;
                Ok(n)
            }
            Err(e) => {
                for (c, unread) in self.columns.iter_mut().zip(&self.unread) {
                    if !unread {
                        c.truncate_to(self.rows).map_err(EngineError::Internal)?;
                    }
                }
                self.kinds.truncate(self.rows);
                if self.format.ignore_parse_errors() {
                    self.skipped += 1;
                    return Ok(0);
                }
                let field = e
                    .field
                    .map(|f| format!(" (field '{f}')"))
                    .unwrap_or_default();
                let text = String::from_utf8_lossy(record);
                Err(EngineError::Execution(format!(
                    "Failed to deserialize {} row at {}{}: {}\n  row: {}\n  (set '{}.ignore-parse-errors' = 'true' to skip bad rows)",
                    self.format.name(),
                    origin.describe(e.column),
                    field,
                    e.message,
                    text.trim_end(),
                    self.format.name()
                )))
            }
        }
    }

    /// Drops the rows decoded after the first `rows` (a record whose key
    /// decoded but whose value did not).
    pub fn rollback_to(&mut self, rows: usize) -> Result<()> {
        if rows >= self.rows {
            return Ok(());
        }
        for (c, unread) in self.columns.iter_mut().zip(&self.unread) {
            if !unread {
                c.truncate_to(rows).map_err(EngineError::Internal)?;
            }
        }
        self.kinds.truncate(rows);
        self.rows = rows;
        Ok(())
    }

    /// Appends a row of NULLs of kind `kind` (the value of a Kafka
    /// tombstone).
    pub fn append_null_row(&mut self, kind: RowKind) {
        for (c, unread) in self.columns.iter_mut().zip(&self.unread) {
            if !unread {
                c.append_null();
            }
        }
        self.kinds.push(kind as i8);
        self.rows += 1;
    }

    /// The rows decoded so far as a batch, if any.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let rows = self.rows;
        let columns = self
            .columns
            .iter_mut()
            .zip(&self.unread)
            .zip(self.schema.fields())
            .map(|((c, unread), f)| {
                if *unread {
                    Ok(datafusion::arrow::array::new_null_array(
                        f.data_type(),
                        rows,
                    ))
                } else {
                    c.finish().map_err(EngineError::Execution)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        self.rows = 0;
        self.kinds.clear();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(Some(batch))
    }

    /// The rows decoded so far as changes: with their kinds for a
    /// changelog format, else inserts.
    pub fn flush_changes(&mut self) -> Result<Option<ChangeBatch>> {
        let kinds = std::mem::take(&mut self.kinds);
        Ok(self.flush()?.map(|data| {
            if kinds.iter().all(|k| *k == RowKind::Insert as i8) {
                ChangeBatch::inserts(data)
            } else {
                ChangeBatch::with_kinds(data, datafusion::arrow::array::Int8Array::from(kinds))
            }
        }))
    }
}

/// A record that could not be decoded.
#[derive(Debug)]
pub struct RowError {
    /// 1-based character column in the record where the bad value starts.
    pub column: usize,
    /// The field whose value was bad.
    pub field: Option<String>,
    /// What was wrong.
    pub message: String,
}

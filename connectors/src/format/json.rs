//! The `json` format: one JSON object per line, fields matched by name;
//! a missing field is NULL (as Flink's `json.fail-on-missing-field` = false).

use datafusion::arrow::datatypes::SchemaRef;
use eddy_engine::connector::TableOptions;
use eddy_engine::{EngineError, Result};
use serde_json::Value;

use super::RowError;
use super::column::ColumnBuilder;

/// Option keys of the json format.
pub const OPTION_KEYS: &[&str] = &[
    "format",
    "json.fail-on-missing-field",
    "json.ignore-parse-errors",
    "json.timestamp-format.standard",
    "json.map-null-key.mode",
    "json.map-null-key.literal",
    "json.encode.decimal-as-plain-number",
    "json.encode.ignore-null-fields",
];

/// How timestamps are written in JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampStandard {
    /// `yyyy-MM-dd HH:mm:ss.SSS` (Flink's default).
    #[default]
    Sql,
    /// `yyyy-MM-ddTHH:mm:ss.SSS`.
    Iso8601,
}

/// Options of the json format.
#[derive(Debug, Clone, Default)]
pub struct JsonOptions {
    /// A missing field fails the row instead of being NULL.
    pub fail_on_missing_field: bool,
    /// Skip bad rows instead of failing.
    pub ignore_parse_errors: bool,
    /// Timestamp text form.
    pub timestamp_standard: TimestampStandard,
    /// Leave NULL fields out when writing.
    pub ignore_null_fields: bool,
}

impl JsonOptions {
    /// Consumes the `json.*` options.
    pub fn from_options(opts: &mut TableOptions) -> Result<Self> {
        let mut o = JsonOptions {
            fail_on_missing_field: opts
                .take_bool("json.fail-on-missing-field")?
                .unwrap_or(false),
            ignore_parse_errors: opts.take_bool("json.ignore-parse-errors")?.unwrap_or(false),
            ignore_null_fields: opts
                .take_bool("json.encode.ignore-null-fields")?
                .unwrap_or(false),
            ..Default::default()
        };
        if o.fail_on_missing_field && o.ignore_parse_errors {
            return Err(EngineError::Plan(
                "fail-on-missing-field and ignore-parse-errors shouldn't both be true.".into(),
            ));
        }
        o.timestamp_standard = match opts.take("json.timestamp-format.standard").as_deref() {
            None | Some("SQL") => TimestampStandard::Sql,
            Some("ISO-8601") => TimestampStandard::Iso8601,
            Some(other) => {
                return Err(EngineError::Plan(format!(
                    "Unsupported value '{other}' for json.timestamp-format.standard. Supported values are [SQL, ISO-8601]."
                )));
            }
        };
        let _ = opts.take("json.map-null-key.mode");
        let _ = opts.take("json.map-null-key.literal");
        let _ = opts.take_bool("json.encode.decimal-as-plain-number")?;
        Ok(o)
    }
}

/// Decodes one JSON line into the columns; `Ok(false)` for a blank line.
/// `slots` is scratch space the caller keeps between rows.
pub fn decode_row(
    record: &str,
    o: &JsonOptions,
    schema: &SchemaRef,
    columns: &mut [ColumnBuilder],
    skipped: &[bool],
    slots: &mut Vec<Option<Value>>,
) -> Result<bool, RowError> {
    let record = record.trim_end_matches(['\r', '\n']);
    if record.trim().is_empty() {
        return Ok(false);
    }
    // The top-level object is read field by field into a slot per column:
    // no map of the whole object is built, and unknown fields are skipped.
    slots.clear();
    slots.resize(columns.len(), None);
    let mut de = serde_json::Deserializer::from_str(record);
    serde::de::DeserializeSeed::deserialize(
        RowSeed {
            schema,
            skipped,
            slots,
        },
        &mut de,
    )
    .and_then(|()| de.end())
    .map_err(|e| RowError {
        column: e.column(),
        field: None,
        message: e.to_string(),
    })?;
    append_fields(|i| slots[i].as_ref(), o, schema, columns, skipped)?;
    Ok(true)
}

/// Reads a JSON object's fields into the slots of the columns they name.
struct RowSeed<'a> {
    schema: &'a SchemaRef,
    skipped: &'a [bool],
    slots: &'a mut Vec<Option<Value>>,
}

/// An object key, borrowed from the text unless it has escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let column = self
                .schema
                .fields()
                .iter()
                .position(|f| f.name() == key.as_ref())
                .filter(|i| !self.skipped[*i]);
            match column {
                Some(i) => self.slots[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Appends the row of a parsed JSON object: fields matched by name.
pub fn decode_object(
    obj: &serde_json::Map<String, Value>,
    o: &JsonOptions,
    schema: &SchemaRef,
    columns: &mut [ColumnBuilder],
    skipped: &[bool],
) -> Result<(), RowError> {
    append_fields(
        |i| obj.get(schema.field(i).name()),
        o,
        schema,
        columns,
        skipped,
    )
}

/// Appends a row whose column `i` has the value `field(i)` (`None`:
/// missing).
fn append_fields<'v>(
    field: impl Fn(usize) -> Option<&'v Value>,
    o: &JsonOptions,
    schema: &SchemaRef,
    columns: &mut [ColumnBuilder],
    skipped: &[bool],
) -> Result<(), RowError> {
    for (i, col) in columns.iter_mut().enumerate() {
        if skipped[i] {
            continue;
        }
        let name = schema.field(i).name();
        match field(i) {
            None if o.fail_on_missing_field => {
                return Err(RowError {
                    column: 1,
                    field: Some(name.clone()),
                    message: format!("Could not find field with name '{name}'."),
                });
            }
            None => col.append_null(),
            Some(v) => {
                if let Err(message) = col.append_json(v) {
                    if !o.ignore_parse_errors {
                        return Err(RowError {
                            column: 1,
                            field: Some(name.clone()),
                            message,
                        });
                    }
                    col.append_null();
                }
            }
        }
    }
    Ok(())
}

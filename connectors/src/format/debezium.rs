//! The `debezium-json` changelog format: each record is a Debezium change
//! event, `{"before": {..}, "after": {..}, "op": "c"}`. Reading turns
//! `c`/`r` into `+I`, `u` into `-U` and `+U`, `d` into `-D`; writing turns
//! `+I`/`+U` into `c` events and `-U`/`-D` into `d` events, as Flink does.

use datafusion::arrow::datatypes::SchemaRef;
use eddy_engine::connector::TableOptions;
use eddy_engine::{Result, RowKind};
use serde_json::Value;

use super::RowError;
use super::column::ColumnBuilder;
use super::json::{JsonOptions, decode_object};

/// Option keys of the debezium-json format.
pub const OPTION_KEYS: &[&str] = &[
    "format",
    "debezium-json.schema-include",
    "debezium-json.ignore-parse-errors",
    "debezium-json.timestamp-format.standard",
    "debezium-json.map-null-key.mode",
    "debezium-json.map-null-key.literal",
    "debezium-json.encode.decimal-as-plain-number",
    "debezium-json.encode.ignore-null-fields",
];

/// Options of the debezium-json format.
#[derive(Debug, Clone, Default)]
pub struct DebeziumOptions {
    /// How the rows inside `before` and `after` are read and written.
    pub json: JsonOptions,
    /// Events carry a `schema` and a `payload` (Kafka Connect's
    /// `value.converter.schemas.enable`).
    pub schema_include: bool,
}

impl DebeziumOptions {
    /// Consumes the `debezium-json.*` options.
    pub fn from_options(opts: &mut TableOptions) -> Result<Self> {
        let schema_include = opts
            .take_bool("debezium-json.schema-include")?
            .unwrap_or(false);
        // The row options are json's, under `debezium-json.`.
        let json = opts.scoped("debezium-", JsonOptions::from_options)?;
        Ok(Self {
            json,
            schema_include,
        })
    }
}

fn error(message: String) -> RowError {
    RowError {
        column: 1,
        field: None,
        message,
    }
}

/// Appends the rows of one change event, pushing each row's kind to
/// `kinds`; returns how many rows it appended (none for a tombstone).
pub fn decode_record(
    record: &str,
    o: &DebeziumOptions,
    schema: &SchemaRef,
    columns: &mut [ColumnBuilder],
    skipped: &[bool],
    kinds: &mut Vec<i8>,
) -> std::result::Result<usize, RowError> {
    if record.trim().is_empty() {
        return Ok(0);
    }
    let value: Value = serde_json::from_str(record).map_err(|e| RowError {
        column: e.column(),
        field: None,
        message: e.to_string(),
    })?;
    let payload = if o.schema_include {
        match value.get("payload") {
            Some(p) => p,
            None => {
                return Err(error(
                    "'debezium-json.schema-include' is true, but the event has no \"payload\" field"
                        .into(),
                ));
            }
        }
    } else {
        &value
    };
    if payload.is_null() {
        return Ok(0);
    }
    let side = |name: &str| match payload.get(name) {
        Some(Value::Object(row)) => Some(row),
        _ => None,
    };
    let op = payload.get("op").and_then(Value::as_str).unwrap_or("");
    let mut rows: Vec<(RowKind, &serde_json::Map<String, Value>)> = vec![];
    match op {
        "c" | "r" => match side("after") {
            Some(after) => rows.push((RowKind::Insert, after)),
            None => {
                return Err(error(format!(
                    "the \"after\" field of a '{op}' event is null"
                )));
            }
        },
        "u" => {
            let Some(before) = side("before") else {
                return Err(error(
                    "The \"before\" field of UPDATE message is null, if you are using Debezium Postgres Connector, please check the Postgres table has been set REPLICA IDENTITY to FULL level.".into(),
                ));
            };
            let Some(after) = side("after") else {
                return Err(error(
                    "the \"after\" field of an UPDATE event is null".into(),
                ));
            };
            rows.push((RowKind::UpdateBefore, before));
            rows.push((RowKind::UpdateAfter, after));
        }
        "d" => match side("before") {
            Some(before) => rows.push((RowKind::Delete, before)),
            None => {
                return Err(error(
                    "The \"before\" field of DELETE message is null, if you are using Debezium Postgres Connector, please check the Postgres table has been set REPLICA IDENTITY to FULL level.".into(),
                ));
            }
        },
        other => {
            return Err(error(format!(
                "Unknown \"op\" value \"{other}\". The Debezium JSON message is '{}'",
                record.trim()
            )));
        }
    }
    for (kind, row) in &rows {
        decode_object(row, &o.json, schema, columns, skipped)?;
        kinds.push(*kind as i8);
    }
    Ok(rows.len())
}

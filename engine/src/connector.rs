//! How the planner finds connectors without knowing them: a registry of
//! factories keyed by the `connector` option, and the `WITH` options that a
//! factory consumes into its own typed config.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::{DataType, SchemaRef};

use crate::error::{EngineError, Result};
use crate::operator::{OperatorFactory, SourceFactory};

/// The `WITH ('k' = 'v', ...)` options of a table, consumed key by key.
///
/// A factory takes each key it understands; [`TableOptions::finish`] then
/// fails on any key left over, listing the valid ones, as Flink does.
#[derive(Debug, Clone)]
pub struct TableOptions {
    connector: String,
    entries: BTreeMap<String, String>,
    consumed: BTreeSet<String>,
}

impl TableOptions {
    /// Options of a table using `connector`. The `connector` key itself
    /// counts as consumed.
    pub fn new(connector: impl Into<String>, entries: BTreeMap<String, String>) -> Self {
        let mut consumed = BTreeSet::new();
        consumed.insert("connector".to_string());
        Self {
            connector: connector.into(),
            entries,
            consumed,
        }
    }

    /// The connector's name.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// Takes a string option.
    pub fn take(&mut self, key: &str) -> Option<String> {
        let v = self.entries.get(key).cloned();
        if v.is_some() {
            self.consumed.insert(key.to_string());
        }
        v
    }

    /// An option's value, without consuming it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Runs `f` on the options under `prefix` (`key.` for `key.format`,
    /// `key.json.ignore-parse-errors`), seen without the prefix; the keys
    /// `f` consumes count as consumed here.
    pub fn scoped<T>(
        &mut self,
        prefix: &str,
        f: impl FnOnce(&mut TableOptions) -> Result<T>,
    ) -> Result<T> {
        let entries = self
            .entries
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone())))
            .collect();
        let mut inner = TableOptions {
            connector: self.connector.clone(),
            entries,
            consumed: BTreeSet::new(),
        };
        let out = f(&mut inner);
        for k in inner.consumed {
            self.consumed.insert(format!("{prefix}{k}"));
        }
        out
    }

    /// Takes a required string option.
    pub fn require(&mut self, key: &str) -> Result<String> {
        self.take(key).ok_or_else(|| {
            EngineError::Plan(format!(
                "Missing required option '{key}' for connector '{}'",
                self.connector
            ))
        })
    }

    /// Takes an option parsed by `parse`; a value that does not parse is an
    /// error naming the key and what was expected.
    pub fn take_parsed<T>(
        &mut self,
        key: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => parse(v.trim()).map(Some).ok_or_else(|| {
                EngineError::Plan(format!(
                    "Invalid value for option '{key}': '{v}' (expected {expected})"
                ))
            }),
        }
    }

    /// Takes a boolean option (`true`/`false`).
    pub fn take_bool(&mut self, key: &str) -> Result<Option<bool>> {
        self.take_parsed(key, "true or false", |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        })
    }

    /// Takes an integer option.
    pub fn take_i64(&mut self, key: &str) -> Result<Option<i64>> {
        self.take_parsed(key, "an integer", |v| v.parse().ok())
    }

    /// Takes a floating-point option.
    pub fn take_f64(&mut self, key: &str) -> Result<Option<f64>> {
        self.take_parsed(key, "a number", |v| v.parse().ok())
    }

    /// Takes a duration option in Flink's syntax (`10 s`, `1min`, `500 ms`).
    pub fn take_duration(&mut self, key: &str) -> Result<Option<Duration>> {
        self.take_parsed(key, "a duration such as '10 s'", parse_duration)
    }

    /// Takes a single character option (`csv.field-delimiter`).
    pub fn take_char(&mut self, key: &str) -> Result<Option<char>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => {
                let unescaped = match v.as_str() {
                    "\\t" => "\t".to_string(),
                    _ => v.clone(),
                };
                let mut chars = unescaped.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(Some(c)),
                    _ => Err(EngineError::Plan(format!(
                        "Invalid value for option '{key}': '{v}' (expected a single character)"
                    ))),
                }
            }
        }
    }

    /// Takes every option whose key starts with `prefix`, returning the keys
    /// without the prefix.
    pub fn take_prefixed(&mut self, prefix: &str) -> Vec<(String, String)> {
        let found: Vec<(String, String)> = self
            .entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k[prefix.len()..].to_string(), v.clone()))
            .collect();
        for (k, _) in &found {
            self.consumed.insert(format!("{prefix}{k}"));
        }
        found
    }

    /// Fails if any option was not consumed, listing the valid ones.
    pub fn finish<S: AsRef<str>>(self, supported: &[S]) -> Result<()> {
        let unknown: Vec<&String> = self
            .entries
            .keys()
            .filter(|k| !self.consumed.contains(*k))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let mut valid: Vec<&str> = supported.iter().map(AsRef::as_ref).collect();
        valid.push("connector");
        valid.sort_unstable();
        valid.dedup();
        Err(EngineError::Plan(format!(
            "Unsupported options found for '{}'.\n\nUnsupported options:\n\n{}\n\nSupported options:\n\n{}",
            self.connector,
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            valid.join("\n")
        )))
    }
}

/// Parses a Flink duration: a number and a unit (`ms`, `s`, `min`, `h`,
/// `d`, and their long forms); a bare number is milliseconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => n,
        "s" | "sec" | "secs" | "second" | "seconds" => n * 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => n * 60_000,
        "h" | "hour" | "hours" => n * 3_600_000,
        "d" | "day" | "days" => n * 86_400_000,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// What a connector is asked to build, for a source or a sink.
#[derive(Debug, Clone)]
pub struct TableRequest {
    /// The table's name, for messages.
    pub table: String,
    /// The columns the connector reads or writes (physical columns).
    pub schema: SchemaRef,
    /// The `WITH` options.
    pub options: TableOptions,
    /// `PRIMARY KEY` columns, if declared.
    pub primary_key: Vec<String>,
    /// For a source: the indices (in `schema`) of the columns the query
    /// reads, when not all. A source may leave the others NULL instead of
    /// decoding them.
    pub read_columns: Option<Vec<usize>>,
    /// Metadata columns (`ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'`).
    /// A source appends all of them after `schema`'s columns, a sink gets
    /// the writable (not `VIRTUAL`) ones after `schema`'s columns; each
    /// with its declared type. The planner checked their keys against
    /// [`ConnectorFactory::metadata`].
    pub metadata: Vec<MetadataColumn>,
    /// `table.exec.source.idle-timeout`: a split (partition) that sends
    /// nothing for this long stops holding the watermark back.
    pub idle_timeout: Option<Duration>,
}

/// A metadata column of a table.
#[derive(Debug, Clone)]
pub struct MetadataColumn {
    /// The column's name.
    pub name: String,
    /// The connector's metadata key (`timestamp`, `partition`).
    pub key: String,
    /// The declared type.
    pub data_type: DataType,
    /// `VIRTUAL`: read only, never written.
    pub is_virtual: bool,
}

/// A metadata key a connector serves.
#[derive(Debug, Clone)]
pub struct MetadataKey {
    /// The key (`offset`).
    pub key: &'static str,
    /// Its type, in Flink's words (`BIGINT NOT NULL`), for messages.
    pub type_name: &'static str,
    /// Whether a sink writes it.
    pub writable: bool,
}

/// What a source emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceChangelog {
    /// Only inserts.
    InsertOnly,
    /// Inserts, `-U`/`+U` pairs and deletes (a `debezium-json` topic).
    Retract,
    /// Upserts (`+U` replaces the row of its primary key) and deletes
    /// carrying only the key: `upsert-kafka`. The planner normalizes them
    /// into a retract stream keyed by the primary key.
    Upsert,
}

/// A connector: turns `WITH` options into sources and sinks.
pub trait ConnectorFactory: Send + Sync {
    /// The value of the `connector` option it serves, e.g. `filesystem`.
    fn identifier(&self) -> &str;

    /// Builds a source reading the table. Consumes its options.
    fn create_source(&self, request: TableRequest) -> Result<Arc<dyn SourceFactory>> {
        Err(EngineError::Plan(format!(
            "Connector '{}' can only be used as a sink; table '{}' cannot be read",
            self.identifier(),
            request.table
        )))
    }

    /// Whether its tables serve lookup joins (`FOR SYSTEM_TIME AS OF` a
    /// processing time): a join reads the table whole through its bounded
    /// source into a cache (options `lookup.cache`,
    /// `lookup.full-cache.periodic-reload.interval`, which its sources
    /// must accept).
    fn supports_lookup(&self) -> bool {
        false
    }

    /// Whether a sink with `options` takes updates (`-U`, `+U`, `-D`); an
    /// append-only sink rejects an updating query before it starts.
    fn sink_accepts_updates(&self, _options: &TableOptions) -> bool {
        false
    }

    /// What a source with `options` emits.
    fn source_changelog(&self, _options: &TableOptions) -> SourceChangelog {
        SourceChangelog::InsertOnly
    }

    /// The metadata keys its tables can declare columns for.
    fn metadata(&self) -> Vec<MetadataKey> {
        vec![]
    }

    /// Builds a sink writing the table. Consumes its options.
    fn create_sink(&self, request: TableRequest) -> Result<Arc<dyn OperatorFactory>> {
        Err(EngineError::Plan(format!(
            "Connector '{}' can only be used as a source; table '{}' cannot be written",
            self.identifier(),
            request.table
        )))
    }
}

/// The connectors known to a session.
#[derive(Clone, Default)]
pub struct ConnectorRegistry {
    factories: BTreeMap<String, Arc<dyn ConnectorFactory>>,
}

impl ConnectorRegistry {
    /// Adds (or replaces) a connector.
    pub fn register(&mut self, factory: Arc<dyn ConnectorFactory>) {
        self.factories
            .insert(factory.identifier().to_string(), factory);
    }

    /// The connector named `name`, or an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<Arc<dyn ConnectorFactory>> {
        self.factories.get(name).cloned().ok_or_else(|| {
            EngineError::Plan(format!(
                "Could not find any factory for identifier '{name}' that implements connector factories.\n\nAvailable factory identifiers are:\n\n{}",
                self.factories.keys().cloned().collect::<Vec<_>>().join("\n")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_option_is_an_error_listing_valid_ones() {
        let mut entries = BTreeMap::new();
        entries.insert("path".to_string(), "/tmp".to_string());
        entries.insert("pth".to_string(), "/tmp".to_string());
        let mut opts = TableOptions::new("filesystem", entries);
        assert_eq!(opts.take("path").as_deref(), Some("/tmp"));
        let err = opts
            .finish(&["path", "format"])
            .expect_err("pth is unknown");
        let msg = err.to_string();
        assert!(msg.contains("Unsupported options:\n\npth"), "{msg}");
        assert!(msg.contains("format\npath"), "{msg}");
    }

    #[test]
    fn durations_in_flink_syntax() {
        assert_eq!(parse_duration("10 s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1min"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("ten s"), None);
    }
}

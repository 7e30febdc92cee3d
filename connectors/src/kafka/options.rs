//! The `WITH` options of the `kafka` and `upsert-kafka` connectors, parsed
//! into a [`KafkaTable`], with Flink's names, defaults and messages.

use std::time::Duration;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use eddy_engine::connector::{MetadataColumn, TableOptions, TableRequest};
use eddy_engine::{EngineError, Result};

use crate::format::Format;

/// Option keys of `kafka` (formats add theirs, under `key.`/`value.`).
pub const KAFKA_KEYS: &[&str] = &[
    "topic",
    "topic-pattern",
    "properties.bootstrap.servers",
    "properties.group.id",
    "properties.*",
    "format",
    "key.format",
    "key.fields",
    "key.fields-prefix",
    "value.format",
    "value.fields-include",
    "scan.startup.mode",
    "scan.startup.specific-offsets",
    "scan.startup.timestamp-millis",
    "scan.bounded.mode",
    "scan.bounded.specific-offsets",
    "scan.bounded.timestamp-millis",
    "scan.topic-partition-discovery.interval",
    "scan.parallelism",
    "scan.dead-letter.topic",
    "sink.partitioner",
    "sink.delivery-guarantee",
    "sink.transactional-id-prefix",
    "sink.parallelism",
];

/// Option keys of `upsert-kafka`.
pub const UPSERT_KEYS: &[&str] = &[
    "topic",
    "properties.bootstrap.servers",
    "properties.group.id",
    "properties.*",
    "key.format",
    "key.fields-prefix",
    "value.format",
    "value.fields-include",
    "scan.parallelism",
    "scan.dead-letter.topic",
    "sink.parallelism",
    "sink.buffer-flush.max-rows",
    "sink.buffer-flush.interval",
    "sink.delivery-guarantee",
    "sink.transactional-id-prefix",
];

/// Which topics a table reads.
#[derive(Debug, Clone)]
pub enum Topics {
    /// `topic`: one or more (`a;b`).
    Names(Vec<String>),
    /// `topic-pattern`: every topic matching, found again on discovery.
    Pattern(regex::Regex),
}

/// Where reading starts (`scan.startup.mode`).
#[derive(Debug, Clone, PartialEq)]
pub enum StartupMode {
    /// `earliest-offset`.
    Earliest,
    /// `latest-offset`.
    Latest,
    /// `group-offsets`: the group's committed offsets.
    GroupOffsets,
    /// `timestamp`: the first record at or after the time (ms).
    Timestamp(i64),
    /// `specific-offsets`: per partition; others start at the earliest.
    Specific(Vec<(i32, i64)>),
}

/// Where a bounded read ends (`scan.bounded.mode`); exclusive.
#[derive(Debug, Clone, PartialEq)]
pub enum BoundedMode {
    /// `unbounded`: never.
    Unbounded,
    /// `latest-offset`: the end of each partition when the job starts.
    Latest,
    /// `group-offsets`: the group's committed offsets.
    GroupOffsets,
    /// `timestamp`: before the first record at or after the time (ms).
    Timestamp(i64),
    /// `specific-offsets`: per partition.
    Specific(Vec<(i32, i64)>),
}

/// How a sink spreads records over partitions (`sink.partitioner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// `default`: by key hash when there is a key, else sticky/random.
    Default,
    /// `fixed`: each sink subtask writes to one partition.
    Fixed,
    /// `round-robin`: records in turn over the partitions.
    RoundRobin,
}

/// `sink.delivery-guarantee`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Nothing is waited for.
    None,
    /// Every record is acknowledged before a checkpoint completes and at
    /// the end of the job.
    AtLeastOnce,
    /// Records are written in Kafka transactions committed when a
    /// checkpoint completes (see the sink's `transaction` module); the
    /// transactional ids start with `prefix`.
    ExactlyOnce {
        /// `sink.transactional-id-prefix`.
        prefix: String,
    },
}

/// A Kafka table's configuration.
#[derive(Debug, Clone)]
pub struct KafkaTable {
    /// The table, for messages.
    pub table: String,
    /// `upsert-kafka`: keys are the primary key; null values delete.
    pub upsert: bool,
    /// Topics read, or the single topic written.
    pub topics: Topics,
    /// `properties.*`, passed to librdkafka.
    pub properties: Vec<(String, String)>,
    /// `properties.group.id`.
    pub group_id: Option<String>,
    /// The physical columns.
    pub schema: SchemaRef,
    /// Key columns (indices into `schema`) and the key format.
    pub key: Option<(Vec<usize>, Format)>,
    /// `key.fields-prefix`: stripped from key column names in the format.
    pub key_prefix: String,
    /// Columns in the value (indices into `schema`).
    pub value_columns: Vec<usize>,
    /// The value format.
    pub value_format: Format,
    /// Metadata columns.
    pub metadata: Vec<MetadataColumn>,
    /// Columns the query reads, when not all.
    pub read_columns: Option<Vec<usize>>,
    /// Where reading starts.
    pub startup: StartupMode,
    /// Where reading ends.
    pub bounded: BoundedMode,
    /// How often new partitions (and pattern topics) are looked for.
    pub discovery: Option<Duration>,
    /// A split that sends nothing this long is idle.
    pub idle_timeout: Option<Duration>,
    /// Bad records go here (with the error in a header) instead of failing.
    pub dead_letter: Option<String>,
    /// `sink.partitioner`.
    pub partitioner: Partitioner,
    /// `sink.delivery-guarantee`.
    pub delivery: Delivery,
}

impl KafkaTable {
    /// The schema of the key (the key columns, named without the prefix).
    pub fn key_schema(&self) -> Option<SchemaRef> {
        let (cols, _) = self.key.as_ref()?;
        Some(self.project(cols, &self.key_prefix))
    }

    /// The schema of the value.
    pub fn value_schema(&self) -> SchemaRef {
        self.project(&self.value_columns, "")
    }

    fn project(&self, cols: &[usize], prefix: &str) -> SchemaRef {
        let fields: Vec<Field> = cols
            .iter()
            .map(|i| {
                let f = self.schema.field(*i);
                let name = f.name().strip_prefix(prefix).unwrap_or(f.name());
                Field::new(name, f.data_type().clone(), true)
            })
            .collect();
        std::sync::Arc::new(Schema::new(fields))
    }

    /// The topic a sink writes.
    pub fn sink_topic(&self) -> Result<String> {
        match &self.topics {
            Topics::Names(t) if t.len() == 1 => Ok(t[0].clone()),
            _ => Err(EngineError::Plan(format!(
                "Table '{}': a Kafka sink writes one topic; set 'topic' to a single topic (not a list or 'topic-pattern')",
                self.table
            ))),
        }
    }

    /// A short description for EXPLAIN.
    pub fn describe(&self) -> String {
        let topics = match &self.topics {
            Topics::Names(t) => t.join(";"),
            Topics::Pattern(p) => format!("pattern {}", p.as_str()),
        };
        format!("{topics}, {}", self.value_format.name())
    }
}

fn plan(msg: String) -> EngineError {
    EngineError::Plan(msg)
}

/// `partition:0,offset:42;partition:1,offset:300`.
fn specific_offsets(key: &str, text: &str) -> Result<Vec<(i32, i64)>> {
    let bad = || {
        plan(format!(
            "Invalid properties '{key}' should follow the format 'partition:0,offset:42;partition:1,offset:300', but is '{text}'."
        ))
    };
    let mut out = vec![];
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (p, o) = part.split_once(',').ok_or_else(bad)?;
        let p = p.trim().strip_prefix("partition:").ok_or_else(bad)?;
        let o = o.trim().strip_prefix("offset:").ok_or_else(bad)?;
        out.push((
            p.trim().parse().map_err(|_| bad())?,
            o.trim().parse().map_err(|_| bad())?,
        ));
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn one_of(key: &str, value: &str, valid: &[&str]) -> EngineError {
    plan(format!(
        "Invalid value for option '{key}': '{value}'. Supported values are [{}].",
        valid.join(", ")
    ))
}

/// Column indices of `names` in `schema`.
fn columns_of(schema: &SchemaRef, names: &[String], table: &str) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|n| {
            schema.index_of(n).map_err(|_| {
                plan(format!(
                    "Could not find the field '{n}' in the table schema for usage in the key format. A key field must be a regular, physical column. The following columns can be selected in the 'key.fields' option:\n{} (table '{table}')",
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .collect()
}

/// A format under `prefix` (`key.`, `value.`): `<prefix>format` and its
/// options as `<prefix><format>.<option>`.
fn prefixed_format(opts: &mut TableOptions, prefix: &str) -> Result<Option<Format>> {
    if opts.get(&format!("{prefix}format")).is_none() {
        return Ok(None);
    }
    opts.scoped(prefix, Format::from_options).map(Some)
}

/// Parses a `kafka` (or, with `upsert`, `upsert-kafka`) table's options.
pub fn parse(req: &mut TableRequest, upsert: bool) -> Result<(KafkaTable, Vec<String>)> {
    let table = req.table.clone();
    let schema = req.schema.clone();
    let opts = &mut req.options;
    let topics = match (opts.take("topic"), opts.take("topic-pattern")) {
        (Some(_), Some(_)) => {
            return Err(plan(
                "Option 'topic' and 'topic-pattern' shouldn't be set together.".into(),
            ));
        }
        (Some(t), None) => {
            let names: Vec<String> = t
                .split(';')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if upsert && names.len() != 1 {
                return Err(plan(
                    "The 'upsert-kafka' connector only supports a single topic in 'topic'.".into(),
                ));
            }
            Topics::Names(names)
        }
        (None, Some(p)) if !upsert => Topics::Pattern(
            regex::Regex::new(&format!("^(?:{p})$"))
                .map_err(|e| plan(format!("topic-pattern: {e}")))?,
        ),
        _ => {
            return Err(plan(
                "Either 'topic' or 'topic-pattern' must be set.".into(),
            ));
        }
    };
    let servers = opts.require("properties.bootstrap.servers")?;
    let group_id = opts.take("properties.group.id");
    let mut properties: Vec<(String, String)> = opts
        .take_prefixed("properties.")
        .into_iter()
        .filter(|(k, _)| k != "group.id")
        .collect();
    properties.retain(|(k, _)| k != "bootstrap.servers");
    properties.push(("bootstrap.servers".into(), servers));

    // Formats.
    let value_format = match prefixed_format(opts, "value.")? {
        Some(f) => f,
        None if upsert => {
            return Err(plan(
                "Missing required option 'value.format' for connector 'upsert-kafka'".into(),
            ));
        }
        None => match opts.get("format") {
            Some(_) => Format::from_options(opts)?,
            None => {
                return Err(plan(
                    "Could not find required scan format 'value.format' (or 'format') for connector 'kafka'".into(),
                ));
            }
        },
    };
    let key_format = prefixed_format(opts, "key.")?;
    if let Some(f) = &key_format
        && f.is_changelog()
    {
        return Err(plan(format!(
            "The key format '{}' is a changelog format; a key can only be an insert-only format such as 'json', 'csv' or 'raw'",
            f.name()
        )));
    }
    let key_prefix = opts.take("key.fields-prefix").unwrap_or_default();
    let key_names: Vec<String> = if upsert {
        if req.primary_key.is_empty() {
            return Err(plan(
                "'upsert-kafka' tables require to define a PRIMARY KEY constraint. The PRIMARY KEY specifies which columns should be read from or write to the Kafka message key. The PRIMARY KEY also defines records in the 'upsert-kafka' table should update or delete on which keys.".into(),
            ));
        }
        req.primary_key.clone()
    } else {
        opts.take("key.fields")
            .map(|f| f.split(';').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    };
    let key = match (key_format, key_names.is_empty()) {
        (Some(f), false) => Some((columns_of(&schema, &key_names, &table)?, f)),
        (None, true) => None,
        (Some(_), true) => {
            return Err(plan(
                "A key format 'key.format' requires the declaration of one or more key fields using 'key.fields'.".into(),
            ));
        }
        (None, false) if upsert => {
            return Err(plan(
                "Missing required option 'key.format' for connector 'upsert-kafka'".into(),
            ));
        }
        (None, false) => {
            return Err(plan(
                "The option 'key.fields' can only be declared if a key format is defined using 'key.format'.".into(),
            ));
        }
    };
    let except_key = match opts.take("value.fields-include").as_deref() {
        None | Some("ALL") => false,
        Some("EXCEPT_KEY") => true,
        Some(v) => return Err(one_of("value.fields-include", v, &["ALL", "EXCEPT_KEY"])),
    };
    if !key_prefix.is_empty() && !except_key {
        return Err(plan(
            "A key prefix is not allowed when option 'value.fields-include' is set to 'ALL'. Set it to 'EXCEPT_KEY' instead to avoid field overlaps.".into(),
        ));
    }
    let key_cols: &[usize] = key.as_ref().map(|(c, _)| c.as_slice()).unwrap_or(&[]);
    let value_columns: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !(except_key && key_cols.contains(i)))
        .collect();
    if matches!(value_format, Format::Raw) && value_columns.len() != 1 {
        return Err(plan(format!(
            "The 'raw' format only supports a single physical column, but the value of table '{table}' has {}",
            value_columns.len()
        )));
    }

    // Reading.
    let startup = match opts.take("scan.startup.mode").as_deref() {
        None => {
            if group_id.is_some() {
                StartupMode::GroupOffsets
            } else {
                StartupMode::Earliest
            }
        }
        Some("earliest-offset") => StartupMode::Earliest,
        Some("latest-offset") => StartupMode::Latest,
        Some("group-offsets") => StartupMode::GroupOffsets,
        Some("timestamp") => StartupMode::Timestamp(
            opts.take_i64("scan.startup.timestamp-millis")?.ok_or_else(|| {
                plan("'scan.startup.timestamp-millis' is required in 'timestamp' startup mode but missing.".into())
            })?,
        ),
        Some("specific-offsets") => {
            let text = opts.take("scan.startup.specific-offsets").ok_or_else(|| {
                plan("'scan.startup.specific-offsets' is required in 'specific-offsets' startup mode but missing.".into())
            })?;
            StartupMode::Specific(specific_offsets("scan.startup.specific-offsets", &text)?)
        }
        Some(v) => {
            return Err(one_of(
                "scan.startup.mode",
                v,
                &["earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets"],
            ));
        }
    };
    let bounded = match opts.take("scan.bounded.mode").as_deref() {
        None | Some("unbounded") => BoundedMode::Unbounded,
        Some("latest-offset") => BoundedMode::Latest,
        Some("group-offsets") => BoundedMode::GroupOffsets,
        Some("timestamp") => BoundedMode::Timestamp(
            opts.take_i64("scan.bounded.timestamp-millis")?.ok_or_else(|| {
                plan("'scan.bounded.timestamp-millis' is required in 'timestamp' bounded mode but missing.".into())
            })?,
        ),
        Some("specific-offsets") => {
            let text = opts.take("scan.bounded.specific-offsets").ok_or_else(|| {
                plan("'scan.bounded.specific-offsets' is required in 'specific-offsets' bounded mode but missing.".into())
            })?;
            BoundedMode::Specific(specific_offsets("scan.bounded.specific-offsets", &text)?)
        }
        Some(v) => {
            return Err(one_of(
                "scan.bounded.mode",
                v,
                &["unbounded", "latest-offset", "group-offsets", "timestamp", "specific-offsets"],
            ));
        }
    };
    if bounded == BoundedMode::GroupOffsets && group_id.is_none() {
        return Err(plan(
            "'properties.group.id' is required in 'group-offsets' bounded mode.".into(),
        ));
    }
    if startup == StartupMode::GroupOffsets && group_id.is_none() {
        return Err(plan(
            "'properties.group.id' is required in 'group-offsets' startup mode.".into(),
        ));
    }
    let discovery = match opts.take("scan.topic-partition-discovery.interval") {
        None => Some(Duration::from_secs(5 * 60)),
        Some(v) => {
            let d = eddy_engine::connector::parse_duration(&v).ok_or_else(|| {
                plan(format!(
                    "Invalid value for option 'scan.topic-partition-discovery.interval': '{v}' (expected a duration such as '10 s')"
                ))
            })?;
            (!d.is_zero()).then_some(d)
        }
    };
    let _ = opts.take_i64("scan.parallelism")?;
    let dead_letter = opts.take("scan.dead-letter.topic");

    // Writing.
    let partitioner = match opts.take("sink.partitioner").as_deref() {
        None | Some("default") => Partitioner::Default,
        Some("fixed") => Partitioner::Fixed,
        Some("round-robin") => Partitioner::RoundRobin,
        Some(v) => {
            return Err(plan(format!(
                "Could not find and instantiate partitioner class '{v}'. Supported values of 'sink.partitioner' are [default, fixed, round-robin]."
            )));
        }
    };
    let prefix = opts.take("sink.transactional-id-prefix");
    let delivery = match opts.take("sink.delivery-guarantee").as_deref() {
        None | Some("at-least-once") => Delivery::AtLeastOnce,
        Some("none") => Delivery::None,
        Some("exactly-once") => match prefix {
            Some(prefix) if !prefix.trim().is_empty() => Delivery::ExactlyOnce { prefix },
            _ => {
                return Err(plan(format!(
                    "Table '{table}': 'sink.delivery-guarantee' = 'exactly-once' requires 'sink.transactional-id-prefix': a prefix of the Kafka transactional ids, unique among the sinks writing to this Kafka cluster."
                )));
            }
        },
        Some(v) => {
            return Err(one_of(
                "sink.delivery-guarantee",
                v,
                &["none", "at-least-once", "exactly-once"],
            ));
        }
    };
    let _ = opts.take_i64("sink.parallelism")?;
    let _ = opts.take_i64("sink.buffer-flush.max-rows")?;
    let _ = opts.take_duration("sink.buffer-flush.interval")?;

    // The supported keys, for the message on a leftover one.
    let mut supported: Vec<String> = (if upsert { UPSERT_KEYS } else { KAFKA_KEYS })
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (prefix, f) in [
        ("value.", Some(&value_format)),
        ("key.", key.as_ref().map(|k| &k.1)),
    ] {
        if let Some(f) = f {
            supported.extend(
                f.option_keys()
                    .iter()
                    .filter(|k| **k != "format")
                    .map(|k| format!("{prefix}{k}")),
            );
            if prefix == "value." && !upsert {
                supported.extend(f.option_keys().iter().map(|k| k.to_string()));
            }
        }
    }
    Ok((
        KafkaTable {
            table,
            upsert,
            topics,
            properties,
            group_id,
            schema,
            key,
            key_prefix,
            value_columns,
            value_format,
            metadata: req.metadata.clone(),
            read_columns: req.read_columns.clone(),
            startup,
            bounded,
            discovery,
            idle_timeout: req.idle_timeout.filter(|t| !t.is_zero()),
            dead_letter,
            partitioner,
            delivery,
        },
        supported,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_offsets_in_flink_syntax() {
        assert_eq!(
            specific_offsets("k", "partition:0,offset:42;partition:1,offset:300").ok(),
            Some(vec![(0, 42), (1, 300)])
        );
        let err = specific_offsets("k", "0:42").expect_err("bad");
        assert!(err.to_string().contains("partition:0,offset:42"), "{err}");
    }
}

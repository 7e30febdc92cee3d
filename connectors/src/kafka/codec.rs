//! Kafka records to rows and back: the key and the value each in their
//! format, assembled into the table's physical columns, followed by the
//! metadata columns (`partition`, `offset`, `timestamp`, `headers`, ...).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Int32Builder, Int64Builder, MapBuilder,
    MapFieldNames, StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use eddy_engine::batch::LTZ_ZONE;
use eddy_engine::connector::{MetadataColumn, MetadataKey};
use eddy_engine::{ChangeBatch, EngineError, Result, RowKind};
use rdkafka::Timestamp;
use rdkafka::message::{Headers, Message};

use super::options::KafkaTable;
use crate::format::{Decoder, Origin};

/// The metadata keys of the `kafka` connector (Flink's).
pub fn metadata_keys() -> Vec<MetadataKey> {
    let key = |key, type_name, writable| MetadataKey {
        key,
        type_name,
        writable,
    };
    vec![
        key("topic", "STRING NOT NULL", false),
        key("partition", "INT NOT NULL", false),
        key("headers", "MAP<STRING, BYTES> NOT NULL", true),
        key("offset", "BIGINT NOT NULL", false),
        key("timestamp", "TIMESTAMP_LTZ(3) NOT NULL", true),
        key("timestamp-type", "STRING NOT NULL", false),
    ]
}

/// One metadata column being filled.
enum MetaBuilder {
    Topic(StringBuilder),
    Partition(Int32Builder),
    Offset(Int64Builder),
    Timestamp(TimestampMillisecondBuilder),
    TimestampType(StringBuilder),
    Headers(Box<MapBuilder<StringBuilder, BinaryBuilder>>),
}

impl MetaBuilder {
    fn new(key: &str) -> Result<Self> {
        Ok(match key {
            "topic" => MetaBuilder::Topic(StringBuilder::new()),
            "partition" => MetaBuilder::Partition(Int32Builder::new()),
            "offset" => MetaBuilder::Offset(Int64Builder::new()),
            "timestamp" => {
                MetaBuilder::Timestamp(TimestampMillisecondBuilder::new().with_timezone(LTZ_ZONE))
            }
            "timestamp-type" => MetaBuilder::TimestampType(StringBuilder::new()),
            "headers" => MetaBuilder::Headers(Box::new(MapBuilder::new(
                Some(MapFieldNames {
                    entry: "entries".into(),
                    key: "key".into(),
                    value: "value".into(),
                }),
                StringBuilder::new(),
                BinaryBuilder::new(),
            ))),
            other => {
                return Err(EngineError::Plan(format!(
                    "Kafka metadata key '{other}' cannot be read"
                )));
            }
        })
    }

    fn append<M: Message>(&mut self, m: &M) -> Result<()> {
        match self {
            MetaBuilder::Topic(b) => b.append_value(m.topic()),
            MetaBuilder::Partition(b) => b.append_value(m.partition()),
            MetaBuilder::Offset(b) => b.append_value(m.offset()),
            MetaBuilder::Timestamp(b) => b.append_option(m.timestamp().to_millis()),
            MetaBuilder::TimestampType(b) => b.append_value(match m.timestamp() {
                Timestamp::NotAvailable => "NoTimestampType",
                Timestamp::CreateTime(_) => "CreateTime",
                Timestamp::LogAppendTime(_) => "LogAppendTime",
            }),
            MetaBuilder::Headers(b) => {
                if let Some(headers) = m.headers() {
                    for h in headers.iter() {
                        b.keys().append_value(h.key);
                        b.values().append_option(h.value);
                    }
                }
                b.append(true)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            MetaBuilder::Topic(b) | MetaBuilder::TimestampType(b) => Arc::new(b.finish()),
            MetaBuilder::Partition(b) => Arc::new(b.finish()),
            MetaBuilder::Offset(b) => Arc::new(b.finish()),
            MetaBuilder::Timestamp(b) => Arc::new(b.finish()),
            MetaBuilder::Headers(b) => Arc::new(b.finish()),
        }
    }
}

/// Why a record gave no row.
pub enum Skip {
    /// It could not be decoded: the message names its place.
    Bad(EngineError),
}

/// Decodes Kafka records into batches of a table's rows.
pub struct RecordDecoder {
    value: Decoder,
    key: Option<Decoder>,
    /// Per physical column: from the value (its index there) or the key.
    sources: Vec<(Option<usize>, Option<usize>)>,
    upsert: bool,
    schema: SchemaRef,
    metadata: Vec<MetadataColumn>,
    meta: Vec<MetaBuilder>,
    /// Rows that came from a tombstone (null value).
    tombstones: Vec<bool>,
}

impl RecordDecoder {
    /// A decoder for `table`'s records.
    pub fn new(table: &KafkaTable) -> Result<Self> {
        let value = Decoder::new(table.value_schema(), table.value_format.clone())?;
        let key = match (&table.key, table.key_schema()) {
            (Some((_, format)), Some(schema)) => Some(Decoder::new(schema, format.clone())?),
            _ => None,
        };
        let key_cols: &[usize] = table.key.as_ref().map(|k| k.0.as_slice()).unwrap_or(&[]);
        let sources = (0..table.schema.fields().len())
            .map(|i| {
                (
                    table.value_columns.iter().position(|c| *c == i),
                    key_cols.iter().position(|c| *c == i),
                )
            })
            .collect();
        let mut fields: Vec<Field> = table
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(
            table
                .metadata
                .iter()
                .map(|m| Field::new(&m.name, m.data_type.clone(), true)),
        );
        Ok(Self {
            value,
            key,
            sources,
            upsert: table.upsert,
            schema: Arc::new(Schema::new(fields)),
            meta: table
                .metadata
                .iter()
                .map(|m| MetaBuilder::new(&m.key))
                .collect::<Result<_>>()?,
            metadata: table.metadata.clone(),
            tombstones: vec![],
        })
    }

    /// Rows decoded and not yet flushed.
    pub fn buffered_rows(&self) -> usize {
        self.value.buffered_rows()
    }

    /// Records skipped as bad (`*.ignore-parse-errors`) since the last call.
    pub fn take_skipped(&mut self) -> u64 {
        self.value.take_skipped() + self.key.as_mut().map_or(0, Decoder::take_skipped)
    }

    /// Decodes one record; `source` names its topic and partition.
    pub fn decode<M: Message>(&mut self, m: &M, source: &str) -> std::result::Result<(), Skip> {
        let origin = Origin {
            source,
            line: m.offset().max(0) as u64,
            is_offset: true,
        };
        let before = self.value.buffered_rows();
        let rows = match m.payload() {
            None if self.upsert => {
                self.value.append_null_row(RowKind::Delete);
                1
            }
            None => 0,
            Some(bytes) => self
                .value
                .decode_counted(bytes, origin)
                .map_err(Skip::Bad)?,
        };
        if rows == 0 {
            return Ok(());
        }
        if let Some(key) = self.key.as_mut() {
            let key_before = key.buffered_rows();
            for _ in 0..rows {
                let got = match m.key() {
                    None => {
                        key.append_null_row(RowKind::Insert);
                        Ok(1)
                    }
                    Some(k) => key.decode_counted(k, origin),
                };
                if !matches!(got, Ok(1)) {
                    // Undo the value's rows: the record gives none.
                    let undo = self
                        .value
                        .rollback_to(before)
                        .and_then(|()| key.rollback_to(key_before));
                    return match (got, undo) {
                        (Err(e), _) | (_, Err(e)) => Err(Skip::Bad(e)),
                        (Ok(_), Ok(())) => Ok(()),
                    };
                }
            }
        }
        let tombstone = m.payload().is_none();
        for _ in 0..rows {
            self.tombstones.push(tombstone);
            for b in &mut self.meta {
                b.append(m).map_err(Skip::Bad)?;
            }
        }
        Ok(())
    }

    /// The rows decoded so far, if any.
    pub fn flush(&mut self) -> Result<Option<ChangeBatch>> {
        let Some(values) = self.value.flush_changes()? else {
            return Ok(None);
        };
        let keys = match self.key.as_mut() {
            Some(k) => k.flush()?,
            None => None,
        };
        let tombstones = BooleanArray::from(std::mem::take(&mut self.tombstones));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (from_value, from_key) in &self.sources {
            let key_col = match (from_key, &keys) {
                (Some(k), Some(keys)) => Some(keys.column(*k).clone()),
                _ => None,
            };
            let col = match (from_value, key_col) {
                // In both (value.fields-include = ALL): the value's, but
                // a tombstone has only the key.
                (Some(v), Some(k)) => zip(&tombstones, &k, values.data.column(*v))?,
                (Some(v), None) => values.data.column(*v).clone(),
                (None, Some(k)) => k,
                (None, None) => {
                    return Err(EngineError::Internal(
                        "a Kafka column is in neither key nor value".into(),
                    ));
                }
            };
            columns.push(col);
        }
        for (b, m) in self.meta.iter_mut().zip(&self.metadata) {
            let col = b.finish();
            columns.push(if col.data_type() == &m.data_type {
                col
            } else {
                cast(&col, &m.data_type)?
            });
        }
        let data = eddy_engine::batch::conform(&self.schema, columns)?;
        Ok(Some(values.with_data(data)))
    }
}

/// The writable metadata of a sink row: its timestamp and headers.
pub struct SinkMetadata {
    timestamp: Option<usize>,
    headers: Option<usize>,
}

impl SinkMetadata {
    /// Finds the writable metadata columns of `table` in a sink batch
    /// (physical columns first, then the metadata ones in order).
    pub fn new(table: &KafkaTable) -> Self {
        let at = |key: &str| {
            table
                .metadata
                .iter()
                .position(|m| m.key == key)
                .map(|i| table.schema.fields().len() + i)
        };
        Self {
            timestamp: at("timestamp"),
            headers: at("headers"),
        }
    }

    /// The record timestamp of `row` (ms), if the table writes one.
    pub fn timestamp(&self, batch: &RecordBatch, row: usize) -> Result<Option<i64>> {
        let Some(i) = self.timestamp else {
            return Ok(None);
        };
        let col = batch.column(i);
        if col.is_null(row) {
            return Ok(None);
        }
        let ms = cast(
            &col.slice(row, 1),
            &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None),
        )?;
        Ok(ms
            .as_primitive_opt::<datafusion::arrow::datatypes::TimestampMillisecondType>()
            .map(|a| a.value(0)))
    }

    /// The headers of `row`, if the table writes them.
    pub fn headers(
        &self,
        batch: &RecordBatch,
        row: usize,
    ) -> Option<rdkafka::message::OwnedHeaders> {
        let col = batch.column(self.headers?);
        let map = col.as_map_opt()?;
        if map.is_null(row) {
            return None;
        }
        let entries = map.value(row);
        let keys = cast(entries.column(0), &DataType::Utf8).ok()?;
        let values = cast(entries.column(1), &DataType::Binary).ok()?;
        let keys = keys.as_string::<i32>();
        let values = values.as_binary::<i32>();
        let mut out = rdkafka::message::OwnedHeaders::new();
        for i in 0..keys.len() {
            out = out.insert(rdkafka::message::Header {
                key: keys.value(i),
                value: (!values.is_null(i)).then(|| values.value(i)),
            });
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::options;
    use eddy_engine::connector::{TableOptions, TableRequest};
    use rdkafka::message::OwnedMessage;
    use std::collections::BTreeMap;

    fn table(opts: &[(&str, &str)], upsert: bool, pk: &[&str]) -> KafkaTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let entries: BTreeMap<String, String> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut req = TableRequest {
            table: "t".into(),
            schema,
            options: TableOptions::new("kafka", entries),
            primary_key: pk.iter().map(|s| s.to_string()).collect(),
            read_columns: None,
            metadata: vec![MetadataColumn {
                name: "off".into(),
                key: "offset".into(),
                data_type: DataType::Int64,
                is_virtual: true,
            }],
            idle_timeout: None,
        };
        options::parse(&mut req, upsert).expect("options").0
    }

    fn msg(key: Option<&str>, value: Option<&str>, offset: i64) -> OwnedMessage {
        OwnedMessage::new(
            value.map(|v| v.as_bytes().to_vec()),
            key.map(|k| k.as_bytes().to_vec()),
            "t".into(),
            Timestamp::CreateTime(1000),
            0,
            offset,
            None,
        )
    }

    fn lines(b: &ChangeBatch) -> Vec<String> {
        (0..b.num_rows())
            .map(|r| {
                let mut s = String::new();
                eddy_engine::value_text::write_row(&mut s, b.kind(r), b.data.columns(), r);
                s
            })
            .collect()
    }

    #[test]
    fn upsert_records_with_key_and_tombstone() {
        let t = table(
            &[
                ("topic", "t"),
                ("properties.bootstrap.servers", "x:1"),
                ("key.format", "json"),
                ("value.format", "json"),
                ("value.fields-include", "EXCEPT_KEY"),
            ],
            true,
            &["id"],
        );
        let mut d = RecordDecoder::new(&t).expect("decoder");
        assert!(
            d.decode(&msg(Some(r#"{"id":1}"#), Some(r#"{"name":"a"}"#), 7), "t/0")
                .is_ok()
        );
        assert!(d.decode(&msg(Some(r#"{"id":1}"#), None, 8), "t/0").is_ok());
        let b = d.flush().expect("flush").expect("rows");
        assert_eq!(lines(&b), vec!["+I[1, a, 7]", "-D[1, null, 8]"]);
    }

    #[test]
    fn a_bad_value_names_topic_partition_and_offset() {
        let t = table(
            &[
                ("topic", "t"),
                ("properties.bootstrap.servers", "x:1"),
                ("format", "json"),
            ],
            false,
            &[],
        );
        let mut d = RecordDecoder::new(&t).expect("decoder");
        let Err(Skip::Bad(e)) = d.decode(&msg(None, Some("{oops"), 42), "topic 't', partition 0")
        else {
            panic!("a bad record must fail");
        };
        assert!(
            e.to_string().contains("topic 't', partition 0, offset 42"),
            "{e}"
        );
        assert!(d.flush().expect("flush").is_none());
    }
}

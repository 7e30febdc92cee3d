//! Writing Kafka: each sink subtask produces one record per row, its key
//! and value each encoded in their format. `upsert-kafka` writes upserts
//! and, for a delete, a tombstone (a NULL value). With the at-least-once
//! guarantee every record is acknowledged before a checkpoint completes
//! and before the job ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use eddy_engine::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, EngineError, Result, RowKind};
use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use super::codec::SinkMetadata;
use super::kafka_error;
use super::options::{Delivery, KafkaTable, Partitioner};
use super::source::client_config;
use crate::format::encode::encode_row;

/// How long a flush may wait for acknowledgements.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates the writers of a Kafka table.
pub struct KafkaSinkFactory {
    table: Arc<KafkaTable>,
    topic: String,
}

impl KafkaSinkFactory {
    /// A sink writing `table`.
    pub fn new(table: KafkaTable) -> Result<Self> {
        let topic = table.sink_topic()?;
        Ok(Self {
            table: Arc::new(table),
            topic,
        })
    }
}

impl OperatorFactory for KafkaSinkFactory {
    fn name(&self) -> String {
        let kind = if self.table.upsert {
            "upsert-kafka"
        } else {
            "kafka"
        };
        format!("Sink: {kind}[{}]", self.table.describe())
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(KafkaSink {
            table: self.table.clone(),
            topic: self.topic.clone(),
            subtask: subtask.index,
            metadata: SinkMetadata::new(&self.table),
            producer: None,
            failure: Arc::new(Mutex::new(None)),
            partitions: 1,
            next_partition: subtask.index,
            value_schema: self.table.value_schema(),
            key_schema: self.table.key_schema(),
            key_text: String::new(),
            value_text: String::new(),
        }))
    }

    fn input_needs_update_before(&self, _output_needs: bool) -> bool {
        // An upsert sink applies `+U` by key; a changelog format writes
        // the `-U` as a delete event.
        !self.table.upsert
    }
}

/// Keeps the first delivery failure, which fails the job.
struct Deliveries {
    failure: Arc<Mutex<Option<String>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result
            && let Ok(mut slot) = self.failure.lock()
            && slot.is_none()
        {
            *slot = Some(e.to_string());
        }
    }
}

struct KafkaSink {
    table: Arc<KafkaTable>,
    topic: String,
    subtask: usize,
    metadata: SinkMetadata,
    producer: Option<BaseProducer<Deliveries>>,
    failure: Arc<Mutex<Option<String>>>,
    partitions: i32,
    next_partition: usize,
    /// The value's and the key's columns as their formats name them,
    /// built once.
    value_schema: SchemaRef,
    key_schema: Option<SchemaRef>,
    key_text: String,
    value_text: String,
}

impl KafkaSink {
    fn producer(&self) -> Result<&BaseProducer<Deliveries>> {
        self.producer
            .as_ref()
            .ok_or_else(|| EngineError::Internal("Kafka sink used before open".into()))
    }

    /// Fails if a record could not be delivered.
    fn check(&self) -> Result<()> {
        let failure = self.failure.lock().ok().and_then(|s| s.clone());
        match failure {
            Some(e) => Err(EngineError::Execution(format!(
                "Kafka: a record for topic '{}' of table '{}' could not be delivered: {e}",
                self.topic, self.table.table
            ))),
            None => Ok(()),
        }
    }

    /// Waits until every record sent is acknowledged.
    fn flush(&self) -> Result<()> {
        if let Some(p) = &self.producer {
            p.flush(FLUSH_TIMEOUT).map_err(|e| {
                kafka_error(&format!("flushing records to topic '{}'", self.topic), e)
            })?;
        }
        self.check()
    }

    fn partition(&mut self) -> Option<i32> {
        match self.table.partitioner {
            Partitioner::Default => None,
            Partitioner::Fixed => Some(self.subtask as i32 % self.partitions),
            Partitioner::RoundRobin => {
                self.next_partition = self.next_partition.wrapping_add(1);
                Some((self.next_partition % self.partitions as usize) as i32)
            }
        }
    }

    async fn send_row(
        &mut self,
        key: Option<&RecordBatch>,
        value: &RecordBatch,
        data: &RecordBatch,
        row: usize,
        kind: RowKind,
    ) -> Result<()> {
        let tombstone = self.table.upsert && !kind.is_addition();
        let format = &self.table.value_format;
        if !self.table.upsert && !format.is_changelog() && kind != RowKind::Insert {
            return Err(EngineError::Execution(format!(
                "Table sink '{}' (kafka, format '{}') only accepts inserts, but received {}",
                self.table.table,
                format.name(),
                kind.short()
            )));
        }
        self.value_text.clear();
        if !tombstone {
            encode_row(&mut self.value_text, value, row, kind, format);
        }
        self.key_text.clear();
        if let (Some(keys), Some((_, key_format))) = (key, &self.table.key) {
            encode_row(&mut self.key_text, keys, row, RowKind::Insert, key_format);
        }
        let timestamp = self.metadata.timestamp(data, row)?;
        let headers = self.metadata.headers(data, row);
        let partition = self.partition();
        let mut record: BaseRecord<'_, str, str> = BaseRecord::to(&self.topic);
        if !tombstone {
            record = record.payload(&self.value_text);
        }
        if key.is_some() {
            record = record.key(&self.key_text);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(t) = timestamp {
            record = record.timestamp(t);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        let producer = self.producer()?;
        loop {
            match producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // The local queue is full: wait for acknowledgements.
                    producer.poll(Duration::from_millis(5));
                    record = r;
                }
                Err((e, _)) => {
                    return Err(kafka_error(
                        &format!("sending a record to topic '{}'", self.topic),
                        e,
                    ));
                }
            }
        }
    }
}

#[async_trait]
impl Operator for KafkaSink {
    fn name(&self) -> String {
        format!("Sink: kafka[{}]", self.topic)
    }

    async fn open(&mut self, _ctx: &mut Context) -> Result<()> {
        // Kafka's Java client's partitioner (murmur2), so that keys land
        // where Flink would put them.
        let producer: BaseProducer<Deliveries> = client_config(
            &self.table,
            &[("partitioner", "murmur2_random"), ("linger.ms", "5")],
        )
        .create_with_context(Deliveries {
            failure: self.failure.clone(),
        })
        .map_err(|e| kafka_error("creating the producer", e))?;
        let md = producer
            .client()
            .fetch_metadata(Some(&self.topic), Duration::from_secs(30))
            .map_err(|e| kafka_error(&format!("reading metadata of topic '{}'", self.topic), e))?;
        let partitions = md
            .topics()
            .iter()
            .find(|t| t.name() == self.topic && t.error().is_none())
            .map(|t| t.partitions().len())
            .unwrap_or(0);
        if partitions == 0 {
            return Err(EngineError::Execution(format!(
                "Kafka topic '{}' of table '{}' does not exist",
                self.topic, self.table.table
            )));
        }
        self.partitions = partitions as i32;
        self.producer = Some(producer);
        Ok(())
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        let data = &batch.data;
        let value = data.project(&self.table.value_columns)?;
        let value = RecordBatch::try_new(self.value_schema.clone(), value.columns().to_vec())?;
        let key = match (&self.table.key, &self.key_schema) {
            (Some((cols, _)), Some(schema)) => Some(RecordBatch::try_new(
                schema.clone(),
                data.project(cols)?.columns().to_vec(),
            )?),
            _ => None,
        };
        for row in 0..batch.num_rows() {
            let kind = batch.kind(row);
            if self.table.upsert && kind == RowKind::UpdateBefore {
                continue;
            }
            self.send_row(key.as_ref(), &value, data, row, kind).await?;
        }
        self.producer()?.poll(Duration::ZERO);
        self.check()
    }

    async fn snapshot(&mut self, _checkpoint: u64, _ctx: &mut Context) -> Result<()> {
        match self.table.delivery {
            Delivery::AtLeastOnce => self.flush(),
            Delivery::None => self.check(),
        }
    }

    async fn close(&mut self, _ctx: &mut Context, _out: &mut dyn Emitter) -> Result<()> {
        self.flush()
    }
}

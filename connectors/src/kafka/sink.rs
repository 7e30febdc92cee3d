//! Writing Kafka: each sink subtask produces one record per row, its key
//! and value each encoded in their format. `upsert-kafka` writes upserts
//! and, for a delete, a tombstone (a NULL value). With the at-least-once
//! guarantee every record is acknowledged before a checkpoint completes
//! and before the job ends; with exactly-once the records go out in Kafka
//! transactions (see the `transaction` module).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use eddy_engine::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, EngineError, Result, RowKind};
use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use super::codec::SinkMetadata;
use super::kafka_error;
use super::options::{Delivery, KafkaTable, Partitioner};
use super::source::client_config;
use super::transaction::{self, Staged};
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
            writer: None,
            staged: None,
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
pub struct Deliveries {
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

/// A producer of one topic, transactional or not.
pub struct Writer {
    pub table: Arc<KafkaTable>,
    pub topic: String,
    pub producer: BaseProducer<Deliveries>,
    transactional_id: Option<String>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Writer {
    /// A producer for `topic`; with a transactional id, its transactions
    /// are initialized, which fences an older producer of that id and
    /// aborts the transaction it left open.
    pub fn new(
        table: Arc<KafkaTable>,
        topic: String,
        transactional_id: Option<&str>,
    ) -> Result<Self> {
        // Kafka's Java client's partitioner (murmur2), so that keys land
        // where Flink would put them.
        let mut config = client_config(
            &table,
            &[("partitioner", "murmur2_random"), ("linger.ms", "5")],
        );
        if let Some(id) = transactional_id {
            config.set("transactional.id", id);
        }
        let failure = Arc::new(Mutex::new(None));
        let producer: BaseProducer<Deliveries> = config
            .create_with_context(Deliveries {
                failure: failure.clone(),
            })
            .map_err(|e| kafka_error("creating the producer", e))?;
        if let Some(id) = transactional_id {
            producer
                .init_transactions(FLUSH_TIMEOUT)
                .map_err(|e| kafka_error(&format!("initializing transactions of id '{id}'"), e))?;
        }
        Ok(Self {
            table,
            topic,
            producer,
            transactional_id: transactional_id.map(str::to_string),
            failure,
        })
    }

    /// The producer's transactional id, if it has one.
    pub fn transactional_id(&self) -> Option<&str> {
        self.transactional_id.as_deref()
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
    pub fn flush(&self) -> Result<()> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(|e| kafka_error(&format!("flushing records to topic '{}'", self.topic), e))?;
        self.check()
    }
}

/// Sends one record, waiting while the local queue is full.
pub fn send<K, P>(writer: &Writer, mut record: BaseRecord<'_, K, P>) -> Result<()>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match writer.producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                // Wait for acknowledgements.
                writer.producer.poll(Duration::from_millis(5));
                record = r;
            }
            Err((e, _)) => {
                return Err(kafka_error(
                    &format!("sending a record to topic '{}'", writer.topic),
                    e,
                ));
            }
        }
    }
}

struct KafkaSink {
    table: Arc<KafkaTable>,
    topic: String,
    subtask: usize,
    metadata: SinkMetadata,
    writer: Option<Writer>,
    /// Exactly once with checkpoints: records wait for their checkpoint.
    staged: Option<Staged>,
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
    fn writer(&self) -> Result<&Writer> {
        self.writer
            .as_ref()
            .ok_or_else(|| EngineError::Internal("Kafka sink used before open".into()))
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
        if let Some(staged) = &mut self.staged {
            staged.staging.push(
                key.is_some().then_some(self.key_text.as_bytes()),
                (!tombstone).then_some(self.value_text.as_bytes()),
                partition,
                timestamp,
                headers.as_ref(),
            );
            return Ok(());
        }
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
        send(self.writer()?, record)
    }
}

#[async_trait]
impl Operator for KafkaSink {
    fn name(&self) -> String {
        format!("Sink: kafka[{}]", self.topic)
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        let prefix = match &self.table.delivery {
            Delivery::ExactlyOnce { prefix } => Some(prefix.clone()),
            _ => None,
        };
        let id = prefix
            .as_deref()
            .map(|p| transaction::transactional_id(p, self.subtask));
        let writer = Writer::new(self.table.clone(), self.topic.clone(), id.as_deref())?;
        let md = writer
            .producer
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
        if let Some(prefix) = prefix {
            match &ctx.state {
                Some(store) => {
                    let explicit = store.restore_is_explicit();
                    // At a lower parallelism, this subtask also finishes
                    // what old subtasks `index + k * parallelism` left.
                    for (old, state) in ctx.restored_state_of_orphans()? {
                        transaction::recover_orphan(&self.table, &self.topic, &prefix, old, state)?;
                    }
                    self.staged = Some(Staged::start(&writer, ctx.restored_state()?, explicit)?);
                }
                // No checkpoints: one transaction, committed at the end.
                None => writer
                    .producer
                    .begin_transaction()
                    .map_err(|e| kafka_error("beginning a transaction", e))?,
            }
        }
        self.writer = Some(writer);
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
        let writer = self.writer()?;
        writer.producer.poll(Duration::ZERO);
        writer.check()
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        if let Some(staged) = &mut self.staged {
            return ctx.save_state(checkpoint, staged.snapshot(checkpoint)?);
        }
        let writer = self.writer()?;
        match self.table.delivery {
            Delivery::AtLeastOnce => writer.flush(),
            // Without checkpoints nothing else waits for the transaction.
            Delivery::None | Delivery::ExactlyOnce { .. } => writer.check(),
        }
    }

    fn awaits_final_commit(&self) -> bool {
        self.staged.as_ref().is_some_and(Staged::has_pending)
    }

    async fn on_checkpoint_complete(&mut self, id: u64, _ctx: &mut Context) -> Result<()> {
        match (&mut self.staged, &self.writer) {
            (Some(staged), Some(writer)) => staged.complete(writer, id),
            _ => Ok(()),
        }
    }

    async fn close(&mut self, _ctx: &mut Context, _out: &mut dyn Emitter) -> Result<()> {
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        if self.staged.is_some() {
            // The final snapshot takes the staged records; a checkpoint
            // holding it commits them (see `awaits_final_commit`).
            return Ok(());
        }
        writer.flush()?;
        if writer.transactional_id().is_some() {
            writer
                .producer
                .commit_transaction(FLUSH_TIMEOUT)
                .map_err(|e| {
                    kafka_error(
                        &format!("committing the transaction of topic '{}'", self.topic),
                        e,
                    )
                })?;
        }
        Ok(())
    }
}

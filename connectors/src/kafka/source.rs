//! Reading Kafka: each source subtask owns the partitions assigned to it
//! (assigned directly, never through a consumer group's rebalancing) and
//! reads them on a thread of its own, which decodes records into batches
//! and hands them to the runtime. Each partition is a split, so it has its
//! own watermark; a partition quiet for `table.exec.source.idle-timeout`
//! stops holding the watermark back.
//!
//! Checkpoints record, per partition, the offset of the next record the
//! runtime has not received yet: every event from the reader carries its
//! partition's position, and the source keeps the positions of the events
//! it has handed over (the reader runs ahead). A restored source starts
//! each partition it owns there, whatever `scan.startup.mode` says.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
use eddy_engine::metrics::OperatorMetrics;
use eddy_engine::operator::{Context, Source, SourceEvent, SourceFactory, SubtaskInfo};
use eddy_engine::{EngineError, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use assign::owner;

use super::codec::{RecordDecoder, Skip};
use super::kafka_error;
use super::options::{BoundedMode, KafkaTable};

/// Rows per batch at most.
const BATCH_ROWS: usize = 8192;
/// How long a poll waits when nothing is buffered.
const POLL: Duration = Duration::from_millis(50);
/// Timeout of metadata and offset requests.
const REQUEST: Duration = Duration::from_secs(30);
/// How often positions are committed to the group, for monitoring.
const COMMIT_EVERY: Duration = Duration::from_secs(5);

/// Creates the readers of a Kafka table.
pub struct KafkaSourceFactory {
    table: Arc<KafkaTable>,
}

impl KafkaSourceFactory {
    /// A source reading `table`.
    pub fn new(table: KafkaTable) -> Result<Self> {
        // Fail early on types the formats cannot read.
        RecordDecoder::new(&table)?;
        Ok(Self {
            table: Arc::new(table),
        })
    }
}

impl SourceFactory for KafkaSourceFactory {
    fn name(&self) -> String {
        let kind = if self.table.upsert {
            "upsert-kafka"
        } else {
            "kafka"
        };
        format!("{kind}[{}]", self.table.describe())
    }

    fn is_bounded(&self) -> bool {
        self.table.bounded != BoundedMode::Unbounded
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>> {
        Ok(Box::new(KafkaSource {
            table: self.table.clone(),
            subtask: subtask.clone(),
            events: None,
            stop: Arc::new(AtomicBool::new(false)),
            positions: BTreeMap::new(),
        }))
    }
}

/// A topic partition.
type TopicPartition = (String, i32);

/// An event from the reader thread, with the position of its partition
/// after it.
struct Delivery {
    event: SourceEvent,
    position: Option<(TopicPartition, i64)>,
}

struct KafkaSource {
    table: Arc<KafkaTable>,
    subtask: SubtaskInfo,
    events: Option<mpsc::Receiver<Result<Delivery>>>,
    stop: Arc<AtomicBool>,
    /// The next offset of every owned partition, as of the events handed
    /// to the runtime.
    positions: BTreeMap<TopicPartition, i64>,
}

fn position_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
    ]))
}

impl KafkaSource {
    /// The positions of every subtask of the checkpoint restored, of the
    /// partitions this subtask owns now.
    fn restored(&self, ctx: &Context) -> Result<HashMap<TopicPartition, i64>> {
        let mut out = HashMap::new();
        for batch in ctx.restored_state_of_all_subtasks()?.into_iter().flatten() {
            if batch.schema() != position_schema() {
                return Err(EngineError::State(format!(
                    "the checkpointed offsets of {} have an unknown layout",
                    self.table.describe()
                )));
            }
            let topics = batch.column(0).as_string::<i32>();
            let partitions = batch.column(1).as_primitive::<Int32Type>();
            let offsets = batch.column(2).as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                let (t, p) = (topics.value(i), partitions.value(i));
                if owner(t, p, self.subtask.parallelism) == self.subtask.index {
                    out.insert((t.to_string(), p), offsets.value(i));
                }
            }
        }
        Ok(out)
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[async_trait]
impl Source for KafkaSource {
    fn name(&self) -> String {
        format!("kafka[{}]", self.table.describe())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        let restored = self.restored(ctx)?;
        self.positions = restored.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let (tx, rx) = mpsc::channel(4);
        let mut reader = Reader::new(
            self.table.clone(),
            &self.subtask,
            tx.clone(),
            self.stop.clone(),
            ctx.metrics.clone(),
            restored,
        )?;
        std::thread::Builder::new()
            .name(format!("kafka-{}", self.subtask.index))
            .spawn(move || {
                if let Err(e) = reader.run() {
                    let _ = tx.blocking_send(Err(e));
                }
                reader.close();
            })
            .map_err(|source| EngineError::Io {
                context: "starting the Kafka reader thread".into(),
                source,
            })?;
        self.events = Some(rx);
        Ok(())
    }

    async fn next(&mut self, _ctx: &mut Context) -> Result<SourceEvent> {
        let Some(rx) = self.events.as_mut() else {
            return Err(EngineError::Internal(
                "Kafka source read before open".into(),
            ));
        };
        match rx.recv().await {
            Some(delivery) => {
                let Delivery { event, position } = delivery?;
                if let Some((tp, offset)) = position {
                    self.positions.insert(tp, offset);
                }
                Ok(event)
            }
            None => Err(EngineError::Internal(
                "the Kafka reader thread stopped".into(),
            )),
        }
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let batch = RecordBatch::try_new(
            position_schema(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    self.positions.keys().map(|(t, _)| t.as_str()),
                )),
                Arc::new(Int32Array::from_iter_values(
                    self.positions.keys().map(|(_, p)| *p),
                )),
                Arc::new(Int64Array::from_iter_values(
                    self.positions.values().copied(),
                )),
            ],
        )?;
        ctx.save_state(checkpoint, vec![batch])
    }
}

/// One assigned partition.
struct Partition {
    topic: String,
    partition: i32,
    /// `topic 'bids', partition 0`, for messages.
    label: String,
    /// The offset of the next record to read.
    position: i64,
    /// Exclusive end of a bounded read.
    stop_at: Option<i64>,
    done: bool,
    /// When it was last seen sending, as of the last check.
    last_seen: Instant,
    /// It sent since the last check (cheaper than reading the clock for
    /// every record).
    seen: bool,
    idle: bool,
}

struct Reader {
    table: Arc<KafkaTable>,
    subtask: usize,
    parallelism: usize,
    /// Shared so that a polled record (which borrows it) does not borrow
    /// the reader.
    consumer: Arc<BaseConsumer>,
    decoder: RecordDecoder,
    events: mpsc::Sender<Result<Delivery>>,
    stop: Arc<AtomicBool>,
    metrics: Arc<OperatorMetrics>,
    /// Where a restored checkpoint left the partitions this subtask owns.
    restored: HashMap<TopicPartition, i64>,
    /// Assigned partitions; a partition's index is its split.
    partitions: Vec<Partition>,
    by_name: HashMap<(String, i32), usize>,
    /// The split the buffered rows come from.
    buffered_split: Option<usize>,
    dead_letter: Option<(BaseProducer, String)>,
    last_discovery: Instant,
    last_commit: Instant,
    /// Records of bounded partitions read and not yet reported (progress).
    unreported: u64,
}

/// A client configuration from the table's `properties.*`, with Eddy's
/// defaults where the table sets none.
pub fn client_config(table: &KafkaTable, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in defaults {
        config.set(*k, *v);
    }
    for (k, v) in &table.properties {
        config.set(k, v);
    }
    config
}

impl Reader {
    fn new(
        table: Arc<KafkaTable>,
        subtask: &SubtaskInfo,
        events: mpsc::Sender<Result<Delivery>>,
        stop: Arc<AtomicBool>,
        metrics: Arc<OperatorMetrics>,
        restored: HashMap<TopicPartition, i64>,
    ) -> Result<Self> {
        let group = table
            .group_id
            .clone()
            .unwrap_or_else(|| format!("eddy-{}", subtask.job_name));
        let consumer: BaseConsumer = client_config(
            &table,
            &[
                ("fetch.wait.max.ms", "10"),
                ("auto.offset.reset", "earliest"),
                // librdkafka pauses a partition's fetching this long once
                // its local queue is full (default 1 s): a reader that
                // drains the queue quickly then sat idle most of the time.
                ("fetch.queue.backoff.ms", "10"),
            ],
        )
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .map_err(|e| kafka_error("creating the consumer", e))?;
        let dead_letter = match &table.dead_letter {
            None => None,
            Some(topic) => {
                let producer: BaseProducer = client_config(&table, &[])
                    .create()
                    .map_err(|e| kafka_error("creating the dead-letter producer", e))?;
                Some((producer, topic.clone()))
            }
        };
        Ok(Self {
            decoder: RecordDecoder::new(&table)?,
            table,
            subtask: subtask.index,
            parallelism: subtask.parallelism,
            consumer: Arc::new(consumer),
            events,
            stop,
            metrics,
            restored,
            partitions: vec![],
            by_name: HashMap::new(),
            buffered_split: None,
            dead_letter,
            last_discovery: Instant::now(),
            last_commit: Instant::now(),
            unreported: 0,
        })
    }

    /// Sends an event with its partition's position; `false` when the
    /// job no longer listens.
    fn send(&self, event: SourceEvent) -> bool {
        let split = match &event {
            SourceEvent::Batch { split, .. }
            | SourceEvent::SplitStart(split)
            | SourceEvent::SplitEnd(split) => Some(*split),
            SourceEvent::SplitIdle(_) | SourceEvent::End => None,
        };
        let position = split
            .and_then(|s| self.partitions.get(s))
            .map(|p| ((p.topic.clone(), p.partition), p.position));
        self.events
            .blocking_send(Ok(Delivery { event, position }))
            .is_ok()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.events.is_closed()
    }

    /// Sends the buffered rows as a batch of their split.
    fn flush(&mut self) -> Result<bool> {
        self.metrics
            .add_work_done(std::mem::take(&mut self.unreported));
        let skipped = self.decoder.take_skipped();
        if skipped > 0 {
            self.metrics.add_skipped(skipped);
        }
        let Some(split) = self.buffered_split.take() else {
            return Ok(true);
        };
        match self.decoder.flush()? {
            Some(batch) => Ok(self.send(SourceEvent::Batch { split, batch })),
            None => Ok(true),
        }
    }

    /// Partition `split` reached its end: ends its split and stops
    /// fetching it.
    fn finish_partition(&mut self, split: usize) -> Result<bool> {
        if !self.flush()? {
            return Ok(false);
        }
        let p = &mut self.partitions[split];
        p.done = true;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&p.topic, p.partition);
        // Stopping the fetch is an optimisation; a failure loses nothing.
        let _ = self.consumer.pause(&tpl);
        Ok(self.send(SourceEvent::SplitEnd(split)))
    }

    fn run(&mut self) -> Result<()> {
        let all = self.list_partitions()?;
        self.assign(all, true)?;
        let bounded = self.table.bounded != BoundedMode::Unbounded;
        let mut last: Option<(String, i32, usize)> = None;
        // Records since the clock was last read: a busy reader still looks
        // after idle partitions, discovery and commits.
        let mut since_check = 0u32;
        let mut checked = Instant::now();
        loop {
            if self.stopped() {
                return Ok(());
            }
            since_check += 1;
            if since_check >= 1024 {
                since_check = 0;
                if checked.elapsed() >= Duration::from_millis(100) {
                    checked = Instant::now();
                    if !self.flush()? {
                        return Ok(());
                    }
                    self.housekeeping()?;
                }
            }
            if bounded && self.partitions.iter().all(|p| p.done) {
                self.flush()?;
                self.commit();
                // Before the end: the process may exit once it is sent.
                self.flush_dead_letters()?;
                self.send(SourceEvent::End);
                return Ok(());
            }
            let wait = if self.buffered_split.is_some() {
                Duration::ZERO
            } else {
                POLL
            };
            let consumer = self.consumer.clone();
            let polled = consumer.poll(wait);
            let message = match polled {
                None => {
                    if !self.flush()? {
                        return Ok(());
                    }
                    self.housekeeping()?;
                    continue;
                }
                Some(Err(e)) => {
                    // librdkafka retries broker faults itself; it reports
                    // them here too. Fatal errors end the job.
                    if let Some(code) = e.rdkafka_error_code()
                        && matches!(
                            code,
                            rdkafka::types::RDKafkaErrorCode::Fatal
                                | rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition
                                | rdkafka::types::RDKafkaErrorCode::TopicAuthorizationFailed
                        )
                    {
                        return Err(kafka_error("reading", e));
                    }
                    continue;
                }
                Some(Ok(m)) => m,
            };
            let split = match &last {
                Some((t, p, s)) if *p == message.partition() && t == message.topic() => *s,
                _ => {
                    let key = (message.topic().to_string(), message.partition());
                    let Some(s) = self.by_name.get(&key).copied() else {
                        continue;
                    };
                    last = Some((key.0, key.1, s));
                    s
                }
            };
            let p = &self.partitions[split];
            if p.done {
                continue;
            }
            if p.stop_at.is_some_and(|s| message.offset() >= s) {
                drop(message);
                if !self.finish_partition(split)? {
                    return Ok(());
                }
                continue;
            }
            if self.buffered_split != Some(split) {
                if !self.flush()? {
                    return Ok(());
                }
                self.buffered_split = Some(split);
            }
            let label = &self.partitions[split].label;
            match self.decoder.decode(&message, label) {
                Ok(()) => {}
                Err(Skip::Bad(e)) => match &self.dead_letter {
                    None => return Err(e),
                    Some((producer, topic)) => {
                        dead_letter(producer, topic, &message, &e.to_string(), label)?;
                        self.metrics.add_skipped(1);
                    }
                },
            }
            let offset = message.offset();
            drop(message);
            let p = &mut self.partitions[split];
            if p.stop_at.is_some() {
                self.unreported += u64::try_from(offset + 1 - p.position).unwrap_or(1);
            }
            p.position = offset + 1;
            p.seen = true;
            p.idle = false;
            let ended = p.stop_at.is_some_and(|s| p.position >= s);
            if ended {
                if !self.finish_partition(split)? {
                    return Ok(());
                }
            } else if self.decoder.buffered_rows() >= BATCH_ROWS && !self.flush()? {
                return Ok(());
            }
        }
    }

    /// Between records: idle partitions, new partitions, offset commits,
    /// and bounded partitions whose last records were compacted away.
    fn housekeeping(&mut self) -> Result<()> {
        let now = Instant::now();
        if let Some(timeout) = self.table.idle_timeout {
            for split in 0..self.partitions.len() {
                let p = &mut self.partitions[split];
                if std::mem::take(&mut p.seen) {
                    p.last_seen = now;
                }
                if !p.done && !p.idle && now.duration_since(p.last_seen) >= timeout {
                    p.idle = true;
                    if !self.send(SourceEvent::SplitIdle(split)) {
                        return Ok(());
                    }
                }
            }
        }
        if let Some(every) = self.table.discovery
            && now.duration_since(self.last_discovery) >= every
        {
            self.last_discovery = now;
            let all = self.list_partitions()?;
            self.assign(all, false)?;
        }
        if now.duration_since(self.last_commit) >= COMMIT_EVERY {
            self.last_commit = now;
            self.commit();
        }
        if self.table.bounded != BoundedMode::Unbounded {
            let positions = self.consumer.position().ok();
            for split in 0..self.partitions.len() {
                let p = &self.partitions[split];
                let Some(stop) = p.stop_at.filter(|_| !p.done) else {
                    continue;
                };
                let at = positions
                    .as_ref()
                    .and_then(|t| t.find_partition(&p.topic, p.partition))
                    .and_then(|e| match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    });
                if at.is_some_and(|o| o >= stop) && !self.finish_partition(split)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Commits the read positions to the group (for monitoring only: the
    /// source restarts from its own positions, not the group's).
    fn commit(&self) {
        if self.table.group_id.is_none() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for p in &self.partitions {
            let _ = tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.position));
        }
        if tpl.count() > 0 {
            let _ = self.consumer.commit(&tpl, CommitMode::Async);
        }
    }

    /// Waits until the bad records sent to the dead-letter topic are
    /// acknowledged.
    fn flush_dead_letters(&self) -> Result<()> {
        match &self.dead_letter {
            Some((producer, topic)) => producer
                .flush(REQUEST)
                .map_err(|e| kafka_error(&format!("writing to dead-letter topic '{topic}'"), e)),
            None => Ok(()),
        }
    }

    fn close(&mut self) {
        self.commit();
        let _ = self.flush_dead_letters();
    }
}

/// Sends a record that could not be decoded to the dead-letter topic, as
/// it was, with the error and its origin in headers.
fn dead_letter<M: Message>(
    producer: &BaseProducer,
    topic: &str,
    m: &M,
    error: &str,
    origin: &str,
) -> Result<()> {
    let offset = m.offset().to_string();
    let partition = m.partition().to_string();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "eddy.error",
            value: Some(error),
        })
        .insert(Header {
            key: "eddy.source.topic",
            value: Some(m.topic()),
        })
        .insert(Header {
            key: "eddy.source.partition",
            value: Some(&partition),
        })
        .insert(Header {
            key: "eddy.source.offset",
            value: Some(&offset),
        });
    let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).headers(headers);
    if let Some(k) = m.key() {
        record = record.key(k);
    }
    if let Some(v) = m.payload() {
        record = record.payload(v);
    }
    loop {
        match producer.send(record) {
            Ok(()) => break,
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                r,
            )) => {
                producer.poll(Duration::from_millis(10));
                record = r;
            }
            Err((e, _)) => {
                return Err(kafka_error(
                    &format!(
                        "sending the bad record at {origin}, offset {offset} to dead-letter topic '{topic}'"
                    ),
                    e,
                ));
            }
        }
    }
    producer.poll(Duration::ZERO);
    Ok(())
}

mod assign;
#[cfg(test)]
mod tests;

//! Exactly-once writing to Kafka (`sink.delivery-guarantee` =
//! 'exactly-once'): records go out in Kafka transactions, so that readers
//! with `isolation.level` = `read_committed` (librdkafka's default) see
//! each exactly once across crashes and restarts.
//!
//! With checkpoints, a sink subtask stages its records (encoded, with their
//! partition, timestamp and headers) and keeps them in its checkpoint
//! state; when the checkpoint completes it writes them in one transaction
//! under the transactional id `<prefix>-<subtask>`, which also commits a
//! *marker*: offset = the checkpoint id, for partition 0 of the topic, in
//! the consumer group `<prefix>-<subtask>-<lineage>` (`lineage` is a nonce
//! the subtask draws on a fresh start and keeps in its state). The marker
//! says, atomically with the records, which checkpoints are written.
//!
//! Flink's sink writes into the transaction as records come and, after a
//! crash, resumes the transaction with the producer id and epoch it kept;
//! librdkafka cannot resume a transaction, so Eddy writes only what a
//! complete checkpoint holds and can therefore always write it again.
//!
//! Crash windows (the restart restores the latest complete checkpoint `c`):
//!
//! - before `c + 1` completes: its records are staged, not written (or
//!   written in a transaction not committed, which `init_transactions`
//!   aborts); the sources replay them from `c`;
//! - after a checkpoint completes, before or while its transaction
//!   commits: the restored state holds the records; the marker is below
//!   their checkpoint, so the restart writes them again (the open
//!   transaction aborted) and commits;
//! - after the commit: the marker covers them and the restart skips them.
//!
//! At the end of input the records staged since the last checkpoint go
//! into the subtask's final state, and its task waits, as Flink's final
//! checkpoint does, until a checkpoint holding that state completes, then
//! commits them with the marker [`FINAL`]. So a restore that replays input
//! never finds its records committed, and a restore of a later checkpoint
//! (whose sources are finished) commits them if that commit did not happen.
//!
//! A restore from a savepoint the user names (`execution.savepoint.path`)
//! forks the job's history: the savepoint's own records are written if its
//! lineage never committed them, and the fork then commits under a new
//! lineage; what it writes after the savepoint is written again, as with
//! Flink. At another parallelism, a subtask also finishes the transactions
//! of the old subtasks `index + k * parallelism` that no longer exist.
//!
//! Without checkpoints each subtask writes everything in one transaction,
//! committed at the end of input: readers see the output when the job ends.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::{
    Array, AsArray, BinaryBuilder, Int32Builder, Int64Array, Int64Builder, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
use eddy_engine::checkpoint::FINAL_CHECKPOINT;
use eddy_engine::{EngineError, Result};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::kafka_error;
use super::options::KafkaTable;
use super::sink::{Writer, send};
use super::source::client_config;

/// The marker (and checkpoint tag) of the records staged at the end of
/// input: above every checkpoint id.
const FINAL: i64 = 1 << 62;

/// The tag of records staged by `checkpoint`.
fn tag(checkpoint: u64) -> i64 {
    if checkpoint == FINAL_CHECKPOINT {
        FINAL
    } else {
        checkpoint as i64
    }
}

/// How long a transactional call may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The transactional id of subtask `index`.
pub fn transactional_id(prefix: &str, index: usize) -> String {
    format!("{prefix}-{index}")
}

/// A new lineage nonce.
fn new_lineage() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{:016x}", nanos ^ (u64::from(std::process::id()) << 40))
}

/// Staged records: one row per record, with the checkpoint that holds it.
fn staged_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("checkpoint", DataType::Int64, false),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("partition", DataType::Int32, true),
        Field::new("timestamp", DataType::Int64, true),
        Field::new("headers", DataType::Binary, true),
    ]))
}

/// The lineage, first batch of the state.
fn lineage_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "lineage",
        DataType::Utf8,
        false,
    )]))
}

/// Records staged since the last checkpoint, column by column.
#[derive(Default)]
pub struct Staging {
    key: BinaryBuilder,
    value: BinaryBuilder,
    partition: Int32Builder,
    timestamp: Int64Builder,
    headers: BinaryBuilder,
    encoded: Vec<u8>,
    rows: usize,
}

impl Staging {
    /// Stages one record.
    pub fn push(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partition: Option<i32>,
        timestamp: Option<i64>,
        headers: Option<&OwnedHeaders>,
    ) {
        self.key.append_option(key);
        self.value.append_option(value);
        self.partition.append_option(partition);
        self.timestamp.append_option(timestamp);
        match headers {
            Some(h) => {
                self.encoded.clear();
                encode_headers(h, &mut self.encoded);
                self.headers.append_value(&self.encoded);
            }
            None => self.headers.append_null(),
        }
        self.rows += 1;
    }

    /// The staged records as a batch held by `checkpoint`, if any.
    fn take(&mut self, checkpoint: u64) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.rows);
        Ok(Some(RecordBatch::try_new(
            staged_schema(),
            vec![
                Arc::new(Int64Array::from(vec![tag(checkpoint); rows])),
                Arc::new(self.key.finish()),
                Arc::new(self.value.finish()),
                Arc::new(self.partition.finish()),
                Arc::new(self.timestamp.finish()),
                Arc::new(self.headers.finish()),
            ],
        )?))
    }
}

/// Headers as bytes: per header its key's length (u32) and key, then its
/// value's length (i32, -1 for none) and value.
fn encode_headers(headers: &OwnedHeaders, out: &mut Vec<u8>) {
    for h in headers.iter() {
        out.extend_from_slice(&(h.key.len() as u32).to_le_bytes());
        out.extend_from_slice(h.key.as_bytes());
        match h.value {
            Some(v) => {
                out.extend_from_slice(&(v.len() as i32).to_le_bytes());
                out.extend_from_slice(v);
            }
            None => out.extend_from_slice(&(-1i32).to_le_bytes()),
        }
    }
}

fn decode_headers(mut bytes: &[u8]) -> Result<OwnedHeaders> {
    let bad = || EngineError::State("the staged Kafka headers are corrupt".into());
    let mut take = |n: usize| -> Result<&[u8]> {
        let (head, rest) = bytes.split_at_checked(n).ok_or_else(bad)?;
        bytes = rest;
        Ok(head)
    };
    let mut headers = OwnedHeaders::new();
    loop {
        let Ok(len) = take(4) else { break };
        let len = u32::from_le_bytes(len.try_into().map_err(|_| bad())?) as usize;
        let key = std::str::from_utf8(take(len)?)
            .map_err(|_| bad())?
            .to_string();
        let len = i32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?);
        let value = if len < 0 {
            None
        } else {
            Some(take(len as usize)?)
        };
        headers = headers.insert(Header { key: &key, value });
    }
    Ok(headers)
}

/// A subtask's transactions when the job checkpoints.
pub struct Staged {
    /// The lineage whose marker group the commits go to.
    lineage: String,
    /// That group, as transactions name it.
    group: ConsumerGroupMetadata,
    /// Records of checkpoints taken and not yet complete, a batch each.
    pending: Vec<RecordBatch>,
    /// Records since the last checkpoint.
    pub staging: Staging,
}

impl Staged {
    /// Starts the subtask: finishes what the restored checkpoint left of
    /// its own transactions (`state`, empty on a fresh start) with
    /// `writer`, whose producer has the subtask's transactional id. After
    /// an `explicit` restore the subtask commits under a new lineage.
    pub fn start(writer: &Writer, state: Vec<RecordBatch>, explicit: bool) -> Result<Staged> {
        let lineage = match recover(writer, state)? {
            Some(lineage) if !explicit => lineage,
            _ => new_lineage(),
        };
        Ok(Staged {
            group: group_metadata(&marker_consumer(writer, &lineage)?)?,
            lineage,
            pending: vec![],
            staging: Staging::default(),
        })
    }

    /// Whether records wait for a checkpoint to complete.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Checkpoint `checkpoint` is taken (or, [`FINAL_CHECKPOINT`], the
    /// final state): the staged records become its; returns the state to
    /// save.
    pub fn snapshot(&mut self, checkpoint: u64) -> Result<Vec<RecordBatch>> {
        if let Some(batch) = self.staging.take(checkpoint)? {
            self.pending.push(batch);
        }
        let lineage = RecordBatch::try_new(
            lineage_schema(),
            vec![Arc::new(StringArray::from(vec![self.lineage.clone()]))],
        )?;
        let mut state = vec![lineage];
        state.extend(self.pending.iter().cloned());
        Ok(state)
    }

    /// Checkpoint `id` completed: its records, those of earlier
    /// checkpoints, and the final state's (which only a checkpoint holding
    /// it reports) are written and committed.
    pub fn complete(&mut self, writer: &Writer, id: u64) -> Result<()> {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|b| checkpoint_of(b) <= id as i64 || checkpoint_of(b) == FINAL);
        self.pending = rest;
        let Some(marker) = done.iter().map(checkpoint_of).max() else {
            return Ok(());
        };
        commit(writer, &self.group, &done, marker.max(id as i64))
    }
}

/// The checkpoint holding a batch of staged records (one per batch).
fn checkpoint_of(batch: &RecordBatch) -> i64 {
    let c = batch.column(0).as_primitive::<Int64Type>();
    if c.is_empty() { -1 } else { c.value(0) }
}

/// Finishes the transactions a checkpoint's `state` of one subtask left,
/// with `writer`, whose producer has that subtask's transactional id and
/// has aborted any transaction it left open: the records its marker does
/// not cover are written and committed. Returns the restored lineage.
fn recover(writer: &Writer, state: Vec<RecordBatch>) -> Result<Option<String>> {
    let mut lineage = None;
    let mut pending = vec![];
    for batch in state {
        if batch.schema() == lineage_schema() && batch.num_rows() == 1 {
            lineage = Some(batch.column(0).as_string::<i32>().value(0).to_string());
        } else if batch.schema() == staged_schema() {
            pending.push(batch);
        } else {
            return Err(EngineError::State(format!(
                "the checkpointed transactions of Kafka sink '{}' have an unknown layout",
                writer.table.table
            )));
        }
    }
    let Some(lineage) = lineage else {
        return Ok(None);
    };
    let consumer = marker_consumer(writer, &lineage)?;
    let marker = committed_marker(writer, &lineage, &consumer)?;
    let left: Vec<RecordBatch> = pending
        .into_iter()
        .filter(|b| checkpoint_of(b) > marker)
        .collect();
    if let Some(last) = left.iter().map(checkpoint_of).max() {
        commit(writer, &group_metadata(&consumer)?, &left, last)?;
    }
    Ok(Some(lineage))
}

/// Finishes what old subtask `old` (gone at the new parallelism) left.
pub fn recover_orphan(
    table: &Arc<KafkaTable>,
    topic: &str,
    prefix: &str,
    old: usize,
    state: Vec<RecordBatch>,
) -> Result<()> {
    let writer = Writer::new(
        table.clone(),
        topic.to_string(),
        Some(&transactional_id(prefix, old)),
    )?;
    recover(&writer, state).map(|_| ())
}

/// The consumer group of a lineage's marker.
fn marker_group(writer: &Writer, lineage: &str) -> String {
    format!(
        "{}-{lineage}",
        writer.transactional_id().unwrap_or_default()
    )
}

/// A consumer of the marker group, which reads and commits nothing else.
fn marker_consumer(writer: &Writer, lineage: &str) -> Result<BaseConsumer> {
    let mut config = client_config(&writer.table, &[]);
    config.set("group.id", marker_group(writer, lineage));
    config.set("enable.auto.commit", "false");
    config
        .create()
        .map_err(|e| kafka_error("creating the transaction marker's consumer", e))
}

/// The marker group of `consumer`, as transactions name it.
fn group_metadata(consumer: &BaseConsumer) -> Result<ConsumerGroupMetadata> {
    consumer
        .group_metadata()
        .ok_or_else(|| EngineError::Execution("Kafka: no consumer group metadata".into()))
}

/// The checkpoint a lineage's last commit covered (read with `consumer`
/// of its marker group); -1 if none.
fn committed_marker(writer: &Writer, lineage: &str, consumer: &BaseConsumer) -> Result<i64> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&writer.topic, 0);
    let committed = consumer.committed_offsets(tpl, TIMEOUT).map_err(|e| {
        kafka_error(
            &format!(
                "reading the transaction marker of group '{}'",
                marker_group(writer, lineage)
            ),
            e,
        )
    })?;
    Ok(
        match committed
            .find_partition(&writer.topic, 0)
            .map(|p| p.offset())
        {
            Some(Offset::Offset(n)) => n,
            _ => -1,
        },
    )
}

/// Writes `batches` of staged records in one transaction that also
/// commits `marker` in the lineage's marker `group`.
fn commit(
    writer: &Writer,
    group: &ConsumerGroupMetadata,
    batches: &[RecordBatch],
    marker: i64,
) -> Result<()> {
    let producer = &writer.producer;
    let failed = |what: &str, e| kafka_error(&format!("{what} (topic '{}')", writer.topic), e);
    producer
        .begin_transaction()
        .map_err(|e| failed("beginning a transaction", e))?;
    for batch in batches {
        let keys = batch.column(1).as_binary::<i32>();
        let values = batch.column(2).as_binary::<i32>();
        let partitions = batch.column(3).as_primitive::<Int32Type>();
        let timestamps = batch.column(4).as_primitive::<Int64Type>();
        let headers = batch.column(5).as_binary::<i32>();
        for row in 0..batch.num_rows() {
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&writer.topic);
            if keys.is_valid(row) {
                record = record.key(keys.value(row));
            }
            if values.is_valid(row) {
                record = record.payload(values.value(row));
            }
            if partitions.is_valid(row) {
                record = record.partition(partitions.value(row));
            }
            if timestamps.is_valid(row) {
                record = record.timestamp(timestamps.value(row));
            }
            if headers.is_valid(row) {
                record = record.headers(decode_headers(headers.value(row))?);
            }
            send(writer, record)?;
        }
    }
    writer.flush()?;
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(&writer.topic, 0, Offset::Offset(marker))
        .map_err(|e| failed("marking a transaction", e))?;
    producer
        .send_offsets_to_transaction(&offsets, group, TIMEOUT)
        .map_err(|e| failed("marking a transaction", e))?;
    producer
        .commit_transaction(TIMEOUT)
        .map_err(|e| failed("committing a transaction", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_through_staging() {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "a",
                value: Some(b"1".as_slice()),
            })
            .insert(Header {
                key: "empty",
                value: None::<&[u8]>,
            });
        let mut bytes = vec![];
        encode_headers(&headers, &mut bytes);
        let back = decode_headers(&bytes).expect("decodes");
        let pairs: Vec<(String, Option<Vec<u8>>)> = back
            .iter()
            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
            .collect();
        assert_eq!(
            pairs,
            vec![("a".into(), Some(b"1".to_vec())), ("empty".into(), None)]
        );
        assert!(decode_headers(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn staged_records_keep_their_checkpoint_and_empty_staging_is_nothing() {
        let mut s = Staging::default();
        assert!(s.take(1).expect("take").is_none());
        s.push(Some(b"k"), None, Some(2), Some(5), None);
        s.push(None, Some(b"v"), None, None, None);
        let b = s.take(7).expect("take").expect("rows");
        assert_eq!(b.num_rows(), 2);
        assert_eq!(checkpoint_of(&b), 7);
        assert!(b.column(2).is_null(0) && b.column(1).is_null(1));
        assert!(s.take(8).expect("take").is_none());
    }
}

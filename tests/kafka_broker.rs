//! The test broker behaves as Kafka where Eddy relies on it: each case
//! checks one behaviour against a fresh topic, with an ordinary librdkafka
//! client, so that the next gap in the broker shows up here as a failing
//! test rather than as rows lost in a crash test. tools/tansu/README.md
//! lists the patches these behaviours needed.
//!
//! `cargo test --workspace --test kafka_broker [-- FILTER]`

#[path = "support/changelog.rs"]
mod changelog;
#[path = "support/kafka_env.rs"]
mod kafka_env;

use std::process::ExitCode;
use std::time::Duration;

use kafka_env::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// Records in the one-batch topic.
const BATCHED: i64 = 1_000;

/// The first record's timestamp in the one-batch topic; record `i` is
/// stamped `T0 + i` seconds.
const T0: i64 = 1_700_000_000_000;

/// Writes `BATCHED` records into partition 0 of a new topic `topic` as one
/// record batch: sent before any is flushed, with room for all of them.
fn produce_one_batch(env: &Env, topic: &str) -> Result<(), String> {
    env.broker.create_topic(topic, 1)?;
    let producer: BaseProducer = env
        .broker
        .config()
        .set("linger.ms", "1000")
        .set("batch.num.messages", "100000")
        .create()
        .map_err(|e| e.to_string())?;
    for i in 0..BATCHED {
        let text = i.to_string();
        producer
            .send(
                BaseRecord::<str, str>::to(topic)
                    .partition(0)
                    .payload(&text)
                    .timestamp(T0 + i * 1000),
            )
            .map_err(|(e, _)| e.to_string())?;
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| e.to_string())
}

/// A consumer of partition 0 of `topic`, starting at `offset`.
fn reader(env: &Env, topic: &str, offset: Offset) -> Result<BaseConsumer, String> {
    let consumer: BaseConsumer = env
        .broker
        .config()
        .set("group.id", "eddy-broker-check")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, offset)
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    Ok(consumer)
}

/// The offsets a consumer at `offset` reads within a few seconds.
fn offsets_read_from(env: &Env, topic: &str, offset: i64) -> Result<Vec<i64>, String> {
    let consumer = reader(env, topic, Offset::Offset(offset))?;
    let mut got = vec![];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline && (got.len() as i64) < BATCHED - offset {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => got.push(m.offset()),
            Some(Err(e)) => return Err(e.to_string()),
            None => {}
        }
    }
    Ok(got)
}

/// A fetch from an offset inside a record batch returns that batch, and
/// the client hands over the records from the offset on (a source restored
/// at a checkpointed offset resumes there).
fn fetch_inside_a_batch(env: &Env) -> Result<(), String> {
    produce_one_batch(env, "one_batch")?;
    for start in [0, 1, 500, BATCHED - 1] {
        let got = offsets_read_from(env, "one_batch", start)?;
        let want: Vec<i64> = (start..BATCHED).collect();
        check(got == want, || {
            format!(
                "from offset {start}: read {} records ({:?}..), expected {start}..{BATCHED}",
                got.len(),
                got.first()
            )
        })?;
    }
    Ok(())
}

/// The latest offset is the offset after the last record (not after the
/// last batch's first record): a bounded `latest-offset` scan reads to it.
fn end_offsets(env: &Env) -> Result<(), String> {
    produce_one_batch(env, "end_offsets")?;
    let consumer = reader(env, "end_offsets", Offset::Beginning)?;
    let (low, high) = consumer
        .fetch_watermarks("end_offsets", 0, Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    check((low, high) == (0, BATCHED), || {
        format!("watermarks ({low}, {high}), expected (0, {BATCHED})")
    })
}

/// Offsets for times: the first record stamped at or after the time, and
/// the end for a time after every record (`scan.startup.mode` =
/// 'timestamp').
fn offsets_for_times(env: &Env) -> Result<(), String> {
    produce_one_batch(env, "by_time")?;
    let consumer = reader(env, "by_time", Offset::Beginning)?;
    for (time, want) in [
        (T0 - 5_000, Offset::Offset(0)),
        (T0, Offset::Offset(0)),
        (T0 + 500_000, Offset::Offset(500)),
        (T0 + 500_001, Offset::Offset(501)),
        (T0 + BATCHED * 1000, Offset::End),
    ] {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("by_time", 0, Offset::Offset(time))
            .map_err(|e| e.to_string())?;
        let found = consumer
            .offsets_for_times(tpl, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        let got = found
            .find_partition("by_time", 0)
            .map(|e| e.offset())
            .ok_or("no answer for partition 0")?;
        check(got == want, || {
            format!("offset for time {time}: {got:?}, expected {want:?}")
        })?;
    }
    Ok(())
}

/// While a transaction is open, a read-committed reader's end is the last
/// stable offset (the open transaction's first record), a read-uncommitted
/// reader's the log end.
fn last_stable_offset(env: &Env) -> Result<(), String> {
    env.broker.create_topic("lso", 1)?;
    env.broker.produce("lso", &[value("before")])?;
    let producer: BaseProducer = env
        .broker
        .config()
        .set("transactional.id", "lso-check")
        .create()
        .map_err(|e| e.to_string())?;
    let t = Duration::from_secs(30);
    producer.init_transactions(t).map_err(|e| e.to_string())?;
    producer.begin_transaction().map_err(|e| e.to_string())?;
    for text in ["open-1", "open-2"] {
        producer
            .send(BaseRecord::<str, str>::to("lso").payload(text))
            .map_err(|(e, _)| e.to_string())?;
    }
    producer.flush(t).map_err(|e| e.to_string())?;
    for (isolation, want) in [("read_committed", 1), ("read_uncommitted", 3)] {
        let consumer: BaseConsumer = env
            .broker
            .config()
            .set("isolation.level", isolation)
            .create()
            .map_err(|e| e.to_string())?;
        let (_, high) = consumer
            .fetch_watermarks("lso", 0, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        check(high == want, || {
            format!("{isolation}: end offset {high} with a transaction open, expected {want}")
        })?;
    }
    producer.abort_transaction(t).map_err(|e| e.to_string())
}

/// A group's committed offset reads back (the Kafka source commits its
/// positions to its group for monitoring).
fn group_offset_commits(env: &Env) -> Result<(), String> {
    produce_one_batch(env, "committed")?;
    let consumer: BaseConsumer = env
        .broker
        .config()
        .set("group.id", "eddy-commit-check")
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("committed", 0, Offset::Offset(420))
        .map_err(|e| e.to_string())?;
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(|e| e.to_string())?;
    let got = env.broker.committed("eddy-commit-check", "committed", 0)?;
    check(got == Some(420), || {
        format!("committed offset read back as {got:?}, expected 420")
    })
}

/// Transactions commit and abort, and read-committed readers never see
/// aborted records (the exactly-once sink relies on both).
fn aborted_transactions_are_hidden(env: &Env) -> Result<(), String> {
    env.broker.create_topic("txn_check", 1)?;
    let producer: BaseProducer = env
        .broker
        .config()
        .set("transactional.id", "txn-check")
        .create()
        .map_err(|e| e.to_string())?;
    let t = Duration::from_secs(30);
    producer.init_transactions(t).map_err(|e| e.to_string())?;
    for (text, commit) in [("a", true), ("b", false), ("c", true)] {
        producer.begin_transaction().map_err(|e| e.to_string())?;
        producer
            .send(BaseRecord::<str, str>::to("txn_check").payload(text))
            .map_err(|(e, _)| e.to_string())?;
        producer.flush(t).map_err(|e| e.to_string())?;
        if commit {
            producer.commit_transaction(t)
        } else {
            producer.abort_transaction(t)
        }
        .map_err(|e| e.to_string())?;
    }
    let got: Vec<String> = env
        .broker
        .consume_within("txn_check", 3, Duration::from_secs(5))?
        .into_iter()
        .filter_map(|r| r.value)
        .collect();
    check(got == ["a", "c"], || {
        format!("read committed saw {got:?}, expected [a, c]")
    })
}

fn main() -> ExitCode {
    run_cases(
        "kafka_broker",
        vec![
            ("fetch_inside_a_batch", fetch_inside_a_batch),
            ("end_offsets", end_offsets),
            ("offsets_for_times", offsets_for_times),
            ("last_stable_offset", last_stable_offset),
            (
                "aborted_transactions_are_hidden",
                aborted_transactions_are_hidden,
            ),
            ("group_offset_commits", group_offset_commits),
        ],
    )
}

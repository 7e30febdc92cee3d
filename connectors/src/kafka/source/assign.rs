//! Which partitions a source subtask reads and from which offset to which:
//! the partitions of the table's topics, each owned by one subtask as
//! Flink's enumerator spreads them, started at the checkpointed position or
//! as `scan.startup.mode` says, and stopped as `scan.bounded.mode` says.

use std::time::Instant;

use eddy_engine::operator::SourceEvent;
use eddy_engine::{EngineError, Result};
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};

use super::super::kafka_error;
use super::super::options::{BoundedMode, StartupMode, Topics};
use super::{Partition, REQUEST, Reader};

/// The subtask that reads `partition` of `topic`: spread like Flink's
/// enumerator, a topic's partitions round-robin from a start that depends
/// on the topic, so that partitions found later keep their owner.
pub(super) fn owner(topic: &str, partition: i32, parallelism: usize) -> usize {
    let hash = topic
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let start = (hash.wrapping_mul(31) & 0x7FFF_FFFF) as usize % parallelism;
    (start + partition.max(0) as usize) % parallelism
}

/// Per partition of `parts`: its concrete offset in `found`, if any.
fn offsets_of(found: &TopicPartitionList, parts: &[(String, i32)]) -> Vec<Option<i64>> {
    parts
        .iter()
        .map(
            |(t, p)| match found.find_partition(t, *p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => Some(o),
                _ => None,
            },
        )
        .collect()
}

impl Reader {
    /// The partitions of the table's topics, sorted.
    pub(super) fn list_partitions(&self) -> Result<Vec<(String, i32)>> {
        let mut out = vec![];
        match &self.table.topics {
            Topics::Names(names) => {
                for name in names {
                    let md = self
                        .consumer
                        .fetch_metadata(Some(name), REQUEST)
                        .map_err(|e| {
                            kafka_error(&format!("reading metadata of topic '{name}'"), e)
                        })?;
                    let topic = md.topics().iter().find(|t| t.name() == name);
                    match topic {
                        Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                            out.extend(t.partitions().iter().map(|p| (name.clone(), p.id())));
                        }
                        _ => {
                            return Err(EngineError::Execution(format!(
                                "Kafka topic '{name}' of table '{}' does not exist",
                                self.table.table
                            )));
                        }
                    }
                }
            }
            Topics::Pattern(re) => {
                let md = self
                    .consumer
                    .fetch_metadata(None, REQUEST)
                    .map_err(|e| kafka_error("reading metadata", e))?;
                for t in md.topics() {
                    if re.is_match(t.name()) && t.error().is_none() {
                        out.extend(
                            t.partitions()
                                .iter()
                                .map(|p| (t.name().to_string(), p.id())),
                        );
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Per partition: the offsets at `ms`, or the end where none is.
    pub(super) fn offsets_at(&self, parts: &[(String, i32)], ms: i64) -> Result<Vec<Option<i64>>> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in parts {
            tpl.add_partition_offset(t, *p, Offset::Offset(ms))
                .map_err(|e| kafka_error("offsets for a time", e))?;
        }
        let found = self
            .consumer
            .offsets_for_times(tpl, REQUEST)
            .map_err(|e| kafka_error("looking up offsets for a time", e))?;
        Ok(offsets_of(&found, parts))
    }

    /// The group's committed offsets.
    pub(super) fn committed(&self, parts: &[(String, i32)]) -> Result<Vec<Option<i64>>> {
        let mut tpl = TopicPartitionList::new();
        for (t, p) in parts {
            tpl.add_partition(t, *p);
        }
        let found = self
            .consumer
            .committed_offsets(tpl, REQUEST)
            .map_err(|e| kafka_error("reading the group's committed offsets", e))?;
        Ok(offsets_of(&found, parts))
    }

    /// Starts reading the partitions among `all` this subtask owns and
    /// does not read yet; `initial` for the job's first assignment (later
    /// partitions start at their beginning).
    pub(super) fn assign(&mut self, all: Vec<(String, i32)>, initial: bool) -> Result<()> {
        let new: Vec<(String, i32)> = all
            .into_iter()
            .filter(|(t, p)| owner(t, *p, self.parallelism) == self.subtask)
            .filter(|k| !self.by_name.contains_key(k))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut ends = vec![];
        for (t, p) in &new {
            let (low, high) = self
                .consumer
                .fetch_watermarks(t, *p, REQUEST)
                .map_err(|e| kafka_error(&format!("reading offsets of topic '{t}'"), e))?;
            ends.push((low, high));
        }
        let startup = if initial {
            self.table.startup.clone()
        } else {
            StartupMode::Earliest
        };
        let starts: Vec<i64> = match &startup {
            StartupMode::Earliest => ends.iter().map(|e| e.0).collect(),
            StartupMode::Latest => ends.iter().map(|e| e.1).collect(),
            StartupMode::Timestamp(ms) => self
                .offsets_at(&new, *ms)?
                .into_iter()
                .zip(&ends)
                .map(|(o, e)| o.unwrap_or(e.1))
                .collect(),
            StartupMode::GroupOffsets => {
                let latest = self.table.properties.iter().any(|(k, v)| {
                    k == "auto.offset.reset" && matches!(v.as_str(), "latest" | "largest")
                });
                self.committed(&new)?
                    .into_iter()
                    .zip(&ends)
                    .map(|(o, e)| o.unwrap_or(if latest { e.1 } else { e.0 }))
                    .collect()
            }
            StartupMode::Specific(list) => new
                .iter()
                .zip(&ends)
                .map(|((_, p), e)| list.iter().find(|(q, _)| q == p).map_or(e.0, |(_, o)| *o))
                .collect(),
        };
        let stops: Vec<Option<i64>> = match &self.table.bounded {
            BoundedMode::Unbounded => vec![None; new.len()],
            BoundedMode::Latest => ends.iter().map(|e| Some(e.1)).collect(),
            BoundedMode::Timestamp(ms) => self
                .offsets_at(&new, *ms)?
                .into_iter()
                .zip(&ends)
                .map(|(o, e)| Some(o.unwrap_or(e.1)))
                .collect(),
            BoundedMode::GroupOffsets => self
                .committed(&new)?
                .into_iter()
                .zip(&ends)
                .map(|(o, e)| Some(o.unwrap_or(e.1)))
                .collect(),
            BoundedMode::Specific(list) => new
                .iter()
                .zip(&ends)
                .map(|((_, p), e)| Some(list.iter().find(|(q, _)| q == p).map_or(e.1, |(_, o)| *o)))
                .collect(),
        };
        // A restored partition goes on where the checkpoint left it.
        let starts: Vec<i64> = new
            .iter()
            .zip(starts)
            .map(|(k, start)| self.restored.get(k).copied().unwrap_or(start))
            .collect();
        let mut tpl = TopicPartitionList::new();
        for (((t, p), start), stop) in new.into_iter().zip(starts).zip(stops) {
            let split = self.partitions.len();
            let done = stop.is_some_and(|s| s <= start);
            if let Some(stop) = stop {
                self.metrics
                    .add_work_total(u64::try_from(stop - start).unwrap_or(0));
            }
            if !done {
                tpl.add_partition_offset(&t, p, Offset::Offset(start))
                    .map_err(|e| kafka_error("assigning partitions", e))?;
            }
            self.by_name.insert((t.clone(), p), split);
            self.partitions.push(Partition {
                label: format!("topic '{t}', partition {p}"),
                topic: t,
                partition: p,
                position: start,
                stop_at: stop,
                done,
                last_seen: Instant::now(),
                seen: false,
                idle: false,
            });
            if !done && !self.send(SourceEvent::SplitStart(split)) {
                return Ok(());
            }
        }
        self.consumer
            .incremental_assign(&tpl)
            .map_err(|e| kafka_error("assigning partitions", e))
    }
}

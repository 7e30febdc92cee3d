//! `TemporalJoin`: Flink's event-time temporal join,
//! `o JOIN v FOR SYSTEM_TIME AS OF o.ts ON o.k = v.k`. Each row of the
//! left (probe) side joins the version of the right (versioned) side that
//! was valid at the row's time: the latest right row of its key at or
//! before that time, unless that row is a deletion.
//!
//! Left rows wait until the watermark of both inputs passes their time, so
//! every version up to it has arrived; then they are joined in time order
//! and let go. Versions are kept per key in time order; once the watermark
//! passes, only the latest version at or before it is kept. Right `+I` and
//! `+U` rows are versions and `-D` rows deletions; `-U` rows are ignored
//! (the next `+U` replaces the version). The output is append-only: inner,
//! or left outer with unmatched rows padded with NULLs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::{ChangeBatch, RowKind};
use crate::error::{EngineError, Result};
use crate::message::MIN_WATERMARK;
use crate::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use crate::ops::join::{JoinInput, KeyIds, restore_sides, save_sides, time_millis};
use crate::state::row_store::{RowRef, RowStore};

/// Configuration of a temporal join (the factory).
#[derive(Clone)]
pub struct TemporalJoin {
    /// The probe side (input 0), append-only; its `time` is the `AS OF`
    /// time.
    pub left: JoinInput,
    /// The versioned side (input 1); its `time` is its rowtime attribute.
    pub right: JoinInput,
    /// Whether left rows without a version are emitted padded (LEFT JOIN).
    pub left_outer: bool,
    /// A condition on the joined row (left output columns, then right), if
    /// any.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// Output: the left side's columns, then the right side's.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for TemporalJoin {
    fn name(&self) -> String {
        self.description.clone()
    }

    /// Versions are the `+I`, `+U` and `-D` rows; `-U` rows say nothing.
    fn input_needs_update_before(&self, _output_needs: bool) -> bool {
        false
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        if self.left.time.is_none() || self.right.time.is_none() {
            return Err(EngineError::Internal(
                "a temporal join needs the time of both sides".into(),
            ));
        }
        Ok(Box::new(TemporalJoinOperator {
            keys: KeyIds::new(&self.left, false)?,
            ids: vec![],
            probes: RowStore::new(self.left.schema.clone())
                .on_disk(subtask.rows_on_disk("probes")?),
            waiting: BinaryHeap::new(),
            seq: 0,
            versions: vec![],
            version_rows: RowStore::new(self.right.schema.clone())
                .on_disk(subtask.rows_on_disk("versions")?),
            dirty: vec![],
            is_dirty: vec![],
            watermark: MIN_WATERMARK,
            config: self.clone(),
        }))
    }
}

/// No key (a NULL key never matches).
const NO_KEY: u32 = u32::MAX;

/// A left row waiting for the watermark: its time, arrival number, row
/// and key.
type Waiting = Reverse<(i64, u64, RowRef, u32)>;

/// A version of a key: from `time` on, `row`, or no row if `deleted`.
#[derive(Debug, Clone, Copy)]
struct Version {
    time: i64,
    row: RowRef,
    deleted: bool,
}

struct TemporalJoinOperator {
    config: TemporalJoin,
    keys: KeyIds,
    /// Buffer: the key id of each row of a batch.
    ids: Vec<usize>,
    /// Left rows waiting for the watermark.
    probes: RowStore,
    waiting: BinaryHeap<Waiting>,
    seq: u64,
    /// Per key, its versions in time order.
    versions: Vec<Vec<Version>>,
    version_rows: RowStore,
    /// Keys with versions the watermark has not yet passed.
    dirty: Vec<u32>,
    is_dirty: Vec<bool>,
    watermark: i64,
}

impl TemporalJoinOperator {
    fn intern(&mut self, side: usize, data: &RecordBatch) -> Result<Vec<bool>> {
        let input = if side == 0 {
            &self.config.left
        } else {
            &self.config.right
        };
        let valid = self.keys.intern(input, data, &mut self.ids)?;
        let n = self.keys.len();
        if self.versions.len() < n {
            self.versions.resize_with(n, Vec::new);
            self.is_dirty.resize(n, false);
        }
        Ok(valid)
    }

    /// Holds left rows until the watermark passes their time.
    fn add_probes(&mut self, data: &RecordBatch) -> Result<()> {
        let valid = self.intern(0, data)?;
        let times = time_millis(data.column(self.time_column(0)))?;
        let chunk = self.probes.add(data.clone());
        for (i, t) in times.iter().enumerate() {
            let key = if valid[i] { self.ids[i] as u32 } else { NO_KEY };
            if key == NO_KEY && !self.config.left_outer {
                continue;
            }
            let row = RowRef {
                chunk,
                row: i as u32,
            };
            self.probes.hold(row);
            self.seq += 1;
            self.waiting.push(Reverse((*t, self.seq, row, key)));
        }
        self.probes.settle()
    }

    /// Records the versions of right rows (`deleted` per row, or from the
    /// batch's kinds).
    fn add_versions(
        &mut self,
        data: &RecordBatch,
        deleted: &dyn Fn(usize) -> Option<bool>,
    ) -> Result<()> {
        let valid = self.intern(1, data)?;
        let times = time_millis(data.column(self.time_column(1)))?;
        let chunk = self.version_rows.add(data.clone());
        for (i, time) in times.into_iter().enumerate() {
            let Some(deleted) = deleted(i) else {
                continue;
            };
            if !valid[i] {
                continue;
            }
            let key = self.ids[i];
            let row = RowRef {
                chunk,
                row: i as u32,
            };
            self.version_rows.hold(row);
            let list = &mut self.versions[key];
            let at = list.partition_point(|v| v.time <= time);
            list.insert(at, Version { time, row, deleted });
            if !self.is_dirty[key] {
                self.is_dirty[key] = true;
                self.dirty.push(key as u32);
            }
        }
        self.version_rows.settle()
    }

    fn time_column(&self, side: usize) -> usize {
        let input = if side == 0 {
            &self.config.left
        } else {
            &self.config.right
        };
        input.time.unwrap_or_default()
    }

    /// Joins the left rows the watermark passed with their versions.
    fn fire(&mut self) -> Result<Option<ChangeBatch>> {
        let mut probes = vec![];
        let mut versions = vec![];
        while let Some(Reverse((time, _, row, key))) = self.waiting.peek().copied() {
            if time > self.watermark {
                break;
            }
            self.waiting.pop();
            let version = (key != NO_KEY)
                .then(|| {
                    let list = &self.versions[key as usize];
                    let at = list.partition_point(|v| v.time <= time);
                    at.checked_sub(1).map(|i| list[i])
                })
                .flatten()
                .filter(|v| !v.deleted)
                .map(|v| v.row);
            probes.push(row);
            versions.push(version);
        }
        if probes.is_empty() {
            return Ok(None);
        }
        for r in &probes {
            self.probes.release(*r);
        }
        // The residual condition, on the rows that found a version.
        if let Some(filter) = &self.config.filter {
            let found: Vec<usize> = (0..probes.len())
                .filter(|i| versions[*i].is_some())
                .collect();
            if !found.is_empty() {
                let columns = self.joined(
                    &found.iter().map(|i| probes[*i]).collect::<Vec<_>>(),
                    &found.iter().map(|i| versions[*i]).collect::<Vec<_>>(),
                )?;
                let fields: Vec<Field> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
                    .collect();
                let joined = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
                let mask = filter.evaluate(&joined)?.into_array(joined.num_rows())?;
                let mask = mask.as_boolean();
                for (j, i) in found.into_iter().enumerate() {
                    if !(mask.is_valid(j) && mask.value(j)) {
                        versions[i] = None;
                    }
                }
            }
        }
        if !self.config.left_outer {
            let (kept_probes, kept_versions) = probes
                .iter()
                .zip(&versions)
                .filter(|(_, v)| v.is_some())
                .unzip();
            (probes, versions) = (kept_probes, kept_versions);
        }
        let columns = self.joined(&probes, &versions)?;
        self.probes.settle()?;
        let data = crate::batch::conform(&self.config.schema, columns)?;
        Ok((data.num_rows() > 0).then(|| ChangeBatch::inserts(data)))
    }

    /// Left rows `probes` with versions `versions` (NULLs where `None`),
    /// as the output's columns.
    fn joined(&self, probes: &[RowRef], versions: &[Option<RowRef>]) -> Result<Vec<ArrayRef>> {
        let left = self.probes.gather(probes)?;
        let mut right = self.version_rows.gather_or_null(versions)?;
        right.truncate(self.config.right.width);
        Ok(left.columns()[..self.config.left.width]
            .iter()
            .cloned()
            .chain(right)
            .collect())
    }

    /// Keeps of each key's versions only the latest the watermark passed
    /// and those after it.
    fn clean_versions(&mut self) -> Result<()> {
        let watermark = self.watermark;
        let mut still = vec![];
        for key in std::mem::take(&mut self.dirty) {
            let list = &mut self.versions[key as usize];
            let passed = list.partition_point(|v| v.time <= watermark);
            let drop = passed.saturating_sub(1);
            for v in list.drain(..drop) {
                self.version_rows.release(v.row);
            }
            if list.len() == 1 && list[0].deleted && list[0].time <= watermark {
                self.version_rows.release(list[0].row);
                list.clear();
            }
            if list.last().is_some_and(|v| v.time > watermark) {
                still.push(key);
            } else {
                self.is_dirty[key as usize] = false;
            }
        }
        self.dirty = still;
        self.version_rows.settle()
    }

    fn set_state_entries(&self, ctx: &Context) {
        ctx.metrics
            .set_state_entries(self.probes.len() + self.version_rows.len());
    }
}

/// The deletion flags of a snapshot's version rows.
fn deleted_column(versions: &[Version]) -> ArrayRef {
    Arc::new(BooleanArray::from_iter(
        versions.iter().map(|v| Some(v.deleted)),
    ))
}

#[async_trait]
impl Operator for TemporalJoinOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // Probes and versions are rows of their side, which hold the
        // columns its exchange hashes at `keys`.
        let keys = [&self.config.left.keys[..], &self.config.right.keys[..]];
        for (side, (watermark, batches)) in restore_sides(ctx, keys)?.into_iter().enumerate() {
            if let Some(w) = watermark {
                self.watermark = self.watermark.max(w);
            }
            for b in batches {
                if side == 0 {
                    let rows = RecordBatch::try_new(
                        self.config.left.schema.clone(),
                        b.columns().to_vec(),
                    )?;
                    self.add_probes(&rows)?;
                } else {
                    let width = self.config.right.schema.fields().len();
                    let bad = || {
                        EngineError::State("temporal join state has an unexpected layout".into())
                    };
                    if b.num_columns() != width + 1 {
                        return Err(bad());
                    }
                    let rows = RecordBatch::try_new(
                        self.config.right.schema.clone(),
                        b.columns()[..width].to_vec(),
                    )?;
                    let deleted = cast(b.column(width), &DataType::Boolean)?;
                    let deleted = deleted.as_boolean().clone();
                    self.add_versions(&rows, &|i| Some(deleted.value(i)))?;
                }
            }
        }
        self.set_state_entries(ctx);
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let mut waiting: Vec<_> = self.waiting.iter().map(|Reverse(w)| *w).collect();
        waiting.sort_unstable_by_key(|w| (w.0, w.1));
        let refs: Vec<RowRef> = waiting.iter().map(|w| w.2).collect();
        let mut left = vec![];
        if !refs.is_empty() {
            left.push(self.probes.gather(&refs)?);
        }
        let all: Vec<Version> = self.versions.iter().flatten().copied().collect();
        let mut right = vec![];
        if !all.is_empty() {
            let refs: Vec<RowRef> = all.iter().map(|v| v.row).collect();
            let mut columns = self.version_rows.gather(&refs)?.columns().to_vec();
            columns.push(deleted_column(&all));
            right.push(crate::ops::aggregate::accumulator_state::state_batch(
                columns,
            )?);
        }
        save_sides(ctx, checkpoint, self.watermark, [left, right])
    }

    async fn process(
        &mut self,
        input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if input == 0 {
            batch.ensure_append_only("the probe side of a temporal join")?;
            self.add_probes(&batch.data)?;
        } else {
            self.add_versions(&batch.data, &|i| match batch.kind(i) {
                RowKind::Insert | RowKind::UpdateAfter => Some(false),
                RowKind::Delete => Some(true),
                RowKind::UpdateBefore => None,
            })?;
        }
        self.set_state_entries(ctx);
        Ok(())
    }

    async fn on_watermark(
        &mut self,
        watermark: i64,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        self.watermark = self.watermark.max(watermark);
        if let Some(b) = self.fire()? {
            out.emit(b).await?;
        }
        self.clean_versions()?;
        self.set_state_entries(ctx);
        out.emit_watermark(watermark).await
    }
}

#[cfg(test)]
mod tests;

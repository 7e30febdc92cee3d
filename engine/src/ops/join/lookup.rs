//! `LookupJoin`: Flink's lookup join,
//! `o JOIN dim FOR SYSTEM_TIME AS OF o.proc_time ON o.k = dim.k`: each row
//! of the probe side joins the rows of the dimension table that have its
//! key when it arrives (processing time).
//!
//! The dimension table is read through its connector's bounded source
//! into a cache indexed by key: once and then every reload interval
//! (`'lookup.cache' = 'FULL'`), or afresh for every batch (`'NONE'`). The
//! output is append-only: inner, or left outer with rows lacking a match
//! padded with NULLs. The operator keeps no state a checkpoint needs: the
//! cache is read again on restore.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;

use crate::batch::ChangeBatch;
use crate::error::{EngineError, Result};
use crate::operator::{
    Context, Emitter, Operator, OperatorFactory, SourceEvent, SourceFactory, SubtaskInfo,
};

/// When the cache of the dimension table is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupCache {
    /// Every batch reads the table afresh (`'lookup.cache' = 'NONE'`).
    None,
    /// The table is read once, and again every `reload` if set
    /// (`'lookup.cache' = 'FULL'`).
    Full {
        /// `lookup.full-cache.periodic-reload.interval`.
        reload: Option<Duration>,
    },
}

/// Configuration of a lookup join (the factory).
#[derive(Clone)]
pub struct LookupJoin {
    /// The probe side's rows (input 0).
    pub probe_schema: SchemaRef,
    /// Its key columns.
    pub probe_keys: Vec<usize>,
    /// Columns of the probe side in the output (the first ones).
    pub probe_width: usize,
    /// Reads the dimension table (bounded).
    pub table: Arc<dyn SourceFactory>,
    /// The dimension table's key columns (in the rows its source reads).
    pub table_keys: Vec<usize>,
    /// The dimension table's columns in the output, in order.
    pub table_columns: Vec<usize>,
    /// A condition on the table's rows (over its output columns,
    /// `table_columns`): rows failing it are not looked up.
    pub table_filter: Option<Arc<dyn PhysicalExpr>>,
    /// The table's primary key, if declared: of rows sharing one, the
    /// last read is the table's row (later rows update earlier ones).
    pub primary_key: Option<Vec<usize>>,
    /// How long read rows serve lookups.
    pub cache: LookupCache,
    /// Whether probe rows without a match are emitted padded (LEFT JOIN).
    pub left_outer: bool,
    /// A condition on the joined row (the output's columns), if any.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// Output: the probe side's columns, then the table's.
    pub schema: SchemaRef,
    /// Text for EXPLAIN.
    pub description: String,
}

impl OperatorFactory for LookupJoin {
    fn name(&self) -> String {
        self.description.clone()
    }

    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        if !self.table.is_bounded() {
            return Err(EngineError::Plan(format!(
                "a lookup join reads its table whole, which {} never finishes",
                self.table.name()
            )));
        }
        if self.probe_keys.len() != self.table_keys.len() {
            return Err(EngineError::Internal(
                "a lookup join's sides disagree on their keys".into(),
            ));
        }
        Ok(Box::new(LookupJoinOperator {
            config: self.clone(),
            cache: None,
        }))
    }
}

/// The dimension table as read: its rows, and the rows of each key.
struct Cache {
    rows: RecordBatch,
    by_key: HashMap<Box<[u8]>, Vec<u32>>,
    converter: RowConverter,
    key_types: Vec<DataType>,
    read_at: Instant,
}

struct LookupJoinOperator {
    config: LookupJoin,
    cache: Option<Cache>,
}

impl LookupJoinOperator {
    /// Reads the whole table through its source.
    async fn read_table(&self, ctx: &Context) -> Result<Cache> {
        let info = SubtaskInfo {
            operator_name: self.config.table.name(),
            index: 0,
            parallelism: 1,
            ..ctx.subtask.clone()
        };
        let mut source = self.config.table.create(&info)?;
        let mut source_ctx = Context {
            subtask: info,
            metrics: ctx.metrics.clone(),
            state: None,
        };
        source.open(&mut source_ctx).await?;
        let mut batches = vec![];
        let mut schema = None;
        loop {
            match source.next(&mut source_ctx).await? {
                SourceEvent::Batch { batch, .. } => {
                    batch.ensure_append_only("a lookup table")?;
                    schema.get_or_insert_with(|| batch.data.schema());
                    batches.push(batch.data);
                }
                SourceEvent::End => break,
                _ => {}
            }
        }
        let rows = match schema {
            Some(s) => concat_batches(&s, &batches)?,
            None => {
                return Ok(Cache {
                    rows: RecordBatch::new_empty(Arc::new(Schema::empty())),
                    by_key: HashMap::new(),
                    converter: RowConverter::new(vec![])?,
                    key_types: vec![],
                    read_at: Instant::now(),
                });
            }
        };
        let mut rows = match &self.config.primary_key {
            Some(pk) => last_per_key(rows, pk)?,
            None => rows,
        };
        if let Some(filter) = &self.config.table_filter {
            let projected = rows.project(&self.config.table_columns)?;
            let mask = filter.evaluate(&projected)?.into_array(rows.num_rows())?;
            rows = datafusion::arrow::compute::filter_record_batch(&rows, mask.as_boolean())?;
        }
        let keys: Vec<ArrayRef> = self
            .config
            .table_keys
            .iter()
            .map(|k| rows.column(*k).clone())
            .collect();
        let key_types: Vec<DataType> = keys.iter().map(|k| k.data_type().clone()).collect();
        let converter = RowConverter::new(
            key_types
                .iter()
                .map(|t| SortField::new(t.clone()))
                .collect(),
        )?;
        let converted = converter.convert_columns(&keys)?;
        let mut by_key: HashMap<Box<[u8]>, Vec<u32>> = HashMap::new();
        for i in 0..rows.num_rows() {
            if keys.iter().any(|k| k.is_null(i)) {
                continue;
            }
            by_key
                .entry(converted.row(i).as_ref().into())
                .or_default()
                .push(i as u32);
        }
        Ok(Cache {
            rows,
            by_key,
            converter,
            key_types,
            read_at: Instant::now(),
        })
    }

    /// The cache, read again if it is due.
    async fn fresh_cache(&mut self, ctx: &Context) -> Result<&Cache> {
        let due = match (&self.cache, self.config.cache) {
            (None, _) | (Some(_), LookupCache::None) => true,
            (
                Some(c),
                LookupCache::Full {
                    reload: Some(every),
                },
            ) => c.read_at.elapsed() >= every,
            (Some(_), LookupCache::Full { reload: None }) => false,
        };
        if due {
            self.cache = Some(self.read_table(ctx).await?);
        }
        self.cache
            .as_ref()
            .ok_or_else(|| EngineError::Internal("lookup cache missing".into()))
    }
}

/// The last of the rows of `rows` sharing the values of columns `key`.
fn last_per_key(rows: RecordBatch, key: &[usize]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = key.iter().map(|k| rows.column(*k).clone()).collect();
    let converter = RowConverter::new(
        columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let converted = converter.convert_columns(&columns)?;
    let mut last: HashMap<Box<[u8]>, u32> = HashMap::new();
    for i in 0..rows.num_rows() {
        last.insert(converted.row(i).as_ref().into(), i as u32);
    }
    if last.len() == rows.num_rows() {
        return Ok(rows);
    }
    let mut keep: Vec<u32> = last.into_values().collect();
    keep.sort_unstable();
    Ok(datafusion::arrow::compute::take_record_batch(
        &rows,
        &UInt32Array::from(keep),
    )?)
}

#[async_trait]
impl Operator for LookupJoinOperator {
    fn name(&self) -> String {
        self.config.description.clone()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        ctx: &mut Context,
        out: &mut dyn Emitter,
    ) -> Result<()> {
        batch.ensure_append_only("the probe side of a lookup join")?;
        let data = &batch.data;
        let n = data.num_rows();
        if n == 0 {
            return Ok(());
        }
        let config = self.config.clone();
        let cache = self.fresh_cache(ctx).await?;
        // Candidate pairs: probe row, table row (None: no match).
        let (mut probe, mut found): (Vec<u32>, Vec<Option<u32>>) = (vec![], vec![]);
        let mut matched = vec![false; n];
        if !cache.key_types.is_empty() {
            let keys = crate::ops::join::key_columns(data, &config.probe_keys, &cache.key_types)?;
            let converted = cache.converter.convert_columns(&keys)?;
            for (i, m) in matched.iter_mut().enumerate() {
                if keys.iter().any(|k| k.is_null(i)) {
                    continue;
                }
                if let Some(rows) = cache.by_key.get(converted.row(i).as_ref()) {
                    for r in rows {
                        probe.push(i as u32);
                        found.push(Some(*r));
                    }
                    *m = true;
                }
            }
        }
        let columns = |probe: &[u32], found: &[Option<u32>]| -> Result<Vec<ArrayRef>> {
            let p = UInt32Array::from(probe.to_vec());
            let f = UInt32Array::from(found.to_vec());
            let mut columns = data.columns()[..config.probe_width]
                .iter()
                .map(|c| Ok(take(c, &p, None)?))
                .collect::<Result<Vec<_>>>()?;
            for c in &config.table_columns {
                columns.push(match cache.rows.num_columns() {
                    0 => datafusion::arrow::array::new_null_array(
                        config.schema.field(columns.len()).data_type(),
                        probe.len(),
                    ),
                    _ => take(cache.rows.column(*c), &f, None)?,
                });
            }
            Ok(columns)
        };
        if let Some(filter) = &config.filter
            && !probe.is_empty()
        {
            let joined = columns(&probe, &found)?;
            let fields: Vec<Field> = joined
                .iter()
                .enumerate()
                .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
                .collect();
            let joined = RecordBatch::try_new(Arc::new(Schema::new(fields)), joined)?;
            let mask = filter.evaluate(&joined)?.into_array(joined.num_rows())?;
            let mask = mask.as_boolean();
            matched.iter_mut().for_each(|m| *m = false);
            let (mut kept_probe, mut kept_found) = (vec![], vec![]);
            for j in 0..probe.len() {
                if mask.is_valid(j) && mask.value(j) {
                    matched[probe[j] as usize] = true;
                    kept_probe.push(probe[j]);
                    kept_found.push(found[j]);
                }
            }
            (probe, found) = (kept_probe, kept_found);
        }
        if config.left_outer {
            // Unmatched rows padded, in probe order with the matches.
            let mut pairs: Vec<(u32, Option<u32>)> = probe.into_iter().zip(found).collect();
            pairs.extend(
                (0..n as u32)
                    .filter(|i| !matched[*i as usize])
                    .map(|i| (i, None)),
            );
            pairs.sort_by_key(|(i, _)| *i);
            (probe, found) = pairs.into_iter().unzip();
        }
        if probe.is_empty() {
            return Ok(());
        }
        let data = crate::batch::conform(&config.schema, columns(&probe, &found)?)?;
        out.emit(ChangeBatch::inserts(data)).await
    }
}

#[cfg(test)]
mod tests;

//! Rows an incremental checkpoint refers to instead of writing them again.
//!
//! A store of rows ([`crate::state::row_store::RowStore`]) keeps them in
//! chunks that never change once written, each with an id unique across
//! the job's runs. An incremental snapshot writes each chunk once, as its
//! own file shared by every later checkpoint that still needs it
//! ([`SnapshotStore::write_shared`]), and snapshots the operator's rows as
//! a *shared-rows batch*: per row, its chunk's id and its position there,
//! then the operator's own columns (a join's match counts). Restoring
//! reads the chunks back and hands the operator the rows themselves,
//! followed by its columns, as a full snapshot would have: operators,
//! and the redistribution of keyed state at another parallelism, never
//! see references.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array, UInt64Array};
use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt32Type, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};

/// Schema metadata marking a shared-rows batch.
const SHARED_ROWS: &str = "eddy.shared-rows";

/// A shared-rows batch: row `i` is at position `positions[i]` of chunk
/// `chunks[i]`, and has the values `extra[..][i]`.
pub fn shared_rows_batch(
    chunks: Vec<u64>,
    positions: Vec<u32>,
    extra: Vec<ArrayRef>,
) -> Result<RecordBatch> {
    let mut fields = vec![
        Field::new("chunk", DataType::UInt64, false),
        Field::new("position", DataType::UInt32, false),
    ];
    fields.extend(
        extra
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true)),
    );
    let metadata = HashMap::from([(SHARED_ROWS.to_string(), "1".to_string())]);
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(chunks)),
        Arc::new(UInt32Array::from(positions)),
    ];
    columns.extend(extra);
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, metadata)),
        columns,
    )?)
}

/// The chunk ids a shared-rows batch refers to; `None` for any other batch.
pub fn shared_chunks(batch: &RecordBatch) -> Option<&UInt64Array> {
    if !batch.schema_ref().metadata().contains_key(SHARED_ROWS) || batch.num_columns() < 2 {
        return None;
    }
    batch.column(0).as_primitive_opt::<UInt64Type>()
}

/// Rows per batch a shared-rows batch resolves to: a side of millions of
/// rows comes back as many chunks, none near Arrow's 2 GB offsets.
const RESOLVED_ROWS: usize = 65_536;

/// Bytes of chunks kept loaded while resolving.
const LOADED_BYTES: usize = 256 << 20;

/// `batches` with every shared-rows batch replaced by its rows (the
/// chunk's columns, then the operator's own), in batches of at most
/// [`RESOLVED_ROWS`]; `load` reads a chunk.
pub fn resolve_shared_rows(
    batches: Vec<RecordBatch>,
    load: &mut dyn FnMut(u64) -> Result<RecordBatch>,
) -> Result<Vec<RecordBatch>> {
    let mut loaded = Loaded {
        load,
        chunks: HashMap::new(),
        order: std::collections::VecDeque::new(),
        bytes: 0,
    };
    let mut out = vec![];
    for b in batches {
        if shared_chunks(&b).is_none() {
            out.push(b);
            continue;
        }
        let mut from = 0;
        while from < b.num_rows() {
            let len = RESOLVED_ROWS.min(b.num_rows() - from);
            out.push(resolve(&b.slice(from, len), &mut loaded)?);
            from += len;
        }
    }
    Ok(out)
}

/// Chunks read while resolving, the least recently read let go past
/// [`LOADED_BYTES`].
struct Loaded<'a> {
    load: &'a mut dyn FnMut(u64) -> Result<RecordBatch>,
    chunks: HashMap<u64, RecordBatch>,
    order: std::collections::VecDeque<u64>,
    bytes: usize,
}

impl Loaded<'_> {
    fn get(&mut self, id: u64) -> Result<RecordBatch> {
        if let Some(b) = self.chunks.get(&id) {
            return Ok(b.clone());
        }
        let b = (self.load)(id)?;
        self.bytes += b.get_array_memory_size();
        self.chunks.insert(id, b.clone());
        self.order.push_back(id);
        while self.bytes > LOADED_BYTES
            && let Some(old) = self.order.pop_front()
        {
            if let Some(gone) = self.chunks.remove(&old) {
                self.bytes -= gone.get_array_memory_size();
            }
        }
        Ok(b)
    }
}

fn resolve(batch: &RecordBatch, load: &mut Loaded<'_>) -> Result<RecordBatch> {
    let bad = || EngineError::State("a shared-rows snapshot has an unexpected layout".into());
    let chunks = batch
        .column(0)
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(bad)?;
    let positions = batch
        .column(1)
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(bad)?;
    let mut slot_of: HashMap<u64, usize> = HashMap::new();
    let mut loaded: Vec<RecordBatch> = vec![];
    let mut indices = Vec::with_capacity(batch.num_rows());
    for (chunk, position) in chunks.values().iter().zip(positions.values()) {
        let slot = match slot_of.get(chunk) {
            Some(s) => *s,
            None => {
                loaded.push(load.get(*chunk)?);
                slot_of.insert(*chunk, loaded.len() - 1);
                loaded.len() - 1
            }
        };
        if *position as usize >= loaded[slot].num_rows() {
            return Err(EngineError::State(format!(
                "shared chunk {chunk} has no row {position}"
            )));
        }
        indices.push((slot, *position as usize));
    }
    let Some(first) = loaded.first() else {
        return Err(bad());
    };
    let rows = if loaded.len() == 1 {
        let take = UInt32Array::from_iter_values(indices.iter().map(|(_, i)| *i as u32));
        datafusion::arrow::compute::take_record_batch(first, &take)?
    } else {
        let refs: Vec<&RecordBatch> = loaded.iter().collect();
        interleave_record_batch(&refs, &indices)?
    };
    let mut fields: Vec<Field> = rows
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    let mut columns = rows.columns().to_vec();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()).skip(2) {
        fields.push(f.as_ref().clone());
        columns.push(c.clone());
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemorySnapshotStore;
    use crate::state::row_store::tests::batch;
    use crate::state::row_store::{RowRef, RowStore};

    #[test]
    fn a_second_snapshot_writes_only_new_chunks_and_restores_the_rows() {
        let store = MemorySnapshotStore::default();
        let mut rows = RowStore::new(batch(0..0).schema());
        let mut held = vec![];
        for k in 0..3 {
            let c = rows.add(batch(k * 10..k * 10 + 10));
            for row in (0..10).step_by(2) {
                rows.hold(RowRef { chunk: c, row });
                held.push(RowRef { chunk: c, row });
            }
            rows.settle().expect("settle");
        }
        let snapshot = |checkpoint: u64, held: &[RowRef]| {
            let (ids, positions) = rows.shared_refs(held, &store, checkpoint).expect("refs");
            let counts: ArrayRef = Arc::new(UInt32Array::from_iter_values(0..held.len() as u32));
            shared_rows_batch(ids, positions, vec![counts]).expect("batch")
        };
        let first = snapshot(1, &held);
        assert_eq!(store.shared_count(), 3);
        held.truncate(7);
        let second = snapshot(2, &held);
        assert_eq!(store.shared_count(), 3, "nothing new to write");
        let restored = store.resolve(vec![first, second]).expect("resolve");
        let values = |b: &RecordBatch| {
            b.column(0)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        };
        assert_eq!(
            values(&restored[0]),
            [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28]
        );
        assert_eq!(values(&restored[1]), [0, 2, 4, 6, 8, 10, 12]);
        assert_eq!(restored[1].num_columns(), 2, "the rows, then the counts");
    }
}

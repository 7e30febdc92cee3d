//! `RowStore`: rows an operator holds, kept as Arrow batches rather than
//! one allocation per row.
//!
//! An input batch becomes a chunk as it arrives; the operator points at its
//! rows with [`RowRef`]s and says which it keeps ([`RowStore::hold`]) and
//! which it lets go ([`RowStore::release`]). After the batch
//! ([`RowStore::settle`]), a chunk mostly let go is cut down to its kept
//! rows, behind an index from the old row numbers, so references stay
//! valid; chunks nothing holds are dropped. When the dead rows reach a
//! third of all rows, the sparsest chunks are copied into fresh ones
//! ([`RowStore::compact`]); that one moves rows, and the operator rewrites
//! the references it is given. Rows are read back a batch at a time with
//! [`RowStore::gather`] (Arrow's `interleave`).
//!
//! A store may be given a budget of bytes in memory
//! ([`RowStore::with_hot_budget`]): past it, after a batch, the chunks read
//! least recently are compressed (Arrow IPC with zstd) until the rest fits,
//! and a compressed chunk is decompressed when next read. Operators that
//! hold rows nobody may read again (a join's side waiting for matches that
//! rarely come) keep a fraction of their memory so. On the disk state
//! backend ([`RowStore::on_disk`]) the compressed chunks go to a key-value
//! store on disk instead of staying in memory.
//!
//! A chunk's rows never change once its batch is settled, and every chunk
//! has an id unique across runs of the job: an incremental checkpoint
//! writes a chunk once and later ones refer to it
//! ([`RowStore::shared_refs`]).

use std::cell::{Cell, Ref, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{Array, ArrayRef, UInt32Array, make_comparator, new_null_array};
use datafusion::arrow::compute::{
    SortOptions, interleave, interleave_record_batch, take_record_batch,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::state::SnapshotStore;
use crate::state::backend::{DISK_HOT_BYTES, DiskChunks};

/// A row of a [`RowStore`]: its chunk and its number there. Two live rows
/// never share a reference, so within a batch it is also the row's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowRef {
    /// The chunk.
    pub chunk: u32,
    /// The row's number within it.
    pub row: u32,
}

/// A chunk's rows: Arrow arrays, or the same compressed while unread.
enum Stored {
    Hot(RecordBatch),
    /// An Arrow IPC stream of the batch, its buffers zstd-compressed.
    Cold(Vec<u8>),
    /// The same, in the store's database on disk.
    Disk,
}

/// The next chunk id. Ids start from the clock (ns) when the process
/// first needs one, so a later run of the job, which starts after this
/// one made its last chunk, never reuses an id that a checkpoint of this
/// one refers to.
static NEXT_CHUNK_ID: AtomicU64 = AtomicU64::new(0);

/// Makes every later chunk id greater than `id` (one an earlier run of
/// the job wrote: the clock may have gone back since).
pub fn chunk_ids_above(id: u64) {
    next_chunk_id();
    NEXT_CHUNK_ID.fetch_max(id.saturating_add(1), Ordering::Relaxed);
}

fn next_chunk_id() -> u64 {
    if NEXT_CHUNK_ID.load(Ordering::Relaxed) == 0 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let _ = NEXT_CHUNK_ID.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }
    NEXT_CHUNK_ID.fetch_add(1, Ordering::Relaxed)
}

/// One batch of rows and how many of them are still held.
struct Chunk {
    /// Unique across the job's runs (see [`next_chunk_id`]).
    id: u64,
    stored: RefCell<Stored>,
    /// Whether the store's database holds the chunk (from its first move
    /// to disk on: the rows never change).
    on_disk: bool,
    /// Rows in the batch (after any cut).
    rows: usize,
    /// After a cut: the position in the batch of each original row number
    /// (`u32::MAX` for rows cut away).
    index: Option<Box<[u32]>>,
    live: u32,
    /// The store's batch count when the chunk was last read.
    read_at: Cell<u64>,
}

impl Chunk {
    fn new(data: RecordBatch, live: u32, now: u64) -> Self {
        Self {
            id: next_chunk_id(),
            rows: data.num_rows(),
            stored: RefCell::new(Stored::Hot(data)),
            on_disk: false,
            index: None,
            live,
            read_at: Cell::new(now),
        }
    }

    /// Rows the chunk takes room for.
    fn rows(&self) -> usize {
        self.rows
    }

    /// The position in the batch of row number `row`.
    fn position(&self, row: u32) -> usize {
        match &self.index {
            Some(index) => index[row as usize] as usize,
            None => row as usize,
        }
    }

    /// Bytes the chunk holds.
    fn memory_size(&self) -> usize {
        let data = match &*self.stored.borrow() {
            Stored::Hot(b) => b.get_array_memory_size(),
            Stored::Cold(ipc) => ipc.len(),
            Stored::Disk => 0,
        };
        data + self.index.as_ref().map_or(0, |i| i.len() * 4)
    }

    fn is_hot(&self) -> bool {
        matches!(&*self.stored.borrow(), Stored::Hot(_))
    }

    /// The chunk's rows, read back and decompressed first if needed.
    fn read(&self, now: u64, disk: Option<&DiskChunks>) -> Result<Ref<'_, RecordBatch>> {
        self.read_at.set(now);
        let thawed = match &*self.stored.borrow() {
            Stored::Cold(ipc) => Some(thaw(ipc)?),
            Stored::Disk => Some(thaw(&disk_of(disk)?.get(self.id)?)?),
            Stored::Hot(_) => None,
        };
        if let Some(batch) = thawed {
            *self.stored.borrow_mut() = Stored::Hot(batch);
        }
        Ref::filter_map(self.stored.borrow(), |s| match s {
            Stored::Hot(b) => Some(b),
            Stored::Cold(_) | Stored::Disk => None,
        })
        .map_err(|_| EngineError::State("row store: a chunk did not decompress".into()))
    }

    /// Compresses the chunk's rows; with a database, moves them there,
    /// giving the bytes to write unless it holds them already.
    fn freeze(&mut self, to_disk: bool) -> Result<Option<Vec<u8>>> {
        let stored = self.stored.get_mut();
        let Stored::Hot(batch) = stored else {
            return Ok(None);
        };
        if !to_disk {
            *stored = Stored::Cold(freeze(batch)?);
            return Ok(None);
        }
        let bytes = (!self.on_disk).then(|| freeze(batch)).transpose()?;
        *stored = Stored::Disk;
        self.on_disk = true;
        Ok(bytes)
    }

    /// The chunk as `freeze` writes it.
    fn ipc(&self, disk: Option<&DiskChunks>) -> Result<Vec<u8>> {
        match &*self.stored.borrow() {
            Stored::Hot(batch) => freeze(batch),
            Stored::Cold(ipc) => Ok(ipc.clone()),
            Stored::Disk => disk_of(disk)?.get(self.id),
        }
    }
}

fn disk_of(disk: Option<&DiskChunks>) -> Result<&DiskChunks> {
    disk.ok_or_else(|| {
        EngineError::Internal("row store: a chunk on disk without a database".into())
    })
}

/// `batch` as a zstd-compressed Arrow IPC stream (on Nexmark bids a third
/// smaller than with LZ4, at about the same speed).
fn freeze(batch: &RecordBatch) -> Result<Vec<u8>> {
    use datafusion::arrow::ipc::CompressionType;
    use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
    let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::ZSTD))?;
    let mut writer = StreamWriter::try_new_with_options(Vec::new(), &batch.schema(), options)?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner()?)
}

/// The batch `freeze` wrote.
pub fn thaw(ipc: &[u8]) -> Result<RecordBatch> {
    let mut reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None)?;
    reader
        .next()
        .transpose()?
        .ok_or_else(|| EngineError::State("row store: an empty compressed chunk".into()))
}

/// Rows per chunk written by a compaction.
const COMPACT_CHUNK_ROWS: usize = 8192;

/// A compaction waits for at least this many dead rows.
const MIN_DEAD_FOR_COMPACTION: usize = 65_536;

/// Held rows of one schema, in chunks.
pub struct RowStore {
    schema: SchemaRef,
    /// By chunk number; `None` once a chunk holds nothing.
    chunks: Vec<Option<Chunk>>,
    /// Rows in the chunks, dead or alive.
    rows: usize,
    /// Rows held.
    live: usize,
    /// Chunks whose last row was released since the last `settle`.
    emptied: Vec<u32>,
    /// The newest chunk and which of its rows are held.
    newest: Option<(u32, Vec<bool>)>,
    /// Bytes the chunks may keep uncompressed; `None`: no limit.
    hot_budget: Option<usize>,
    /// Batches settled so far (the clock of `Chunk::read_at`).
    batches: u64,
    /// The database of the disk state backend, if the store uses it.
    disk: Option<DiskChunks>,
    /// Chunks dropped since the last `settle` that the database holds.
    unlinked: Vec<u64>,
}

impl RowStore {
    /// An empty store of rows of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            chunks: vec![],
            rows: 0,
            live: 0,
            emptied: vec![],
            newest: None,
            hot_budget: None,
            batches: 0,
            disk: None,
            unlinked: vec![],
        }
    }

    /// Moves the chunks beyond the budget to `disk` (the disk state
    /// backend) instead of compressing them in memory; with no budget yet,
    /// sets one of [`DISK_HOT_BYTES`]. `None` changes nothing.
    pub fn on_disk(mut self, disk: Option<DiskChunks>) -> Self {
        if disk.is_some() {
            self.hot_budget.get_or_insert(DISK_HOT_BYTES);
            self.disk = disk;
        }
        self
    }

    /// Bytes of chunks in the store's database on disk.
    pub fn disk_size(&self) -> u64 {
        self.disk.as_ref().map_or(0, DiskChunks::bytes)
    }

    /// Keeps at most about `bytes` of rows uncompressed (see the module
    /// notes).
    pub fn with_hot_budget(mut self, bytes: usize) -> Self {
        self.hot_budget = Some(bytes);
        self
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of the chunks' buffers.
    pub fn memory_size(&self) -> usize {
        self.chunks.iter().flatten().map(Chunk::memory_size).sum()
    }

    /// Adds `data` as a new chunk, none of its rows held yet: the chunk
    /// number for the [`RowRef`]s of its rows.
    pub fn add(&mut self, data: RecordBatch) -> u32 {
        let chunk = self.chunks.len() as u32;
        self.rows += data.num_rows();
        self.newest = Some((chunk, vec![false; data.num_rows()]));
        self.chunks.push(Some(Chunk::new(data, 0, self.batches)));
        chunk
    }

    /// Keeps row `r`.
    pub fn hold(&mut self, r: RowRef) {
        if let Some(Some(c)) = self.chunks.get_mut(r.chunk as usize) {
            c.live += 1;
            self.live += 1;
            if let Some((chunk, held)) = &mut self.newest
                && *chunk == r.chunk
            {
                held[r.row as usize] = true;
            }
        }
    }

    /// Lets row `r` go. It stays readable until [`RowStore::settle`].
    pub fn release(&mut self, r: RowRef) {
        if let Some(Some(c)) = self.chunks.get_mut(r.chunk as usize) {
            c.live -= 1;
            self.live -= 1;
            if c.live == 0 {
                self.emptied.push(r.chunk);
            }
            if let Some((chunk, held)) = &mut self.newest
                && *chunk == r.chunk
            {
                held[r.row as usize] = false;
            }
        }
    }

    /// Whether row `r` has the values of row `i` of `data` (same schema).
    pub fn equals(&self, r: RowRef, data: &RecordBatch, i: usize) -> Result<bool> {
        let Some(Some(c)) = self.chunks.get(r.chunk as usize) else {
            return Ok(false);
        };
        let at = c.position(r.row);
        let held = c.read(self.batches, self.disk.as_ref())?;
        for (held, other) in held.columns().iter().zip(data.columns()) {
            let compare = make_comparator(held.as_ref(), other.as_ref(), SortOptions::default())?;
            if compare(at, i).is_ne() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The chunk of a held row.
    fn chunk_of(&self, r: RowRef) -> Result<&Chunk> {
        match self.chunks.get(r.chunk as usize) {
            Some(Some(c)) => Ok(c),
            _ => Err(EngineError::State(format!(
                "row store: chunk {} was dropped",
                r.chunk
            ))),
        }
    }

    /// The rows `refs`, in that order, as one batch.
    pub fn gather(&self, refs: &[RowRef]) -> Result<RecordBatch> {
        if refs.is_empty() {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        // The chunks referred to, numbered in order of first use.
        let mut slots: Vec<u32> = vec![u32::MAX; self.chunks.len()];
        let mut guards: Vec<Ref<'_, RecordBatch>> = vec![];
        let mut indices = Vec::with_capacity(refs.len());
        for r in refs {
            let c = self.chunk_of(*r)?;
            let slot = &mut slots[r.chunk as usize];
            if *slot == u32::MAX {
                *slot = guards.len() as u32;
                guards.push(c.read(self.batches, self.disk.as_ref())?);
            }
            indices.push((*slot as usize, c.position(r.row)));
        }
        if let [single] = guards.as_slice() {
            let take = UInt32Array::from_iter_values(indices.iter().map(|(_, i)| *i as u32));
            return Ok(take_record_batch(single, &take)?);
        }
        let batches: Vec<&RecordBatch> = guards.iter().map(|g| &**g).collect();
        Ok(interleave_record_batch(&batches, &indices)?)
    }

    /// The rows `refs` as columns, in that order; a `None` gives a row of
    /// NULLs (the padding of an outer join).
    pub fn gather_or_null(&self, refs: &[Option<RowRef>]) -> Result<Vec<ArrayRef>> {
        if refs.iter().all(Option::is_some) {
            let refs: Vec<RowRef> = refs.iter().flatten().copied().collect();
            return Ok(self.gather(&refs)?.columns().to_vec());
        }
        // Slot 0 is a row of NULLs; chunks follow in order of first use.
        let nulls: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), 1))
            .collect();
        let mut slots: Vec<u32> = vec![u32::MAX; self.chunks.len()];
        let mut sources: Vec<Ref<'_, RecordBatch>> = vec![];
        let mut indices = Vec::with_capacity(refs.len());
        for r in refs {
            let Some(r) = r else {
                indices.push((0, 0));
                continue;
            };
            let c = self.chunk_of(*r)?;
            let slot = &mut slots[r.chunk as usize];
            if *slot == u32::MAX {
                sources.push(c.read(self.batches, self.disk.as_ref())?);
                *slot = sources.len() as u32;
            }
            indices.push((*slot as usize, c.position(r.row)));
        }
        (0..self.schema.fields().len())
            .map(|col| {
                let arrays: Vec<&dyn Array> = std::iter::once(nulls[col].as_ref())
                    .chain(sources.iter().map(|b| b.column(col).as_ref()))
                    .collect();
                Ok(interleave(&arrays, &indices)?)
            })
            .collect()
    }

    /// After a batch: drops the chunks nothing holds any more, and cuts the
    /// newest chunk down to its held rows when fewer than half stayed.
    pub fn settle(&mut self) -> Result<()> {
        for chunk in std::mem::take(&mut self.emptied) {
            self.drop_if_empty(chunk);
        }
        if let Some((chunk, held)) = self.newest.take() {
            self.drop_if_empty(chunk);
            if let Some(Some(c)) = self.chunks.get_mut(chunk as usize)
                && (c.live as usize) * 2 < c.rows()
                && let Stored::Hot(data) = c.stored.get_mut()
            {
                let keep: Vec<u32> = (0..held.len() as u32)
                    .filter(|i| held[*i as usize])
                    .collect();
                let mut index = vec![u32::MAX; held.len()];
                for (j, i) in keep.iter().enumerate() {
                    index[*i as usize] = j as u32;
                }
                self.rows -= c.rows - keep.len();
                c.rows = keep.len();
                *data = take_record_batch(data, &UInt32Array::from(keep))?;
                c.index = Some(index.into());
            }
        }
        while matches!(self.chunks.last(), Some(None)) {
            self.chunks.pop();
        }
        self.batches += 1;
        self.freeze_beyond_budget()
    }

    /// Forgets a dropped chunk, and later its copy on disk.
    fn unlink(&mut self, c: Chunk) {
        self.rows -= c.rows();
        if c.on_disk {
            self.unlinked.push(c.id);
        }
    }

    /// Compresses the chunks read least recently (never the newest) until
    /// the uncompressed ones fit the budget.
    fn freeze_beyond_budget(&mut self) -> Result<()> {
        let Some(budget) = self.hot_budget else {
            return Ok(());
        };
        let mut puts = vec![];
        let newest = self.chunks.len().saturating_sub(1);
        let mut hot: Vec<(u64, usize, usize)> = self
            .chunks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                c.is_hot().then(|| (c.read_at.get(), i, c.memory_size()))
            })
            .collect();
        let mut bytes: usize = hot.iter().map(|h| h.2).sum();
        if bytes > budget {
            hot.sort_unstable();
            let to_disk = self.disk.is_some();
            for (_, i, size) in hot {
                if bytes <= budget {
                    break;
                }
                if i == newest {
                    continue;
                }
                if let Some(Some(c)) = self.chunks.get_mut(i) {
                    if let Some(ipc) = c.freeze(to_disk)? {
                        puts.push((c.id, ipc));
                    }
                    bytes -= size;
                }
            }
        }
        let unlinked = std::mem::take(&mut self.unlinked);
        if let Some(disk) = &mut self.disk {
            disk.apply(&puts, &unlinked)?;
        }
        Ok(())
    }

    /// Drops chunk `chunk` if it holds nothing.
    fn drop_if_empty(&mut self, chunk: u32) {
        if let Some(slot) = self.chunks.get_mut(chunk as usize)
            && slot.as_ref().is_some_and(|c| c.live == 0)
            && let Some(c) = slot.take()
        {
            self.unlink(c);
        }
    }

    /// The chunks worth compacting ([`RowStore::compact`]), once the dead
    /// rows make up a third of all rows: the sparsest chunks, holding at
    /// least half of the dead rows. `sparse[c]` tells whether chunk `c` is
    /// one of them.
    pub fn sparse_chunks(&self) -> Option<Vec<bool>> {
        let dead = self.rows - self.live;
        if dead * 2 <= self.live || dead < MIN_DEAD_FOR_COMPACTION {
            return None;
        }
        let mut by_density: Vec<(usize, &Chunk)> = self
            .chunks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i, c)))
            .collect();
        by_density.sort_by_key(|(_, c)| (c.live as u64 * 1024) / c.rows().max(1) as u64);
        let mut sparse = vec![false; self.chunks.len()];
        let mut freed = 0;
        for (i, c) in by_density {
            if freed * 2 >= dead {
                break;
            }
            sparse[i] = true;
            freed += c.rows() - c.live as usize;
        }
        Some(sparse)
    }

    /// Copies the rows `held` (every held row of the chunks marked in
    /// `sparse`, in any order) into fresh chunks and drops those chunks:
    /// the new reference of `held[i]` is `result[i]`.
    pub fn compact(&mut self, sparse: &[bool], held: &[RowRef]) -> Result<Vec<RowRef>> {
        let mut fresh = vec![];
        let mut refs = Vec::with_capacity(held.len());
        let first = self.chunks.len() as u32;
        for part in held.chunks(COMPACT_CHUNK_ROWS) {
            let chunk = first + fresh.len() as u32;
            fresh.push(Some(Chunk::new(
                self.gather(part)?,
                part.len() as u32,
                self.batches,
            )));
            refs.extend((0..part.len() as u32).map(|row| RowRef { chunk, row }));
        }
        for (i, is_sparse) in sparse.iter().enumerate() {
            if *is_sparse && let Some(c) = self.chunks[i].take() {
                self.unlink(c);
            }
        }
        self.rows += held.len();
        self.chunks.extend(fresh);
        self.emptied.clear();
        Ok(refs)
    }

    /// Refers to the rows `refs` for incremental checkpoint `checkpoint`:
    /// writes to `store` every chunk they are in that it lacks for that
    /// checkpoint (a chunk's rows never change, so once is enough) and
    /// gives each row's chunk id and position there, what
    /// [`crate::state::shared_rows_batch`] snapshots.
    pub fn shared_refs(
        &self,
        refs: &[RowRef],
        store: &dyn SnapshotStore,
        checkpoint: u64,
    ) -> Result<(Vec<u64>, Vec<u32>)> {
        let mut checked = vec![false; self.chunks.len()];
        let mut ids = Vec::with_capacity(refs.len());
        let mut positions = Vec::with_capacity(refs.len());
        for r in refs {
            let c = self.chunk_of(*r)?;
            if !checked[r.chunk as usize] {
                checked[r.chunk as usize] = true;
                if store.needs_shared(checkpoint, c.id)? {
                    store.write_shared(checkpoint, c.id, &c.ipc(self.disk.as_ref())?)?;
                }
            }
            ids.push(c.id);
            positions.push(c.position(r.row) as u32);
        }
        Ok((ids, positions))
    }

    /// Fills an empty store with the rows of `data`, all held: the
    /// reference of row `i` is chunk 0, row `i` (restoring a snapshot).
    pub fn restore(&mut self, data: RecordBatch) -> Result<()> {
        if !self.chunks.is_empty() {
            return Err(EngineError::Internal(
                "row store: restoring into a store that holds rows".into(),
            ));
        }
        let rows = data.num_rows();
        if rows > 0 {
            self.add(data);
            self.newest = None;
            if let Some(Some(c)) = self.chunks.get_mut(0) {
                c.live = rows as u32;
            }
            self.live = rows;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    /// A batch of one BIGINT column `v` holding `values`.
    pub(crate) fn batch(values: std::ops::Range<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(values))])
            .expect("batch")
    }

    fn values(store: &RowStore, refs: &[RowRef]) -> Vec<i64> {
        let b = store.gather(refs).expect("gather");
        b.column(0).as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn references_survive_the_cut_of_a_mostly_released_batch() {
        let mut store = RowStore::new(batch(0..0).schema());
        let c = store.add(batch(0..10));
        let r = |row| RowRef { chunk: c, row };
        for row in [2, 7] {
            store.hold(r(row));
        }
        store.settle().expect("settle");
        assert!(store.memory_size() < batch(0..10).get_array_memory_size());
        assert_eq!(values(&store, &[r(7), r(2)]), [7, 2]);
    }

    /// Adds eight chunks of 10k rows, all held, each settled; gives row 7
    /// of each.
    fn fill_eight_chunks(store: &mut RowStore) -> Vec<RowRef> {
        let mut refs = vec![];
        for k in 0..8 {
            let c = store.add(batch(k * 10_000..(k + 1) * 10_000));
            for row in 0..10_000 {
                store.hold(RowRef { chunk: c, row });
            }
            store.settle().expect("settle");
            refs.push(RowRef { chunk: c, row: 7 });
        }
        refs
    }

    #[test]
    fn chunks_beyond_the_budget_are_compressed_and_read_back_whole() {
        let mut store = RowStore::new(batch(0..0).schema()).with_hot_budget(100_000);
        let refs = fill_eight_chunks(&mut store);
        let hot: usize = 8 * batch(0..10_000).get_array_memory_size();
        assert!(
            store.memory_size() < hot * 3 / 4,
            "{} of {hot}",
            store.memory_size()
        );
        assert_eq!(
            values(&store, &refs),
            (0..8).map(|k| k * 10_000 + 7).collect::<Vec<_>>()
        );
        let other = batch(0..10_000);
        assert!(store.equals(refs[0], &other, 7).expect("equals"));
    }

    #[test]
    fn on_disk_chunks_beyond_the_budget_leave_memory_and_go_when_let_go() {
        let dir = std::env::temp_dir().join(format!("eddy-row-store-disk-{}", std::process::id()));
        let db = crate::state::backend::StateBackend::disk(&dir)
            .chunk_db("test")
            .expect("db");
        let mut store = RowStore::new(batch(0..0).schema())
            .with_hot_budget(100_000)
            .on_disk(db);
        let refs = fill_eight_chunks(&mut store);
        // All but the newest chunk and what fits the budget are on disk,
        // not compressed in memory.
        assert!(store.memory_size() <= 2 * batch(0..10_000).get_array_memory_size());
        let on_disk = store.disk_size();
        assert!(on_disk > 0);
        assert_eq!(
            values(&store, &refs),
            (0..8).map(|k| k * 10_000 + 7).collect::<Vec<_>>()
        );
        // Read back, a chunk is in memory again; beyond the budget it goes
        // back to disk without being written twice.
        store.settle().expect("settle");
        assert_eq!(store.disk_size(), on_disk);
        for row in 0..10_000 {
            store.release(RowRef { chunk: 0, row });
        }
        store.settle().expect("settle");
        assert!(
            store.disk_size() < on_disk,
            "the let-go chunk left the disk"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn compaction_keeps_the_held_rows_and_frees_the_dead() {
        let mut store = RowStore::new(batch(0..0).schema());
        let mut held = vec![];
        // Chunks of 100k rows, each keeping three of every four rows
        // until a later one lets most of them go.
        for k in 0..4 {
            let c = store.add(batch(k * 100_000..(k + 1) * 100_000));
            for row in 0..100_000 {
                store.hold(RowRef { chunk: c, row });
            }
            store.settle().expect("settle");
            held.extend((0..100_000).map(|row| RowRef { chunk: c, row }));
        }
        let (gone, kept): (Vec<_>, Vec<_>) = held
            .into_iter()
            .partition(|r| r.row % 4 != 0 || r.chunk == 3);
        for r in &gone[..gone.len() / 2] {
            store.release(*r);
        }
        store.settle().expect("settle");
        let sparse = store.sparse_chunks().expect("compaction is due");
        let moving: Vec<RowRef> = kept
            .iter()
            .chain(&gone[gone.len() / 2..])
            .copied()
            .filter(|r| sparse[r.chunk as usize])
            .collect();
        let before = values(&store, &moving);
        let moved = store.compact(&sparse, &moving).expect("compact");
        assert_eq!(values(&store, &moved), before);
        assert!(store.sparse_chunks().is_none());
    }
}

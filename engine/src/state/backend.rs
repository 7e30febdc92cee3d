//! State backends (`state.backend.type`): where operators keep their state
//! while a job runs.
//!
//! * `hashmap` (the default): everything in memory. Stores of rows
//!   ([`crate::state::row_store::RowStore`]) that have a memory budget
//!   compress what is beyond it, in memory.
//! * the disk backend (Flink's `rocksdb` names it): rows beyond a store's
//!   budget go to an embedded key-value store on local disk, one
//!   [redb](https://docs.rs/redb) database per store under
//!   `state.backend.rocksdb.localdir` (default: `eddy-state` in the
//!   system's temporary directory), deleted when the store is. Every store of rows gets a
//!   budget. The indexes over the rows (keys to rows, counts) and
//!   aggregates' accumulators stay in memory.
//!
//! The local database is a working copy, not a checkpoint: it is written
//! without syncing, and a checkpoint writes its own files (see
//! `docs/architecture.md`, "State backends").

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, Durability, ReadableDatabase, TableDefinition};

use crate::error::{EngineError, Result};

/// Bytes of rows a store keeps in memory on the disk backend before
/// moving the least recently read chunks to disk.
pub const DISK_HOT_BYTES: usize = 16 << 20;

/// How a job keeps its operators' state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateBackend {
    /// Where the disk backend keeps its databases; `None`: the state is in
    /// memory (`hashmap`).
    pub disk: Option<PathBuf>,
    /// Whether checkpoints write only what changed since the previous one
    /// (`execution.checkpointing.incremental`): rows already in an earlier
    /// checkpoint are referred to, not written again.
    pub incremental: bool,
}

impl StateBackend {
    /// The disk backend, its databases under `dir`.
    pub fn disk(dir: impl Into<PathBuf>) -> Self {
        Self {
            disk: Some(dir.into()),
            incremental: false,
        }
    }

    /// A database for the chunks of one store of rows, on the disk
    /// backend; `label` says whose (operator and subtask), for its file's
    /// name.
    pub fn chunk_db(&self, label: &str) -> Result<Option<DiskChunks>> {
        match &self.disk {
            Some(dir) => DiskChunks::create(dir, label).map(Some),
            None => Ok(None),
        }
    }
}

/// Chunks by their id.
const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");

/// Writes between two that are made durable: redb reuses the pages that
/// commits freed only after a durable commit.
const DURABLE_EVERY: u64 = 32;

/// A redb database of the compressed chunks of one store of rows, deleted
/// with it.
pub struct DiskChunks {
    db: Database,
    path: PathBuf,
    commits: u64,
    bytes: u64,
}

impl std::fmt::Debug for DiskChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskChunks")
            .field("path", &self.path)
            .finish()
    }
}

/// Numbers the databases of this process.
static DATABASES: AtomicU64 = AtomicU64::new(0);

impl DiskChunks {
    fn create(dir: &Path, label: &str) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::Io {
            context: format!("creating the state directory {}", dir.display()),
            source,
        })?;
        sweep_dead_once(dir);
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.join(format!(
            "eddy-{}-{}-{label}.redb",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        ));
        // A file of the same name is a dead process's (same pid): not ours.
        let _ = std::fs::remove_file(&path);
        let db = Database::create(&path).map_err(|e| kv_error(&path, "creating", e))?;
        Ok(Self {
            db,
            path,
            commits: 0,
            bytes: 0,
        })
    }

    /// Bytes of chunks written and not removed.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Stores `puts` and removes `removes`, in one transaction.
    pub fn apply(&mut self, puts: &[(u64, Vec<u8>)], removes: &[u64]) -> Result<()> {
        if puts.is_empty() && removes.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let err = |e: &dyn std::fmt::Display| kv_error(path, "writing", e);
        let mut txn = self.db.begin_write().map_err(|e| err(&e))?;
        self.commits += 1;
        if !self.commits.is_multiple_of(DURABLE_EVERY) {
            txn.set_durability(Durability::None).map_err(|e| err(&e))?;
        }
        {
            let mut table = txn.open_table(CHUNKS).map_err(|e| err(&e))?;
            for (id, bytes) in puts {
                table.insert(id, bytes.as_slice()).map_err(|e| err(&e))?;
                self.bytes += bytes.len() as u64;
            }
            for id in removes {
                if let Some(old) = table.remove(id).map_err(|e| err(&e))? {
                    self.bytes -= old.value().len() as u64;
                }
            }
        }
        txn.commit().map_err(|e| err(&e))
    }

    /// The bytes of chunk `id`.
    pub fn get(&self, id: u64) -> Result<Vec<u8>> {
        let path = &self.path;
        let err = |e: &dyn std::fmt::Display| kv_error(path, "reading", e);
        let txn = self.db.begin_read().map_err(|e| err(&e))?;
        let table = txn.open_table(CHUNKS).map_err(|e| err(&e))?;
        let value = table.get(id).map_err(|e| err(&e))?;
        value.map(|v| v.value().to_vec()).ok_or_else(|| {
            EngineError::State(format!(
                "state database {}: chunk {id} is missing",
                path.display()
            ))
        })
    }
}

impl Drop for DiskChunks {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// [`sweep_dead`], once per directory and process.
fn sweep_dead_once(dir: &Path) {
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut swept) = SWEPT.lock() else {
        return;
    };
    if !swept.iter().any(|d| d == dir) {
        swept.push(dir.to_path_buf());
        sweep_dead(dir);
    }
}

/// Deletes the databases that killed processes left in `dir` (a database
/// is named after its process, and a process that ends normally deletes
/// its own).
fn sweep_dead(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let pid = name
            .strip_prefix("eddy-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && name.ends_with(".redb")
            && pid != std::process::id()
            && !process_alive(pid)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether process `pid` runs; where that cannot be known, it is taken to.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

fn kv_error(path: &Path, doing: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::State(format!("{doing} state database {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_the_database_goes_with_its_store() {
        let dir = std::env::temp_dir().join(format!("eddy-disk-state-{}", std::process::id()));
        let backend = StateBackend::disk(&dir);
        let mut db = backend
            .chunk_db("node-3/left 0")
            .expect("db")
            .expect("disk");
        db.apply(&[(1, vec![1, 2, 3]), (2, vec![4; 1000])], &[])
            .expect("put");
        assert_eq!(db.get(2).expect("get"), vec![4; 1000]);
        db.apply(&[], &[2]).expect("remove");
        assert!(db.get(2).is_err());
        assert_eq!(db.bytes(), 3);
        let path = db.path.clone();
        assert!(path.is_file());
        drop(db);
        assert!(!path.exists());
        // A database a killed process left behind goes when another
        // process first opens one there.
        let dead = dir.join("eddy-4000000000-0-x.redb");
        std::fs::write(&dead, b"left").expect("write");
        sweep_dead(&dir);
        assert!(!dead.exists() || !Path::new("/proc/self").exists());
        assert!(
            StateBackend::default()
                .chunk_db("x")
                .expect("none")
                .is_none()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

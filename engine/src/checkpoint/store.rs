//! Checkpoints on disk.
//!
//! ```text
//! <checkpoint dir>/<job>/chk-<id>/<operator>-<subtask>.arrow   state (Arrow IPC file)
//!                              /_shared                         chunks it refers to
//!                              /_metadata                       written last, atomically
//!                        /shared/<chunk>.arrows                 shared rows (incremental)
//! ```
//!
//! A checkpoint directory without `_metadata` is incomplete: a crash
//! mid-checkpoint leaves it behind, restore skips it, and the next
//! completed checkpoint deletes it. `_metadata` is written to a temporary
//! file, synced, and renamed into place, so it is either whole or absent.
//!
//! Incremental checkpoints ([`crate::state::shared_rows_batch`]) write a
//! chunk of rows once into the job's `shared/` directory; every checkpoint
//! lists in `_shared` the chunks it refers to, and a chunk is deleted when
//! no retained checkpoint lists it. A savepoint is self-contained: its
//! chunks are in its own `shared/` directory.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};
use crate::state::{SnapshotStore, StateKey, node_of, resolve_shared_rows, shared_chunks};

/// Name of the file that makes a checkpoint complete.
pub const METADATA_FILE: &str = "_metadata";
/// Name of the file listing the shared chunks a checkpoint refers to.
const SHARED_LIST: &str = "_shared";
/// Name of the directory of shared chunks (of a job, or of a savepoint).
const SHARED_DIR: &str = "shared";
const METADATA_HEADER: &str = "eddy-checkpoint 1";

/// What `_metadata` says about a completed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointMetadata {
    /// The checkpoint's id (increasing within a job, across restarts).
    pub id: u64,
    /// The job's name.
    pub job: String,
    /// Whether it is a savepoint (taken on demand, never deleted by
    /// retention).
    pub savepoint: bool,
    /// When it completed, in milliseconds since the epoch.
    pub timestamp: i64,
    /// Every node of the job: id, parallelism and name.
    pub operators: Vec<OperatorEntry>,
}

/// One node of a checkpointed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorEntry {
    /// The operator's stable id (`node-<n>`).
    pub id: String,
    /// Its parallelism when the checkpoint was taken.
    pub parallelism: usize,
    /// Its name, as EXPLAIN shows it.
    pub name: String,
}

impl CheckpointMetadata {
    fn to_text(&self) -> String {
        let mut s = format!(
            "{METADATA_HEADER}\nid {}\njob {}\nkind {}\ntimestamp {}\n",
            self.id,
            self.job,
            if self.savepoint {
                "savepoint"
            } else {
                "checkpoint"
            },
            self.timestamp
        );
        for o in &self.operators {
            s.push_str(&format!(
                "operator {} {} {}\n",
                o.id,
                o.parallelism,
                o.name.replace('\n', " ")
            ));
        }
        s
    }

    fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |what: &str| {
            EngineError::State(format!(
                "{} is not an Eddy checkpoint ({what})",
                path.display()
            ))
        };
        let mut lines = text.lines();
        if lines.next() != Some(METADATA_HEADER) {
            return Err(bad("unknown header"));
        }
        let mut meta = CheckpointMetadata {
            id: 0,
            job: String::new(),
            savepoint: false,
            timestamp: 0,
            operators: vec![],
        };
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "id" => meta.id = value.parse().map_err(|_| bad("bad id"))?,
                "job" => meta.job = value.to_string(),
                "kind" => meta.savepoint = value == "savepoint",
                "timestamp" => meta.timestamp = value.parse().map_err(|_| bad("bad timestamp"))?,
                "operator" => {
                    let mut parts = value.splitn(3, ' ');
                    let id = parts.next().unwrap_or_default().to_string();
                    let parallelism = parts
                        .next()
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| bad("bad operator line"))?;
                    let name = parts.next().unwrap_or_default().to_string();
                    meta.operators.push(OperatorEntry {
                        id,
                        parallelism,
                        name,
                    });
                }
                _ => {}
            }
        }
        Ok(meta)
    }

    /// Reads the metadata of the checkpoint in directory `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(METADATA_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| EngineError::Io {
            context: format!("reading checkpoint metadata {}", path.display()),
            source,
        })?;
        Self::parse(&text, &path)
    }

    /// Writes the metadata into `dir` atomically: a temporary file, synced,
    /// renamed into place, and the directory synced.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(format!("{METADATA_FILE}.inprogress"));
        let io = |what: &str, source| EngineError::Io {
            context: format!("{what} {}", tmp.display()),
            source,
        };
        let mut f = File::create(&tmp).map_err(|e| io("creating", e))?;
        f.write_all(self.to_text().as_bytes())
            .map_err(|e| io("writing", e))?;
        f.sync_all().map_err(|e| io("syncing", e))?;
        std::fs::rename(&tmp, dir.join(METADATA_FILE)).map_err(|e| io("renaming", e))?;
        sync_dir(dir)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| EngineError::Io {
            context: format!("syncing directory {}", dir.display()),
            source,
        })
}

/// The directory of checkpoint `id` under a job's directory.
pub fn checkpoint_dir(job_dir: &Path, id: u64) -> PathBuf {
    job_dir.join(format!("chk-{id}"))
}

/// Checkpoint directories under `job_dir`, by id, with whether they are
/// complete.
fn list_checkpoints(job_dir: &Path) -> Result<Vec<(u64, PathBuf, bool)>> {
    let entries = match std::fs::read_dir(job_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => {
            return Err(EngineError::Io {
                context: format!("listing checkpoints in {}", job_dir.display()),
                source,
            });
        }
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(id) = name.strip_prefix("chk-").and_then(|n| n.parse().ok()) {
            let complete = e.path().join(METADATA_FILE).is_file();
            out.push((id, e.path(), complete));
        }
    }
    out.sort_by_key(|(id, _, _)| *id);
    Ok(out)
}

/// The newest complete checkpoint under `job_dir`, if any.
pub fn latest_complete(job_dir: &Path) -> Result<Option<PathBuf>> {
    Ok(list_checkpoints(job_dir)?
        .into_iter()
        .rev()
        .find(|(_, _, complete)| *complete)
        .map(|(_, p, _)| p))
}

/// The highest checkpoint id under `job_dir`, complete or not.
pub fn latest_id(job_dir: &Path) -> Result<Option<u64>> {
    Ok(list_checkpoints(job_dir)?.last().map(|(id, _, _)| *id))
}

/// Deletes all but the newest `retained` complete checkpoints and every
/// incomplete one older than `completed` (savepoints live elsewhere).
pub fn prune(job_dir: &Path, completed: u64, retained: usize) -> Result<()> {
    let all = list_checkpoints(job_dir)?;
    let complete: Vec<u64> = all.iter().filter(|c| c.2).map(|c| c.0).collect();
    let keep_from = complete
        .len()
        .checked_sub(retained.max(1))
        .map_or(0, |i| complete[i]);
    for (id, path, is_complete) in all {
        let stale = if is_complete {
            id < keep_from
        } else {
            id < completed
        };
        if stale {
            std::fs::remove_dir_all(&path).map_err(|source| EngineError::Io {
                context: format!("deleting old checkpoint {}", path.display()),
                source,
            })?;
        }
    }
    Ok(())
}

/// Deletes every checkpoint of a finished job (savepoints stay).
pub fn discard_checkpoints(job_dir: &Path) -> Result<()> {
    for (_, path, _) in list_checkpoints(job_dir)? {
        std::fs::remove_dir_all(&path).map_err(|source| EngineError::Io {
            context: format!("deleting checkpoint {}", path.display()),
            source,
        })?;
    }
    let shared = job_dir.join(SHARED_DIR);
    if shared.is_dir() {
        std::fs::remove_dir_all(&shared).map_err(|source| EngineError::Io {
            context: format!("deleting {}", shared.display()),
            source,
        })?;
    }
    // The job's directory goes too if nothing else is in it.
    let _ = std::fs::remove_dir(job_dir);
    Ok(())
}

/// Total size in bytes of the files of a directory and its
/// subdirectories.
pub fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok().map(|m| (e.path(), m)))
                .map(|(path, m)| if m.is_dir() { size_of(&path) } else { m.len() })
                .sum()
        })
        .unwrap_or(0)
}

/// The content of one of the store's mutexes.
fn locked<T>(m: &std::sync::Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| EngineError::Internal("checkpoint store lock poisoned".into()))
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| EngineError::Io {
        context: format!("creating {}", dir.display()),
        source,
    })
}

fn shared_file(dir: &Path, chunk: u64) -> PathBuf {
    dir.join(format!("{chunk}.arrows"))
}

/// The chunk a file of a `shared/` directory holds, by its name.
fn chunk_of(name: &str) -> Option<u64> {
    name.strip_suffix(".arrows")?.parse().ok()
}

/// The chunks a complete checkpoint's `_shared` lists.
fn read_shared_list(dir: &Path) -> Result<HashSet<u64>> {
    let path = dir.join(SHARED_LIST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(source) => {
            return Err(EngineError::Io {
                context: format!("reading {}", path.display()),
                source,
            });
        }
    };
    text.lines()
        .map(|l| {
            l.parse()
                .map_err(|_| EngineError::State(format!("{}: bad chunk id {l:?}", path.display())))
        })
        .collect()
}

/// Writes `bytes` to `path` durably: a temporary file, synced, renamed.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("inprogress");
    let io = |source| EngineError::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Keeps snapshots as Arrow IPC files: writes go into the directory of the
/// checkpoint being taken, restores read from the checkpoint restored.
#[derive(Debug)]
pub struct FileSnapshotStore {
    /// Where this job's checkpoints go.
    job_dir: PathBuf,
    /// Where a checkpoint with a given id is written (savepoints elsewhere).
    targets: std::sync::Mutex<HashMap<u64, PathBuf>>,
    /// The checkpoint restored from, and its metadata.
    restored: Option<(PathBuf, CheckpointMetadata)>,
    /// The user named the checkpoint restored (see
    /// [`SnapshotStore::restore_is_explicit`]).
    explicit: bool,
    /// The final state of operators of finished tasks, written into every
    /// checkpoint completed after they finished.
    finals: std::sync::Mutex<HashMap<StateKey, Vec<RecordBatch>>>,
    /// Per checkpoint being taken: the shared chunks its states refer to,
    /// and the bytes of those it wrote.
    shared: std::sync::Mutex<HashMap<u64, SharedWrites>>,
    /// Shared chunks written for final states (registered before they are
    /// written, so that pruning never deletes one a final state will
    /// refer to).
    final_chunks: std::sync::Mutex<HashSet<u64>>,
}

/// The shared chunks a checkpoint refers to, and the bytes of those it
/// wrote.
type SharedWrites = (HashSet<u64>, u64);

impl FileSnapshotStore {
    /// A store writing under `job_dir`, restoring from `restore_from` (a
    /// complete checkpoint or savepoint directory).
    pub fn new(job_dir: PathBuf, restore_from: Option<PathBuf>) -> Result<Self> {
        let restored = match restore_from {
            Some(dir) => {
                let meta = CheckpointMetadata::read(&dir)?;
                Some((dir, meta))
            }
            None => None,
        };
        // Chunks written by earlier runs: new ids go above them whatever
        // the clock says, and half-written ones (a crash mid-write) go.
        let mut chunk_dirs = vec![job_dir.join(SHARED_DIR)];
        if let Some((dir, _)) = &restored {
            chunk_dirs.push(dir.join(SHARED_DIR));
        }
        for dir in &chunk_dirs {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(id) = chunk_of(&name) {
                    crate::state::row_store::chunk_ids_above(id);
                } else if name.ends_with(".inprogress") && *dir == chunk_dirs[0] {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(Self {
            job_dir,
            targets: std::sync::Mutex::new(HashMap::new()),
            restored,
            finals: std::sync::Mutex::new(HashMap::new()),
            shared: std::sync::Mutex::new(HashMap::new()),
            final_chunks: std::sync::Mutex::new(HashSet::new()),
            explicit: false,
        })
    }

    /// Marks the checkpoint restored as named by the user
    /// (`execution.savepoint.path`), not the job's own latest.
    pub fn explicit(mut self, explicit: bool) -> Self {
        self.explicit = explicit;
        self
    }

    /// Where checkpoint `id` keeps its shared chunks: a savepoint in its
    /// own directory, checkpoints (and final states) in the job's.
    fn shared_dir(&self, id: u64) -> Result<PathBuf> {
        if id == super::FINAL_CHECKPOINT {
            return Ok(self.job_dir.join(SHARED_DIR));
        }
        let target = self.target(id)?;
        Ok(if target == checkpoint_dir(&self.job_dir, id) {
            self.job_dir.join(SHARED_DIR)
        } else {
            target.join(SHARED_DIR)
        })
    }

    /// Makes checkpoint `id` whole before its metadata is written: a
    /// savepoint gets a copy of the shared chunks it refers to that are in
    /// the job's directory (final states'), and `_shared` lists them all.
    /// Gives the bytes of shared chunks written for it.
    pub fn seal(&self, id: u64) -> Result<u64> {
        let (chunks, mut bytes) = locked(&self.shared)?.remove(&id).unwrap_or_default();
        if chunks.is_empty() {
            return Ok(bytes);
        }
        let dir = self.shared_dir(id)?;
        create_dir(&dir)?;
        let job_shared = self.job_dir.join(SHARED_DIR);
        if dir != job_shared {
            for chunk in &chunks {
                let to = shared_file(&dir, *chunk);
                if !to.is_file() {
                    let from = shared_file(&job_shared, *chunk);
                    let data = std::fs::read(&from).map_err(|source| EngineError::Io {
                        context: format!("reading shared state {}", from.display()),
                        source,
                    })?;
                    write_durably(&to, &data)?;
                    bytes += data.len() as u64;
                }
            }
        }
        sync_dir(&dir)?;
        sync_dir(dir.parent().unwrap_or(&dir))?;
        let mut list: Vec<u64> = chunks.into_iter().collect();
        list.sort_unstable();
        let text: String = list.iter().map(|c| format!("{c}\n")).collect();
        write_durably(&self.target(id)?.join(SHARED_LIST), text.as_bytes())?;
        Ok(bytes)
    }

    /// After checkpoint `completed` completed: deletes old checkpoints (see
    /// [`prune`]) and the shared chunks no retained checkpoint, and no
    /// final state, refers to.
    pub fn prune(&self, completed: u64, retained: usize) -> Result<()> {
        prune(&self.job_dir, completed, retained)?;
        let dir = self.job_dir.join(SHARED_DIR);
        // Listed before what is live is known: a final state's chunk written
        // meanwhile is registered, not listed.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        let entries: Vec<std::fs::DirEntry> = entries.flatten().collect();
        let mut live = locked(&self.final_chunks)?.clone();
        for (_, path, complete) in list_checkpoints(&self.job_dir)? {
            if complete {
                live.extend(read_shared_list(&path)?);
            }
        }
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(chunk) = chunk_of(&name) else {
                continue;
            };
            if !live.contains(&chunk) {
                std::fs::remove_file(e.path()).map_err(|source| EngineError::Io {
                    context: format!("deleting shared state {}", e.path().display()),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Reads a shared chunk of the checkpoint restored: from its own
    /// `shared/` (a savepoint), else from its job's.
    fn load_shared(&self, dir: &Path, chunk: u64) -> Result<RecordBatch> {
        let own = shared_file(&dir.join(SHARED_DIR), chunk);
        let path = if own.is_file() {
            own
        } else {
            shared_file(&dir.parent().unwrap_or(dir).join(SHARED_DIR), chunk)
        };
        let data = std::fs::read(&path).map_err(|source| EngineError::Io {
            context: format!("reading shared state {}", path.display()),
            source,
        })?;
        crate::state::row_store::thaw(&data)
            .map_err(|e| EngineError::State(format!("reading {}: {e}", path.display())))
    }

    /// The checkpoint restored from, if any.
    pub fn restored(&self) -> Option<&(PathBuf, CheckpointMetadata)> {
        self.restored.as_ref()
    }

    /// The job's checkpoint directory.
    pub fn job_dir(&self) -> &Path {
        &self.job_dir
    }

    /// Directs the state of checkpoint `id` into `dir` (creating it).
    pub fn begin(&self, id: u64, dir: PathBuf) -> Result<()> {
        std::fs::create_dir_all(&dir).map_err(|source| EngineError::Io {
            context: format!("creating checkpoint directory {}", dir.display()),
            source,
        })?;
        locked(&self.targets)?.insert(id, dir);
        Ok(())
    }

    /// Where checkpoint `id` is written.
    pub fn target(&self, id: u64) -> Result<PathBuf> {
        locked(&self.targets)?
            .get(&id)
            .cloned()
            .ok_or_else(|| EngineError::Internal(format!("checkpoint {id} was not begun")))
    }

    /// Forgets checkpoint `id` (completed or abandoned).
    pub fn end(&self, id: u64) -> Result<()> {
        locked(&self.targets)?.remove(&id);
        locked(&self.shared)?.remove(&id);
        Ok(())
    }

    /// Writes the final state of `keys` (operators of finished tasks) into
    /// checkpoint `id`.
    pub fn write_final_states(&self, id: u64, keys: &[StateKey]) -> Result<()> {
        let finals: Vec<(StateKey, Vec<RecordBatch>)> = {
            let map = locked(&self.finals)?;
            keys.iter()
                .filter_map(|k| map.get(k).map(|b| (k.clone(), b.clone())))
                .collect()
        };
        for (key, batches) in finals {
            self.write(id, &key, batches)?;
        }
        Ok(())
    }
}

fn state_file(dir: &Path, key: &StateKey) -> PathBuf {
    // Operators with several states name them `node-4/left`: one file each.
    let operator = key.operator.replace('%', "%25").replace('/', "%2F");
    dir.join(format!("{operator}-{}.arrow", key.subtask))
}

fn read_batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|source| EngineError::Io {
        context: format!("reading state {}", path.display()),
        source,
    })?;
    let bad = |e: datafusion::arrow::error::ArrowError| {
        EngineError::State(format!("reading {}: {e}", path.display()))
    };
    let reader = FileReader::try_new(std::io::BufReader::new(file), None).map_err(bad)?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(bad)
}

/// Writes `batches` (one schema, at least one batch) as an IPC file, synced.
fn write_batches(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let io = |source| EngineError::Io {
        context: format!("writing state {}", path.display()),
        source,
    };
    let mut out = std::io::BufWriter::new(File::create(path).map_err(io)?);
    let mut w = FileWriter::try_new(&mut out, &first.schema())?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    drop(w);
    out.flush().map_err(io)?;
    out.get_ref().sync_all().map_err(io)
}

impl SnapshotStore for FileSnapshotStore {
    fn restore_is_explicit(&self) -> bool {
        self.explicit && self.restored.is_some()
    }

    fn write(&self, checkpoint: u64, key: &StateKey, batches: Vec<RecordBatch>) -> Result<()> {
        if checkpoint == super::FINAL_CHECKPOINT {
            locked(&self.finals)?.insert(key.clone(), batches);
            return Ok(());
        }
        let refs: Vec<u64> = batches
            .iter()
            .filter_map(shared_chunks)
            .flat_map(|c| c.values().iter().copied())
            .collect();
        if !refs.is_empty() {
            locked(&self.shared)?
                .entry(checkpoint)
                .or_default()
                .0
                .extend(refs);
        }
        let path = state_file(&self.target(checkpoint)?, key);
        // Batches of different schemas (a watermark batch, then state) go
        // to sibling files, one schema per IPC file: `x.arrow`, `x.arrow.1`..
        let mut groups: Vec<Vec<RecordBatch>> = vec![];
        for b in batches {
            match groups.last_mut() {
                Some(g) if g[0].schema() == b.schema() => g.push(b),
                _ => groups.push(vec![b]),
            }
        }
        for (i, group) in groups.iter().enumerate() {
            let file = if i == 0 {
                path.clone()
            } else {
                path.with_extension(format!("arrow.{i}"))
            };
            write_batches(&file, group)?;
        }
        Ok(())
    }

    fn restore(&self, key: &StateKey) -> Result<Option<Vec<RecordBatch>>> {
        let Some((dir, _)) = &self.restored else {
            return Ok(None);
        };
        let first = state_file(dir, key);
        if !first.is_file() {
            return Ok(None);
        }
        let mut batches = read_batches(&first)?;
        for i in 1.. {
            let next = first.with_extension(format!("arrow.{i}"));
            if !next.is_file() {
                break;
            }
            batches.extend(read_batches(&next)?);
        }
        resolve_shared_rows(batches, &mut |chunk| self.load_shared(dir, chunk)).map(Some)
    }

    fn restore_all(&self, operator: &str) -> Result<Vec<Vec<RecordBatch>>> {
        let Some((_, meta)) = &self.restored else {
            return Ok(vec![]);
        };
        let node = node_of(operator);
        let Some(entry) = meta.operators.iter().find(|o| o.id == node) else {
            return Ok(vec![]);
        };
        let mut all = vec![];
        for subtask in 0..entry.parallelism {
            let key = StateKey {
                operator: operator.to_string(),
                subtask,
            };
            if let Some(b) = self.restore(&key)? {
                all.push(b);
            }
        }
        Ok(all)
    }

    fn restored_parallelism(&self, operator: &str) -> Result<Option<usize>> {
        let node = node_of(operator);
        Ok(self.restored.as_ref().and_then(|(_, meta)| {
            meta.operators
                .iter()
                .find(|o| o.id == node)
                .map(|o| o.parallelism)
        }))
    }

    fn needs_shared(&self, checkpoint: u64, chunk: u64) -> Result<bool> {
        Ok(!shared_file(&self.shared_dir(checkpoint)?, chunk).is_file())
    }

    fn write_shared(&self, checkpoint: u64, chunk: u64, ipc: &[u8]) -> Result<()> {
        let dir = self.shared_dir(checkpoint)?;
        create_dir(&dir)?;
        if checkpoint == super::FINAL_CHECKPOINT {
            locked(&self.final_chunks)?.insert(chunk);
        }
        write_durably(&shared_file(&dir, chunk), ipc)?;
        if checkpoint != super::FINAL_CHECKPOINT {
            locked(&self.shared)?.entry(checkpoint).or_default().1 += ipc.len() as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

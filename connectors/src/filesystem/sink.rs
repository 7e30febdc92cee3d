//! Writing part files into the table's directory. Append-only.
//!
//! Without checkpoints each sink subtask writes `part-<job>-<subtask>-0.<format>`.
//! With checkpoints the sink commits in two phases, as Flink's does: rows
//! go to a hidden in-progress file `.part-<job>-<subtask>-<n>.<format>.inprogress`
//! (readers skip hidden files); a checkpoint closes it and records it as
//! pending; when the checkpoint completes, pending files are renamed to
//! `part-<job>-<subtask>-<n>.<format>`. Crash windows:
//!
//! - before a checkpoint completes: its files stay in progress; the restart
//!   restores the previous checkpoint, deletes this subtask's files numbered
//!   from that checkpoint's next number on, and writes them again;
//! - after it completes, before the rename: the restart restores it and
//!   renames its pending files (renaming is idempotent);
//! - at the end of input the last files are committed at once; a crash
//!   between that and the job's end re-runs from the last checkpoint, whose
//!   restore deletes and rewrites those files: the result is the same.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use eddy_engine::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, EngineError, Result, RowKind};

use crate::format::Format;
use crate::format::encode::encode_batch;

/// Creates the writers of a filesystem sink.
pub struct FileSinkFactory {
    path: PathBuf,
    format: Format,
    table: String,
}

impl FileSinkFactory {
    /// A sink writing into directory `path`.
    pub fn new(path: PathBuf, format: Format, table: String) -> Self {
        Self {
            path,
            format,
            table,
        }
    }
}

impl OperatorFactory for FileSinkFactory {
    fn name(&self) -> String {
        format!(
            "Sink: filesystem[{}, {}]",
            self.path.display(),
            self.format.name()
        )
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(FileSink {
            dir: self.path.clone(),
            format: self.format.clone(),
            table: self.table.clone(),
            job: sanitize(&subtask.job_name),
            prefix: format!("part-{}-{}-", sanitize(&subtask.job_name), subtask.index),
            two_phase: false,
            next_file: 0,
            current: None,
            pending: vec![],
            text: String::new(),
        }))
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

struct FileSink {
    dir: PathBuf,
    format: Format,
    table: String,
    /// The job's name, as file names hold it.
    job: String,
    /// `part-<job>-<subtask>-`: the names of this subtask's files.
    prefix: String,
    /// Whether the job checkpoints: files are committed in two phases.
    two_phase: bool,
    /// The number of the next file.
    next_file: u64,
    /// The file being written: its number and writer.
    current: Option<(u64, BufWriter<File>)>,
    /// Files closed by a checkpoint and not committed yet: (checkpoint, number).
    pending: Vec<(u64, u64)>,
    text: String,
}

fn io(what: &str, path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Io {
        context: format!("{what} {}", path.display()),
        source,
    }
}

fn state_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        // -1 on the row that holds the next file's number.
        Field::new("checkpoint", DataType::Int64, false),
        Field::new("file", DataType::Int64, false),
    ]))
}

impl FileSink {
    /// The committed name of file `n`.
    fn final_path(&self, n: u64) -> PathBuf {
        self.dir
            .join(format!("{}{n}.{}", self.prefix, self.format.name()))
    }

    /// The name of file `n` while it is written.
    fn in_progress_path(&self, n: u64) -> PathBuf {
        if self.two_phase {
            self.dir.join(format!(
                ".{}{n}.{}.inprogress",
                self.prefix,
                self.format.name()
            ))
        } else {
            self.final_path(n)
        }
    }

    /// Flushes and closes the current file, returning its number.
    fn close_current(&mut self) -> Result<Option<u64>> {
        let Some((n, mut w)) = self.current.take() else {
            return Ok(None);
        };
        let path = self.in_progress_path(n);
        w.flush().map_err(|e| io("flushing", &path, e))?;
        if self.two_phase {
            w.get_ref()
                .sync_all()
                .map_err(|e| io("syncing", &path, e))?;
        }
        Ok(Some(n))
    }

    /// Renames file `n` to its committed name; done already is fine.
    fn commit_file(&self, n: u64) -> Result<()> {
        let from = self.in_progress_path(n);
        let to = self.final_path(n);
        match std::fs::rename(&from, &to) {
            Ok(()) => Ok(()),
            Err(_) if !from.exists() && to.exists() => Ok(()),
            Err(e) => Err(io("committing", &from, e)),
        }
    }

    /// Deletes this subtask's files numbered `from` on, committed or not:
    /// written after the checkpoint restored, they are written again.
    fn delete_from(&self, from: u64) -> Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("listing", &self.dir, e)),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let name = name.strip_prefix('.').unwrap_or(&name);
            let Some(rest) = name.strip_prefix(&self.prefix) else {
                continue;
            };
            let number = rest.split('.').next().and_then(|n| n.parse::<u64>().ok());
            if number.is_some_and(|n| n >= from) {
                std::fs::remove_file(e.path()).map_err(|err| io("deleting", &e.path(), err))?;
            }
        }
        Ok(())
    }

    fn restore(&mut self, batches: Vec<RecordBatch>) -> Result<()> {
        for b in batches {
            if b.schema() != state_schema() {
                return Err(EngineError::State(format!(
                    "the checkpointed files of sink '{}' have an unknown layout",
                    self.table
                )));
            }
            let checkpoints = b.column(0).as_primitive::<Int64Type>();
            let files = b.column(1).as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                match checkpoints.value(i) {
                    -1 => self.next_file = files.value(i) as u64,
                    c => self.pending.push((c as u64, files.value(i) as u64)),
                }
            }
        }
        // The checkpoint restored is complete: its pending files commit.
        for (_, n) in std::mem::take(&mut self.pending) {
            self.commit_file(n)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for FileSink {
    fn name(&self) -> String {
        format!("Sink: filesystem[{}]", self.dir.display())
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        if (0..batch.num_rows()).any(|i| batch.kind(i) != RowKind::Insert) {
            return Err(EngineError::Execution(format!(
                "Table sink '{}' (filesystem) only accepts inserts, but received an update or delete",
                self.table
            )));
        }
        if self.current.is_none() {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| io("creating directory", &self.dir, e))?;
            let n = self.next_file;
            let path = self.in_progress_path(n);
            let file = File::create(&path).map_err(|e| io("creating", &path, e))?;
            self.current = Some((n, BufWriter::new(file)));
            if self.two_phase {
                self.next_file += 1;
            }
        }
        self.text.clear();
        encode_batch(&mut self.text, &batch.data, &self.format);
        let text = std::mem::take(&mut self.text);
        let result = match self.current.as_mut() {
            Some((_, w)) => w.write_all(text.as_bytes()),
            None => Ok(()),
        };
        self.text = text;
        match (result, &self.current) {
            (Err(e), Some((n, _))) => Err(io("writing", &self.in_progress_path(*n), e)),
            _ => Ok(()),
        }
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // A job that checkpoints has a state store.
        self.two_phase = ctx.state.is_some();
        if !self.two_phase {
            return Ok(());
        }
        // At a lower parallelism than the checkpoint's, this subtask also
        // finishes what old subtasks `index + k * parallelism` left: their
        // pending files commit, their later files go.
        for (old, state) in ctx.restored_state_of_orphans()? {
            let mut orphan = FileSink {
                prefix: format!("part-{}-{old}-", self.job),
                job: self.job.clone(),
                current: None,
                pending: vec![],
                text: String::new(),
                dir: self.dir.clone(),
                format: self.format.clone(),
                table: self.table.clone(),
                two_phase: true,
                next_file: 0,
            };
            orphan.restore(state)?;
            orphan.delete_from(orphan.next_file)?;
        }
        let restored = ctx.restored_state()?;
        if restored.is_empty() {
            // A fresh start replaces what an earlier run of the job wrote.
            return self.delete_from(0);
        }
        self.restore(restored)?;
        self.delete_from(self.next_file)
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        if !self.two_phase {
            // At least once: what was written reaches the file.
            return match self.current.as_mut() {
                Some((n, w)) => {
                    let n = *n;
                    w.flush()
                        .map_err(|e| io("flushing", &self.in_progress_path(n), e))
                }
                None => Ok(()),
            };
        }
        if let Some(n) = self.close_current()? {
            self.pending.push((checkpoint, n));
        }
        let mut checkpoints = vec![-1];
        let mut files = vec![self.next_file as i64];
        for (c, n) in &self.pending {
            checkpoints.push(*c as i64);
            files.push(*n as i64);
        }
        let state = RecordBatch::try_new(
            state_schema(),
            vec![
                Arc::new(Int64Array::from(checkpoints)),
                Arc::new(Int64Array::from(files)),
            ],
        )?;
        ctx.save_state(checkpoint, vec![state])
    }

    async fn on_checkpoint_complete(&mut self, id: u64, _ctx: &mut Context) -> Result<()> {
        let (done, rest): (Vec<_>, Vec<_>) = self.pending.iter().partition(|(c, _)| *c <= id);
        self.pending = rest;
        for (_, n) in done {
            self.commit_file(n)?;
        }
        Ok(())
    }

    async fn close(&mut self, _ctx: &mut Context, _out: &mut dyn Emitter) -> Result<()> {
        let last = self.close_current()?;
        if self.two_phase {
            // The end of input commits everything (see the crash windows above).
            for (_, n) in std::mem::take(&mut self.pending) {
                self.commit_file(n)?;
            }
            if let Some(n) = last {
                self.commit_file(n)?;
            }
        }
        Ok(())
    }
}

//! Reading files: each file is a split; files are spread over the source
//! subtasks; each subtask reads its files interleaved, a batch from each in
//! turn (up to [`MAX_OPEN_FILES`] at once), so its watermark, the minimum
//! over the open files, follows all of them: files that each span the
//! whole time range (like the partitions of a topic) give no late rows.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use eddy_engine::operator::{Context, Source, SourceEvent, SourceFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, EngineError, Result};

use crate::format::{Decoder, Format, Origin};

/// Rows per batch a file source emits.
const BATCH_ROWS: usize = 8192;

/// Files a subtask reads at once; the rest wait for one to end.
const MAX_OPEN_FILES: usize = 64;

/// Creates the readers of a filesystem table.
pub struct FileSourceFactory {
    path: PathBuf,
    format: Format,
    schema: SchemaRef,
    read_columns: Option<Vec<usize>>,
    monitor: Option<Duration>,
    regex: Option<regex::Regex>,
}

impl FileSourceFactory {
    /// A source over `path` (a file or a directory). Fails if the path
    /// does not exist and is not monitored.
    pub fn try_new(
        path: PathBuf,
        format: Format,
        schema: SchemaRef,
        read_columns: Option<Vec<usize>>,
        monitor: Option<Duration>,
        regex: Option<String>,
    ) -> Result<Self> {
        if monitor.is_none() && !path.exists() {
            return Err(EngineError::Plan(format!(
                "File source path '{}' does not exist",
                path.display()
            )));
        }
        let regex = regex
            .map(|r| regex::Regex::new(&r))
            .transpose()
            .map_err(|e| EngineError::Plan(format!("source.path.regex-pattern: {e}")))?;
        // Fail early on types the format cannot read.
        Decoder::new(schema.clone(), format.clone())?;
        Ok(Self {
            path,
            format,
            schema,
            read_columns,
            monitor,
            regex,
        })
    }
}

impl SourceFactory for FileSourceFactory {
    fn name(&self) -> String {
        format!(
            "filesystem[{}, {}]",
            self.path.display(),
            self.format.name()
        )
    }

    fn is_bounded(&self) -> bool {
        self.monitor.is_none()
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>> {
        Ok(Box::new(FileSource {
            root: self.path.clone(),
            regex: self.regex.clone(),
            monitor: self.monitor,
            decoder: Decoder::new(self.schema.clone(), self.format.clone())?
                .reading_only(self.read_columns.as_deref()),
            csv_quote: match &self.format {
                Format::Csv(o) => o.quote,
                _ => None,
            },
            subtask: subtask.index,
            parallelism: subtask.parallelism,
            seen: HashSet::new(),
            restored: HashMap::new(),
            finished: vec![],
            pending: vec![],
            open: VecDeque::new(),
            announce: VecDeque::new(),
            next_split: 0,
            listed: false,
            found_bytes: 0,
            read_bytes: 0,
        }))
    }
}

struct OpenFile {
    split: usize,
    name: String,
    path: PathBuf,
    reader: BufReader<File>,
    /// Bytes taken from the reader so far (a partial record included).
    consumed: u64,
    /// Lines read so far.
    line_no: u64,
    /// A record not complete yet: it spans buffer fills, or a quoted CSV
    /// field holds a line break.
    partial: Vec<u8>,
    /// The line where the record in `partial` starts.
    pending_line: u64,
}

/// The reader of one subtask.
struct FileSource {
    root: PathBuf,
    regex: Option<regex::Regex>,
    monitor: Option<Duration>,
    decoder: Decoder,
    csv_quote: Option<char>,
    subtask: usize,
    parallelism: usize,
    seen: HashSet<PathBuf>,
    /// Positions of a restored checkpoint, by file.
    restored: HashMap<PathBuf, Position>,
    /// Files read to their end (kept in checkpoints: not read again).
    finished: Vec<PathBuf>,
    /// Files assigned to this subtask and not opened yet (last first).
    pending: Vec<PathBuf>,
    /// Files being read, the next to read a batch from first.
    open: VecDeque<OpenFile>,
    /// Splits opened and not yet announced to the runtime.
    announce: VecDeque<usize>,
    next_split: usize,
    listed: bool,
    /// Bytes of this subtask's files found and read, not yet reported to
    /// the metrics (progress of a bounded read).
    found_bytes: u64,
    read_bytes: u64,
}

/// How far a file was read, as a checkpoint records it.
#[derive(Debug, Clone, Copy)]
enum Position {
    /// Read to its end.
    Finished,
    /// Read up to this byte (the start of a record) and this many lines.
    At { offset: u64, lines: u64 },
}

/// The schema of a file source's checkpointed positions.
fn position_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("path", DataType::Utf8, false),
        // -1: read to its end.
        Field::new("offset", DataType::Int64, false),
        Field::new("lines", DataType::Int64, false),
    ]))
}

/// Files under `root` (itself if a file), sorted, hidden ones skipped.
fn list_files(root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if root.is_file() {
        out.push(root.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(root).map_err(|source| EngineError::Io {
        context: format!("listing {}", root.display()),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n.starts_with('_'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            list_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

impl FileSource {
    /// Finds files this subtask has not read yet.
    fn discover(&mut self) -> Result<()> {
        let mut all = vec![];
        if self.root.exists() {
            list_files(&self.root, &mut all)?;
        }
        for (i, p) in all.into_iter().enumerate() {
            if self.seen.contains(&p) {
                continue;
            }
            if self
                .regex
                .as_ref()
                .is_some_and(|r| !r.is_match(&p.to_string_lossy()))
            {
                continue;
            }
            // Bounded: spread by position; continuous: by name, which does
            // not shift when files are added.
            let owner = if self.monitor.is_some() {
                let mut h = DefaultHasher::new();
                p.hash(&mut h);
                (h.finish() % self.parallelism as u64) as usize
            } else {
                i % self.parallelism
            };
            self.seen.insert(p.clone());
            if owner == self.subtask {
                if let Some(Position::Finished) = self.restored.get(&p) {
                    self.finished.push(p);
                    continue;
                }
                self.found_bytes += std::fs::metadata(&p).map_or(0, |m| m.len());
                self.pending.push(p);
            }
        }
        self.pending.reverse();
        Ok(())
    }

    fn open_next(&mut self) -> Result<bool> {
        let Some(path) = self.pending.pop() else {
            return Ok(false);
        };
        let io = |source| EngineError::Io {
            context: format!("opening {}", path.display()),
            source,
        };
        let mut file = File::open(&path).map_err(io)?;
        // A restored file goes on from its checkpointed position.
        let (offset, lines) = match self.restored.remove(&path) {
            Some(Position::At { offset, lines }) => {
                use std::io::{Seek, SeekFrom};
                file.seek(SeekFrom::Start(offset)).map_err(io)?;
                self.read_bytes += offset;
                (offset, lines)
            }
            _ => (0, 0),
        };
        self.open.push_back(OpenFile {
            split: self.next_split,
            name: path.display().to_string(),
            path,
            reader: BufReader::with_capacity(1 << 20, file),
            consumed: offset,
            line_no: lines,
            partial: Vec::new(),
            pending_line: lines + 1,
        });
        self.announce.push_back(self.next_split);
        self.next_split += 1;
        Ok(true)
    }

    /// Reads up to a batch of rows from file `f`; `None` at its end.
    ///
    /// Records are decoded in place from the reader's buffer; only a record
    /// that spans two buffer fills (or a quoted CSV field spanning lines) is
    /// copied into the file's `partial`.
    fn read_batch(&mut self, f: &mut OpenFile) -> Result<Option<ChangeBatch>> {
        let quote = self.csv_quote.and_then(|q| q.is_ascii().then_some(q as u8));
        let pending = &mut f.partial;
        while self.decoder.buffered_rows() < BATCH_ROWS {
            let buf = f.reader.fill_buf().map_err(|source| EngineError::Io {
                context: format!("reading {}", f.name),
                source,
            })?;
            if buf.is_empty() {
                if !pending.is_empty() {
                    f.line_no += 1;
                    let record = trim_newline(pending);
                    self.decoder.decode(
                        record,
                        Origin {
                            source: &f.name,
                            line: f.pending_line,
                            is_offset: false,
                        },
                    )?;
                    pending.clear();
                }
                break;
            }
            let mut used = 0;
            for nl in memchr::memchr_iter(b'\n', buf) {
                let line = &buf[used..=nl];
                used = nl + 1;
                f.line_no += 1;
                if pending.is_empty() {
                    f.pending_line = f.line_no;
                }
                // A quoted CSV field may hold line breaks: a record ends
                // where its quotes balance.
                let odd =
                    |b: &[u8]| quote.is_some_and(|q| memchr::memchr_iter(q, b).count() % 2 == 1);
                if !pending.is_empty() || odd(line) {
                    pending.extend_from_slice(line);
                    if odd(pending) {
                        continue;
                    }
                    let origin = Origin {
                        source: &f.name,
                        line: f.pending_line,
                        is_offset: false,
                    };
                    self.decoder.decode(trim_newline(pending), origin)?;
                    pending.clear();
                } else {
                    let origin = Origin {
                        source: &f.name,
                        line: f.line_no,
                        is_offset: false,
                    };
                    self.decoder.decode(trim_newline(line), origin)?;
                }
                if self.decoder.buffered_rows() >= BATCH_ROWS {
                    break;
                }
            }
            if used == 0 {
                // No line end in the buffer: keep the partial record.
                if pending.is_empty() {
                    f.pending_line = f.line_no + 1;
                }
                pending.extend_from_slice(buf);
                used = buf.len();
            }
            f.reader.consume(used);
            f.consumed += used as u64;
            self.read_bytes += used as u64;
        }
        self.decoder.flush_changes()
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl FileSource {
    /// The positions this subtask reached: every file read to its end and
    /// where each open file's next record starts.
    fn positions(&self) -> Result<RecordBatch> {
        let mut paths = vec![];
        let mut offsets = vec![];
        let mut lines = vec![];
        for p in &self.finished {
            paths.push(p.to_string_lossy().to_string());
            offsets.push(-1);
            lines.push(0);
        }
        for f in &self.open {
            // A record split over buffer fills starts where `partial` does.
            let (offset, line) = if f.partial.is_empty() {
                (f.consumed, f.line_no)
            } else {
                (
                    f.consumed - f.partial.len() as u64,
                    f.pending_line.saturating_sub(1),
                )
            };
            paths.push(f.path.to_string_lossy().to_string());
            offsets.push(offset as i64);
            lines.push(line as i64);
        }
        Ok(RecordBatch::try_new(
            position_schema(),
            vec![
                Arc::new(StringArray::from(paths)),
                Arc::new(Int64Array::from(offsets)),
                Arc::new(Int64Array::from(lines)),
            ],
        )?)
    }

    /// Takes the positions of every subtask of the checkpoint restored:
    /// the files this subtask owns now go on from there.
    fn restore(&mut self, states: Vec<Vec<RecordBatch>>) -> Result<()> {
        for batch in states.into_iter().flatten() {
            if batch.schema() != position_schema() {
                return Err(EngineError::State(format!(
                    "the checkpointed positions of {} have an unknown layout",
                    self.root.display()
                )));
            }
            let paths = batch.column(0).as_string::<i32>();
            let offsets = batch.column(1).as_primitive::<Int64Type>();
            let lines = batch.column(2).as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                let position = match offsets.value(i) {
                    o if o < 0 => Position::Finished,
                    o => Position::At {
                        offset: o as u64,
                        lines: lines.value(i) as u64,
                    },
                };
                self.restored
                    .insert(PathBuf::from(paths.value(i)), position);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Source for FileSource {
    fn name(&self) -> String {
        format!("filesystem[{}]", self.root.display())
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        let states = ctx.restored_state_of_all_subtasks()?;
        self.restore(states)
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let positions = self.positions()?;
        ctx.save_state(checkpoint, vec![positions])
    }

    async fn next(&mut self, ctx: &mut Context) -> Result<SourceEvent> {
        loop {
            while self.open.len() < MAX_OPEN_FILES && self.open_next()? {}
            if let Some(split) = self.announce.pop_front() {
                return Ok(SourceEvent::SplitStart(split));
            }
            if let Some(mut f) = self.open.pop_front() {
                let batch = self.read_batch(&mut f)?;
                ctx.metrics.add_skipped(self.decoder.take_skipped());
                ctx.metrics
                    .add_work_total(std::mem::take(&mut self.found_bytes));
                ctx.metrics
                    .add_work_done(std::mem::take(&mut self.read_bytes));
                return Ok(match batch {
                    Some(batch) if batch.num_rows() > 0 => {
                        let split = f.split;
                        self.open.push_back(f);
                        SourceEvent::Batch { split, batch }
                    }
                    _ => {
                        self.finished.push(f.path);
                        SourceEvent::SplitEnd(f.split)
                    }
                });
            }
            match self.monitor {
                None if self.listed => return Ok(SourceEvent::End),
                None => {}
                Some(interval) if self.listed => tokio::time::sleep(interval).await,
                Some(_) => {}
            }
            self.listed = true;
            self.discover()?;
        }
    }
}

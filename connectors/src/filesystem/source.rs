//! Reading files: each file is a split; files are spread over the source
//! subtasks; each subtask reads its files one after another, line by line.

use std::collections::HashSet;
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use eddy_engine::operator::{Context, Source, SourceEvent, SourceFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, EngineError, Result};

use crate::format::{Decoder, Format, Origin};

/// Rows per batch a file source emits.
const BATCH_ROWS: usize = 8192;

/// Creates the readers of a filesystem table.
pub struct FileSourceFactory {
    path: PathBuf,
    format: Format,
    schema: SchemaRef,
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
            decoder: Decoder::new(self.schema.clone(), self.format.clone())?,
            csv_quote: match &self.format {
                Format::Csv(o) => o.quote,
                Format::Json(_) | Format::Raw => None,
            },
            subtask: subtask.index,
            parallelism: subtask.parallelism,
            seen: HashSet::new(),
            pending: vec![],
            current: None,
            next_split: 0,
            listed: false,
            line: Vec::new(),
        }))
    }
}

struct OpenFile {
    split: usize,
    name: String,
    reader: BufReader<File>,
    line_no: u64,
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
    pending: Vec<PathBuf>,
    current: Option<OpenFile>,
    next_split: usize,
    listed: bool,
    line: Vec<u8>,
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
            if let Some(r) = &self.regex {
                if !r.is_match(&p.to_string_lossy()) {
                    continue;
                }
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
        let file = File::open(&path).map_err(|source| EngineError::Io {
            context: format!("opening {}", path.display()),
            source,
        })?;
        self.current = Some(OpenFile {
            split: self.next_split,
            name: path.display().to_string(),
            reader: BufReader::with_capacity(1 << 20, file),
            line_no: 0,
        });
        self.next_split += 1;
        Ok(true)
    }

    /// Reads up to a batch of rows from the open file; `None` at its end.
    fn read_batch(&mut self) -> Result<Option<ChangeBatch>> {
        let Some(f) = self.current.as_mut() else {
            return Ok(None);
        };
        while self.decoder.buffered_rows() < BATCH_ROWS {
            self.line.clear();
            let start_line = f.line_no + 1;
            let mut n = read_line(&mut f.reader, &mut self.line, &f.name)?;
            if n == 0 {
                break;
            }
            f.line_no += 1;
            // A quoted CSV field may hold line breaks: read on until the
            // quotes balance.
            if let Some(q) = self.csv_quote {
                while n > 0 && self.line.iter().filter(|b| **b == q as u8).count() % 2 == 1 {
                    n = read_line(&mut f.reader, &mut self.line, &f.name)?;
                    f.line_no += 1;
                }
            }
            let record = trim_newline(&self.line);
            let origin = Origin {
                source: &f.name,
                line: start_line,
            };
            self.decoder.decode(record, origin)?;
        }
        Ok(self.decoder.flush()?.map(ChangeBatch::inserts))
    }
}

fn read_line(reader: &mut BufReader<File>, buf: &mut Vec<u8>, name: &str) -> Result<usize> {
    reader
        .read_until(b'\n', buf)
        .map_err(|source| EngineError::Io {
            context: format!("reading {name}"),
            source,
        })
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[async_trait]
impl Source for FileSource {
    fn name(&self) -> String {
        format!("filesystem[{}]", self.root.display())
    }

    async fn next(&mut self, ctx: &mut Context) -> Result<SourceEvent> {
        loop {
            if let Some(f) = &self.current {
                let split = f.split;
                let batch = self.read_batch()?;
                ctx.metrics.add_skipped(self.decoder.take_skipped());
                match batch {
                    Some(batch) if batch.num_rows() > 0 => {
                        return Ok(SourceEvent::Batch { split, batch });
                    }
                    _ => {
                        self.current = None;
                        return Ok(SourceEvent::SplitEnd(split));
                    }
                }
            }
            if self.open_next()? {
                continue;
            }
            match self.monitor {
                None if self.listed => return Ok(SourceEvent::End),
                None => {}
                Some(interval) => {
                    if self.listed {
                        tokio::time::sleep(interval).await;
                    }
                }
            }
            self.listed = true;
            self.discover()?;
        }
    }
}

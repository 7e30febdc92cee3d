//! Writing part files: each sink subtask writes `part-<job>-<subtask>-0.<format>`
//! into the table's directory. Append-only.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use async_trait::async_trait;
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
            file_name: format!(
                "part-{}-{}-0.{}",
                sanitize(&subtask.job_name),
                subtask.index,
                self.format.name()
            ),
            writer: None,
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
    file_name: String,
    writer: Option<BufWriter<File>>,
    text: String,
}

impl FileSink {
    fn io(&self, what: &str, source: std::io::Error) -> EngineError {
        EngineError::Io {
            context: format!("{what} {}", self.dir.join(&self.file_name).display()),
            source,
        }
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
        if self.writer.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(|e| self.io("creating directory for", e))?;
            let file =
                File::create(self.dir.join(&self.file_name)).map_err(|e| self.io("creating", e))?;
            self.writer = Some(BufWriter::new(file));
        }
        self.text.clear();
        encode_batch(&mut self.text, &batch.data, &self.format);
        let text = std::mem::take(&mut self.text);
        let result = match self.writer.as_mut() {
            Some(w) => w.write_all(text.as_bytes()),
            None => Ok(()),
        };
        self.text = text;
        result.map_err(|e| self.io("writing", e))
    }

    async fn snapshot(&mut self, _checkpoint: u64, _ctx: &mut Context) -> Result<()> {
        let result = match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        };
        result.map_err(|e| self.io("flushing", e))
    }

    async fn close(&mut self, _ctx: &mut Context, _out: &mut dyn Emitter) -> Result<()> {
        let result = match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        };
        result.map_err(|e| self.io("flushing", e))
    }
}

//! The `print` connector: writes each row as Flink's print sink does,
//! `[identifier[:subtask]> ]+I[a, b]`, to stdout or stderr; and
//! [`ChangelogPrinter`], which prints a query's changelog for `SELECT`.

use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use eddy_engine::connector::{ConnectorFactory, TableOptions, TableRequest};
use eddy_engine::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, EngineError, Result};

use eddy_engine::value_text::write_row;

/// Factory of the `print` connector.
#[derive(Debug, Default)]
pub struct PrintConnector;

impl ConnectorFactory for PrintConnector {
    fn identifier(&self) -> &str {
        "print"
    }

    fn sink_accepts_updates(&self, _options: &TableOptions) -> bool {
        true
    }

    fn create_sink(&self, mut req: TableRequest) -> Result<Arc<dyn OperatorFactory>> {
        let identifier = req.options.take("print-identifier");
        let stderr = req.options.take_bool("standard-error")?.unwrap_or(false);
        let _ = req.options.take_i64("sink.parallelism")?;
        req.options
            .finish(&["print-identifier", "standard-error", "sink.parallelism"])?;
        Ok(Arc::new(PrintSinkFactory {
            identifier: identifier.unwrap_or_default(),
            stderr,
            subtask_prefix: true,
        }))
    }
}

/// Creates print sink subtasks.
#[derive(Debug, Clone)]
pub struct PrintSinkFactory {
    /// `print-identifier`, may be empty.
    pub identifier: String,
    /// Write to stderr instead of stdout.
    pub stderr: bool,
    /// Prefix rows with the subtask number when parallelism > 1.
    pub subtask_prefix: bool,
}

/// Prints a query's changelog (`+I[..]` per row, no prefix) to stdout: the
/// result of a `SELECT` in `eddy -f`.
pub fn changelog_printer() -> PrintSinkFactory {
    PrintSinkFactory {
        identifier: String::new(),
        stderr: false,
        subtask_prefix: false,
    }
}

impl OperatorFactory for PrintSinkFactory {
    fn name(&self) -> String {
        "Sink: print".into()
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        let mut prefix = self.identifier.clone();
        if self.subtask_prefix && subtask.parallelism > 1 {
            if !prefix.is_empty() {
                prefix.push(':');
            }
            prefix.push_str(&(subtask.index + 1).to_string());
        }
        if !prefix.is_empty() {
            prefix.push_str("> ");
        }
        Ok(Box::new(PrintSink {
            prefix,
            stderr: self.stderr,
            text: String::new(),
        }))
    }
}

struct PrintSink {
    prefix: String,
    stderr: bool,
    text: String,
}

#[async_trait]
impl Operator for PrintSink {
    fn name(&self) -> String {
        "Sink: print".into()
    }

    async fn process(
        &mut self,
        _input: usize,
        batch: ChangeBatch,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        self.text.clear();
        let columns = batch.data.columns();
        for row in 0..batch.num_rows() {
            self.text.push_str(&self.prefix);
            write_row(&mut self.text, batch.kind(row), columns, row);
            self.text.push('\n');
        }
        let result = if self.stderr {
            std::io::stderr().lock().write_all(self.text.as_bytes())
        } else {
            std::io::stdout().lock().write_all(self.text.as_bytes())
        };
        result.map_err(|source| EngineError::Io {
            context: "writing to stdout".into(),
            source,
        })
    }

    async fn close(&mut self, _ctx: &mut Context, _out: &mut dyn Emitter) -> Result<()> {
        let _ = std::io::stdout().flush();
        Ok(())
    }
}

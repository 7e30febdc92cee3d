//! The `blackhole` connector: a sink that drops every row (for benchmarks).

use std::sync::Arc;

use async_trait::async_trait;
use eddy_engine::connector::{ConnectorFactory, TableOptions, TableRequest};
use eddy_engine::operator::{Context, Emitter, Operator, OperatorFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, Result};

/// Factory of the `blackhole` connector.
#[derive(Debug, Default)]
pub struct BlackholeConnector;

impl ConnectorFactory for BlackholeConnector {
    fn identifier(&self) -> &str {
        "blackhole"
    }

    fn sink_accepts_updates(&self, _options: &TableOptions) -> bool {
        true
    }

    fn create_sink(&self, req: TableRequest) -> Result<Arc<dyn OperatorFactory>> {
        req.options.finish::<&str>(&[])?;
        Ok(Arc::new(BlackholeSink))
    }
}

/// Drops rows.
#[derive(Debug, Clone, Copy)]
pub struct BlackholeSink;

impl OperatorFactory for BlackholeSink {
    fn name(&self) -> String {
        "Sink: blackhole".into()
    }
    fn create(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(BlackholeSink))
    }
    /// Like Flink's blackhole sink, it takes `+U` alone (an upsert sink).
    fn input_needs_update_before(&self, _output_needs: bool) -> bool {
        false
    }
}

#[async_trait]
impl Operator for BlackholeSink {
    fn name(&self) -> String {
        "Sink: blackhole".into()
    }
    async fn process(
        &mut self,
        _input: usize,
        _batch: ChangeBatch,
        _ctx: &mut Context,
        _out: &mut dyn Emitter,
    ) -> Result<()> {
        Ok(())
    }
}

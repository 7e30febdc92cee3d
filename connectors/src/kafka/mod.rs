//! The `kafka` and `upsert-kafka` connectors, on librdkafka (rdkafka):
//! sources that assign partitions themselves and keep a watermark per
//! partition, and sinks with Flink's partitioners and delivery guarantees.

mod codec;
mod options;
mod sink;
mod source;
mod transaction;

use std::sync::Arc;

use eddy_engine::connector::{
    ConnectorFactory, MetadataKey, SourceChangelog, TableOptions, TableRequest,
};
use eddy_engine::operator::{OperatorFactory, SourceFactory};
use eddy_engine::{EngineError, Result};

pub use options::KafkaTable;
pub use sink::KafkaSinkFactory;
pub use source::KafkaSourceFactory;

/// Factory of the `kafka` connector.
#[derive(Debug, Default)]
pub struct KafkaConnector;

/// Factory of the `upsert-kafka` connector.
#[derive(Debug, Default)]
pub struct UpsertKafkaConnector;

/// An error of talking to Kafka while doing `what`.
fn kafka_error(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Execution(format!("Kafka: {what}: {e}"))
}

fn table(req: &mut TableRequest, upsert: bool) -> Result<KafkaTable> {
    let (table, supported) = options::parse(req, upsert)?;
    req.options.clone().finish(&supported)?;
    Ok(table)
}

impl ConnectorFactory for KafkaConnector {
    fn identifier(&self) -> &str {
        "kafka"
    }

    fn metadata(&self) -> Vec<MetadataKey> {
        codec::metadata_keys()
    }

    fn source_changelog(&self, options: &TableOptions) -> SourceChangelog {
        let format = options.get("value.format").or(options.get("format"));
        match format {
            Some("debezium-json") => SourceChangelog::Retract,
            _ => SourceChangelog::InsertOnly,
        }
    }

    fn sink_accepts_updates(&self, options: &TableOptions) -> bool {
        self.source_changelog(options) == SourceChangelog::Retract
    }

    fn create_source(&self, mut req: TableRequest) -> Result<Arc<dyn SourceFactory>> {
        Ok(Arc::new(KafkaSourceFactory::new(table(&mut req, false)?)?))
    }

    fn create_sink(&self, mut req: TableRequest) -> Result<Arc<dyn OperatorFactory>> {
        Ok(Arc::new(KafkaSinkFactory::new(table(&mut req, false)?)?))
    }
}

impl ConnectorFactory for UpsertKafkaConnector {
    fn identifier(&self) -> &str {
        "upsert-kafka"
    }

    fn metadata(&self) -> Vec<MetadataKey> {
        codec::metadata_keys()
    }

    fn source_changelog(&self, _options: &TableOptions) -> SourceChangelog {
        SourceChangelog::Upsert
    }

    fn sink_accepts_updates(&self, _options: &TableOptions) -> bool {
        true
    }

    fn create_source(&self, mut req: TableRequest) -> Result<Arc<dyn SourceFactory>> {
        Ok(Arc::new(KafkaSourceFactory::new(table(&mut req, true)?)?))
    }

    fn create_sink(&self, mut req: TableRequest) -> Result<Arc<dyn OperatorFactory>> {
        Ok(Arc::new(KafkaSinkFactory::new(table(&mut req, true)?)?))
    }
}

//! # eddy-connectors
//!
//! Sources and sinks of Eddy, each a [`ConnectorFactory`] found by the
//! value of the `connector` option: `filesystem`, `kafka`, `upsert-kafka`,
//! `datagen`, `print`, `blackhole`; and the row formats they share (`csv`,
//! `json`, `raw`, `debezium-json`).

pub mod blackhole;
pub mod datagen;
pub mod filesystem;
pub mod format;
pub mod kafka;
pub mod print;

use std::sync::Arc;

use eddy_engine::connector::{ConnectorFactory, ConnectorRegistry};

/// A registry holding every built-in connector.
pub fn builtin_connectors() -> ConnectorRegistry {
    let mut r = ConnectorRegistry::default();
    let all: Vec<Arc<dyn ConnectorFactory>> = vec![
        Arc::new(filesystem::FilesystemConnector),
        Arc::new(kafka::KafkaConnector),
        Arc::new(kafka::UpsertKafkaConnector),
        Arc::new(datagen::DatagenConnector),
        Arc::new(print::PrintConnector),
        Arc::new(blackhole::BlackholeConnector),
    ];
    for f in all {
        r.register(f);
    }
    r
}

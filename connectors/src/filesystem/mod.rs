//! The `filesystem` connector: reads a file or a directory of files in a
//! row format (bounded, or continuous with `source.monitor-interval`), and
//! writes part files into a directory.

mod sink;
mod source;

use std::path::PathBuf;
use std::sync::Arc;

use eddy_engine::Result;
use eddy_engine::connector::{ConnectorFactory, SourceChangelog, TableOptions, TableRequest};
use eddy_engine::operator::{OperatorFactory, SourceFactory};

use crate::format::Format;
pub use sink::FileSinkFactory;
pub use source::FileSourceFactory;

/// Option keys of the connector itself (the format adds its own).
const OPTION_KEYS: &[&str] = &[
    "path",
    "format",
    "source.monitor-interval",
    "source.path.regex-pattern",
    "sink.rolling-policy.file-size",
    "sink.rolling-policy.rollover-interval",
    "sink.rolling-policy.check-interval",
    "sink.parallelism",
    "partition.default-name",
    "lookup.cache",
    "lookup.full-cache.periodic-reload.interval",
];

/// Factory of the `filesystem` connector.
#[derive(Debug, Default)]
pub struct FilesystemConnector;

fn supported(format: &Format) -> Vec<&'static str> {
    OPTION_KEYS
        .iter()
        .chain(format.option_keys())
        .copied()
        .collect()
}

impl ConnectorFactory for FilesystemConnector {
    fn identifier(&self) -> &str {
        "filesystem"
    }

    fn supports_lookup(&self) -> bool {
        true
    }

    fn source_changelog(&self, options: &TableOptions) -> SourceChangelog {
        match options.get("format") {
            Some("debezium-json") => SourceChangelog::Retract,
            _ => SourceChangelog::InsertOnly,
        }
    }

    fn create_source(&self, mut req: TableRequest) -> Result<Arc<dyn SourceFactory>> {
        let opts = &mut req.options;
        let path = PathBuf::from(opts.require("path")?);
        let format = Format::from_options(opts)?;
        let monitor = opts.take_duration("source.monitor-interval")?;
        let regex = opts.take("source.path.regex-pattern");
        let _ = opts.take("partition.default-name");
        // Read by the lookup join (the planner validates them).
        let _ = opts.take("lookup.cache");
        let _ = opts.take("lookup.full-cache.periodic-reload.interval");
        req.options.finish(&supported(&format))?;
        Ok(Arc::new(FileSourceFactory::try_new(
            path,
            format,
            req.schema,
            req.read_columns,
            monitor,
            regex,
        )?))
    }

    fn create_sink(&self, mut req: TableRequest) -> Result<Arc<dyn OperatorFactory>> {
        let opts = &mut req.options;
        let path = PathBuf::from(opts.require("path")?);
        let format = Format::from_options(opts)?;
        for k in [
            "sink.rolling-policy.file-size",
            "sink.rolling-policy.rollover-interval",
            "sink.rolling-policy.check-interval",
            "sink.parallelism",
            "partition.default-name",
        ] {
            let _ = opts.take(k);
        }
        req.options.finish(&supported(&format))?;
        Ok(Arc::new(FileSinkFactory::new(path, format, req.table)))
    }
}

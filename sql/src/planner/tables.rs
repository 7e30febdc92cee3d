//! Catalog tables in a job: connector sources with their computed
//! columns, metadata columns and watermark (a table scanned twice with the
//! same columns is read once), upsert sources normalized to a retract
//! stream, and connector sinks, including the sink of late rows.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::Expr;
use eddy_engine::connector::{SourceChangelog, TableOptions, TableRequest};
use eddy_engine::graph::{Edge, NodeId, Partitioning};
use eddy_engine::watermark::{ScanPrelude, WatermarkStrategy};

use super::{Stream, StreamPlanner, interval_millis};
use crate::catalog::TableEntry;
use crate::error::{Result, SqlError};
use crate::statement::ColumnKind;
use crate::stream_plan::{ChangelogMode, Derive};

impl StreamPlanner<'_> {
    /// A source reading catalog table `name`, with its computed columns and
    /// watermark; `projection` (indices into the table's columns) are the
    /// columns the query uses.
    pub(super) fn plan_table(
        &mut self,
        name: &str,
        projection: Option<&[usize]>,
    ) -> Result<Stream> {
        let scan = (name.to_string(), projection.map(<[usize]>::to_vec));
        if let Some(stream) = self.scans.get(&scan) {
            return Ok(*stream);
        }
        let stream = self.plan_new_table(name, projection)?;
        self.scans.insert(scan, stream);
        Ok(stream)
    }

    pub(super) fn plan_new_table(
        &mut self,
        name: &str,
        projection: Option<&[usize]>,
    ) -> Result<Stream> {
        let entry = self
            .tables
            .get(name)
            .ok_or_else(|| self.plan_error(format!("Object '{name}' not found")))?;
        let mut request = table_request(entry)?;
        request.read_columns = read_columns(entry, projection);
        request.idle_timeout = self.plan.idle_timeout;
        let connector = self.connectors.get(request.options.connector())?;
        self.check_metadata(entry, connector.as_ref(), false)?;
        request.metadata = entry.metadata();
        let changelog = connector.source_changelog(&request.options);
        let factory = connector.create_source(request)?;
        if self.batch && !factory.is_bounded() {
            return Err(self.plan_error(format!(
                "Querying an unbounded table 'default_catalog.default_database.{name}' in batch mode is not allowed. The table source is unbounded."
            )));
        }
        let prelude = self.prelude(entry)?;
        let mode = match changelog {
            SourceChangelog::InsertOnly => ChangelogMode::Insert,
            SourceChangelog::Retract | SourceChangelog::Upsert => ChangelogMode::Retract,
        };
        // A retract source (a CDC format) names its rows by the primary
        // key; an upsert source is keyed by it once normalized.
        let upsert_key = match changelog {
            SourceChangelog::Retract => self.primary_key_columns(entry).ok(),
            _ => None,
        };
        let node = self.plan.add_source(
            factory,
            prelude,
            self.parallelism,
            entry.schema.clone(),
            mode,
            upsert_key.filter(|k| !k.is_empty()),
            rowtime_column(entry),
        );
        let stream = Stream {
            node,
            parallelism: self.parallelism,
        };
        match changelog {
            SourceChangelog::InsertOnly | SourceChangelog::Retract => Ok(stream),
            SourceChangelog::Upsert => self.normalize_upserts(stream, entry),
        }
    }

    /// Checks a table's metadata columns against the keys its connector
    /// serves (for writing: the writable ones).
    pub(super) fn check_metadata(
        &self,
        entry: &TableEntry,
        connector: &dyn eddy_engine::connector::ConnectorFactory,
        writing: bool,
    ) -> Result<()> {
        let keys = connector.metadata();
        for m in entry.metadata() {
            if writing && m.is_virtual {
                continue;
            }
            let location = entry
                .def
                .columns
                .iter()
                .find(|c| c.name == m.name)
                .map(|c| c.location)
                .unwrap_or_default();
            if keys.is_empty() {
                return Err(SqlError::NotSupported {
                    location,
                    message: format!(
                        "metadata column '{}': connector '{}' provides no metadata",
                        m.name,
                        connector.identifier()
                    ),
                });
            }
            let usable: Vec<_> = keys.iter().filter(|k| !writing || k.writable).collect();
            if !usable.iter().any(|k| k.key == m.key) {
                return Err(SqlError::Plan {
                    location,
                    message: format!(
                        "Invalid metadata key '{}' in column '{}' of table '{}'. The connector '{}' supports the following metadata keys for {}:\n{}",
                        m.key,
                        m.name,
                        entry.def.name,
                        connector.identifier(),
                        if writing {
                            "writing (declare read-only ones VIRTUAL)"
                        } else {
                            "reading"
                        },
                        usable
                            .iter()
                            .map(|k| format!("{} {}", k.key, k.type_name))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Turns the upserts of a source keyed by the table's primary key into
    /// a retract stream (Flink's ChangelogNormalize): rows are sent by key
    /// to an operator that remembers each key's last row.
    pub(super) fn normalize_upserts(
        &mut self,
        input: Stream,
        entry: &TableEntry,
    ) -> Result<Stream> {
        let key = self.primary_key_columns(entry)?;
        let op = Arc::new(
            eddy_engine::ops::source::changelog_normalize::ChangelogNormalizeFactory::new(
                key.clone(),
                entry.def.primary_key.clone(),
            ),
        );
        let derive = Derive::Emits {
            updates: true,
            upsert_key: Some(key.clone()),
            rowtime: rowtime_column(entry),
            hashed: Some(key.clone()),
        };
        self.add_exchanged(
            input,
            op,
            Partitioning::Hash(key),
            entry.schema.clone(),
            derive,
        )
    }

    /// The columns of a table's primary key.
    fn primary_key_columns(&self, entry: &TableEntry) -> Result<Vec<usize>> {
        entry
            .def
            .primary_key
            .iter()
            .map(|k| entry.schema.index_of(k))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.plan_error(e.to_string()))
    }

    pub(super) fn prelude(&self, entry: &TableEntry) -> Result<Option<Arc<ScanPrelude>>> {
        if !entry.has_derived_columns() && entry.def.watermark.is_none() {
            return Ok(None);
        }
        let physical = DFSchema::try_from(entry.source_schema().as_ref().clone())
            .map_err(|e| self.plan_error(e.to_string()))?;
        let full = DFSchema::try_from(entry.schema.as_ref().clone())
            .map_err(|e| self.plan_error(e.to_string()))?;
        let mut projection = None;
        if entry.has_derived_columns() {
            let mut exprs = vec![];
            for c in &entry.def.columns {
                let e = match &c.kind {
                    ColumnKind::Physical(_) | ColumnKind::Metadata { .. } => {
                        Expr::Column(datafusion::common::Column::new_unqualified(&c.name))
                    }
                    ColumnKind::Computed(ast) => {
                        crate::expr::sql_expr(self.state, ast, &physical, c.location)?
                    }
                };
                exprs.push(self.physical(&e, &physical)?);
            }
            projection = Some(exprs);
        }
        let mut description = String::new();
        let watermark = match &entry.def.watermark {
            // Batch mode has no watermarks: the end of input closes all.
            _ if self.batch => None,
            None => None,
            Some(w) => {
                description = format!(
                    "WatermarkAssigner(rowtime=[{}], watermark=[{}])",
                    w.column, w.expr
                );
                let e = crate::expr::sql_expr(self.state, &w.expr, &full, self.location)?;
                Some(match bounded_delay(&e, &full) {
                    Some((column, delay_ms)) => {
                        WatermarkStrategy::BoundedDelay { column, delay_ms }
                    }
                    None => WatermarkStrategy::Expression(self.physical(&e, &full)?),
                })
            }
        };
        if description.is_empty() {
            description = "Calc(computed columns)".into();
        }
        Ok(Some(Arc::new(ScanPrelude {
            projection,
            schema: entry.schema.clone(),
            watermark,
            description,
        })))
    }

    /// Adds the sink writing `stream` into catalog table `table`.
    pub fn add_table_sink(&mut self, stream: Stream, table: &str) -> Result<NodeId> {
        let entry = self
            .tables
            .get(table)
            .ok_or_else(|| self.plan_error(format!("Object '{table}' not found")))?;
        let mut request = table_request(entry)?;
        let connector = self.connectors.get(request.options.connector())?;
        self.check_metadata(entry, connector.as_ref(), true)?;
        request.metadata = entry
            .metadata()
            .into_iter()
            .filter(|m| !m.is_virtual)
            .collect();
        if self.is_updating(stream) && !connector.sink_accepts_updates(&request.options) {
            return Err(self.plan_error(format!(
                "Table sink 'default_catalog.default_database.{table}' doesn't support consuming update changes which is produced by node {}",
                self.update_origin(stream)
            )));
        }
        let factory = connector.create_sink(request)?;
        self.add_sink(stream, factory, self.parallelism, entry.sink_schema())
    }

    /// Sends the late rows of every window operator to catalog table
    /// `table` (`table.exec.late-data.sink`), whose columns must be those
    /// of [`eddy_engine::late::schema`].
    pub fn add_late_rows_sink(&mut self, table: &str) -> Result<()> {
        if self.window_nodes.is_empty() {
            return Ok(());
        }
        let entry = self.tables.get(table).ok_or_else(|| {
            self.plan_error(format!(
                "table.exec.late-data.sink: table '{table}' not found"
            ))
        })?;
        let want = eddy_engine::late::schema();
        let have = &entry.physical_schema;
        let fits = have.fields().len() == want.fields().len()
            && have.fields().iter().zip(want.fields()).all(|(h, w)| {
                match (h.data_type(), w.data_type()) {
                    (DataType::Timestamp(_, _), DataType::Timestamp(_, _)) => true,
                    (h, w) => h == w,
                }
            });
        if !fits {
            return Err(self.plan_error(format!(
                "table.exec.late-data.sink: table '{table}' must have the columns (operator STRING, window_end TIMESTAMP(3), watermark TIMESTAMP(3), `row` STRING), not ({})",
                have.fields()
                    .iter()
                    .map(|f| format!("{} {}", f.name(), crate::types::flink_type_name(f.data_type())))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let request = table_request(entry)?;
        let connector = self.connectors.get(request.options.connector())?;
        let factory = connector.create_sink(request)?;
        let inputs = self
            .window_nodes
            .iter()
            .map(|n| Edge {
                from: *n,
                input: 0,
                partitioning: Partitioning::Single,
            })
            .collect();
        let sink = self
            .plan
            .add_operator(factory, 1, inputs, have.clone(), Derive::Sink)?;
        self.plan.late_rows = Some(eddy_engine::graph::LateRows {
            sink,
            table: table.to_string(),
        });
        Ok(())
    }

    /// Adds a sink operator consuming `stream`.
    pub fn add_sink(
        &mut self,
        stream: Stream,
        factory: Arc<dyn eddy_engine::operator::OperatorFactory>,
        parallelism: usize,
        schema: SchemaRef,
    ) -> Result<NodeId> {
        let partitioning = if parallelism == stream.parallelism {
            Partitioning::Forward
        } else if parallelism == 1 {
            Partitioning::Single
        } else {
            Partitioning::Rebalance
        };
        self.plan.add_operator(
            factory,
            parallelism,
            vec![Edge {
                from: stream.node,
                input: 0,
                partitioning,
            }],
            schema,
            Derive::Sink,
        )
    }
}

/// The column of a table's time attribute (the one its watermark is
/// declared on), if it has one.
fn rowtime_column(entry: &TableEntry) -> Option<usize> {
    let w = entry.def.watermark.as_ref()?;
    entry.schema.index_of(&w.column).ok()
}

/// The physical columns a scan needs: the projected ones and the rowtime
/// column; `None` (all) when a computed column is involved.
fn read_columns(entry: &TableEntry, projection: Option<&[usize]>) -> Option<Vec<usize>> {
    let projection = projection?;
    if entry.has_derived_columns() {
        return None;
    }
    let mut needed: Vec<usize> = projection.to_vec();
    if let Some(w) = &entry.def.watermark {
        needed.push(entry.physical_schema.index_of(&w.column).ok()?);
    }
    needed.sort_unstable();
    needed.dedup();
    Some(needed)
}

/// `c` or `c - INTERVAL ...` (days to milliseconds): the rowtime column
/// index and the delay, so the watermark is computed from the maximum alone.
fn bounded_delay(e: &Expr, schema: &DFSchema) -> Option<(usize, i64)> {
    use datafusion::logical_expr::{BinaryExpr, Operator};
    let column = |e: &Expr| match e {
        Expr::Column(c) => schema.index_of_column(c).ok(),
        _ => None,
    };
    match e {
        Expr::Column(_) => Some((column(e)?, 0)),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Minus,
            right,
        }) => {
            let delay = match right.as_ref() {
                Expr::Literal(v, _) => interval_millis(v)?,
                _ => return None,
            };
            Some((column(left)?, delay))
        }
        _ => None,
    }
}

/// The connector request for a catalog table.
pub fn table_request(entry: &TableEntry) -> Result<TableRequest> {
    let connector = entry.def.options.get("connector").cloned().ok_or_else(|| {
        SqlError::Plan {
            location: entry
                .def
                .columns
                .first()
                .map(|c| c.location)
                .unwrap_or_default(),
            message: format!(
                "Table options do not contain an option key 'connector' for discovering a connector. Table: '{}'",
                entry.def.name
            ),
        }
    })?;
    Ok(TableRequest {
        table: entry.def.name.clone(),
        schema: entry.physical_schema.clone(),
        options: TableOptions::new(connector, entry.def.options.clone()),
        primary_key: entry.def.primary_key.clone(),
        read_columns: None,
        metadata: vec![],
        idle_timeout: None,
    })
}

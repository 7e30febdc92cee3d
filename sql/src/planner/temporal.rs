//! The streaming planner's joins `FOR SYSTEM_TIME AS OF` a time (marked
//! by `flink_as_of`, see `crate::system_time`): against a versioned table
//! at an event time, a [`TemporalJoin`]; against a table whose connector
//! serves lookups at a processing time, a [`LookupJoin`].

use std::sync::Arc;

use datafusion::common::{DFSchema, JoinType};
use datafusion::logical_expr::{Expr, LogicalPlan, Operator, utils::split_conjunction};
use eddy_engine::graph::{Edge, Partitioning};
use eddy_engine::ops::join::lookup::{LookupCache, LookupJoin};
use eddy_engine::ops::join::temporal::TemporalJoin;

use super::{Stream, StreamPlanner};
use crate::catalog::nullable_schema;
use crate::error::Result;
use crate::stream_plan::Derive;

/// A catalog table under a join, the scan reading it, and the conditions
/// of the filters between (each over its input's schema).
type ScannedTable<'p> = (
    crate::catalog::TableEntry,
    &'p datafusion::logical_expr::TableScan,
    Vec<(Expr, datafusion::common::DFSchemaRef)>,
);

impl StreamPlanner<'_> {
    /// A temporal join (`FOR SYSTEM_TIME AS OF`): the probe side's rows
    /// joined with the version of the versioned side valid at
    /// `probe_time`, in a [`TemporalJoin`].
    pub(crate) fn plan_temporal_join(
        &mut self,
        j: &datafusion::logical_expr::Join,
        probe_time: &Expr,
        version_time: &Expr,
        residual: Option<Expr>,
    ) -> Result<Stream> {
        let left_outer = match j.join_type {
            JoinType::Inner => false,
            JoinType::Left => true,
            _ => {
                return Err(
                    self.not_supported("a temporal table join other than INNER JOIN or LEFT JOIN")
                );
            }
        };
        if self.is_time_attribute(&j.left, probe_time) && !self.is_rowtime(&j.left, probe_time) {
            return match self.scanned_table(&j.right) {
                Some((entry, scan, filters))
                    if self
                        .connectors
                        .get(
                            entry
                                .def
                                .options
                                .get("connector")
                                .map_or("", String::as_str),
                        )
                        .is_ok_and(|c| c.supports_lookup()) =>
                {
                    self.plan_lookup_join(j, &entry, scan, &filters, left_outer, residual)
                }
                _ => Err(self.plan_error("Processing-time temporal join is not supported yet.")),
            };
        }
        if let Some((entry, _, _)) = self.scanned_table(&j.right)
            && entry.def.primary_key.is_empty()
        {
            return Err(self.plan_error("Temporal Table Join requires primary key in versioned table, but no primary key can be found."));
        }
        if !self.is_rowtime(&j.left, probe_time) {
            return Err(self.plan_error(format!(
                "FOR SYSTEM_TIME AS OF {probe_time}: the time must be a rowtime attribute of the left table"
            )));
        }
        if !self.is_rowtime(&j.right, version_time) {
            return Err(self.plan_error("Event-Time Temporal Table Join requires both primary key and row time attribute in versioned table, but no row time attribute can be found."));
        }
        if j.on.is_empty() {
            return Err(self.plan_error(
                "Temporal table join requires an equality condition on fields of table",
            ));
        }
        let column = |schema: &DFSchema, e: &Expr| match e {
            Expr::Column(c) => schema.index_of_column(c).ok(),
            _ => None,
        };
        let (Some(left_time), Some(right_time)) = (
            column(j.left.schema(), probe_time),
            column(j.right.schema(), version_time),
        ) else {
            return Err(self.plan_error("FOR SYSTEM_TIME AS OF: time columns not found"));
        };
        let (left_keys, right_keys): (Vec<&Expr>, Vec<&Expr>) =
            j.on.iter().map(|(l, r)| (l, r)).unzip();
        let mut left = self.join_side(&j.left, &left_keys)?;
        // A versioned view deduplicating an append-only table (keeping the
        // latest row per key) has every row of the table as a version: the
        // join reads the rows themselves, each batch's every row, where
        // the deduplication would pass on only each key's last.
        let versions = self
            .versions_of(&j.right)
            .unwrap_or_else(|| j.right.as_ref().clone());
        let mut right = self.join_side(&versions, &right_keys)?;
        if left.input.updating {
            return Err(self.updating_input_error("the probe side of a temporal join", left.stream));
        }
        left.input.time = Some(left_time);
        right.input.time = Some(right_time);
        let filter = self.join_condition(j, residual.as_ref())?;
        let schema = nullable_schema(j.schema.as_arrow());
        let on: Vec<String> = j.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        let mut text = format!(
            "TemporalJoin(joinType=[{}], asOf=[{probe_time}], versionTime=[{version_time}], on=[{}]",
            j.join_type,
            on.join(", ")
        );
        if let Some(f) = &residual {
            text += &format!(", where=[{f}]");
        }
        text.push(')');
        let edges = vec![
            Edge {
                from: left.stream.node,
                input: 0,
                partitioning: Partitioning::Hash(left.input.keys.clone()),
            },
            Edge {
                from: right.stream.node,
                input: 1,
                partitioning: Partitioning::Hash(right.input.keys.clone()),
            },
        ];
        let op = TemporalJoin {
            left: left.input,
            right: right.input,
            left_outer,
            filter,
            schema: schema.clone(),
            description: text,
        };
        let node = self.plan.add_operator(
            Arc::new(op),
            self.parallelism,
            edges,
            schema,
            Derive::inserts(),
        )?;
        Ok(Stream {
            node,
            parallelism: self.parallelism,
        })
    }

    /// The catalog table `plan` scans (under aliases and filters), the
    /// scan, and the filters' conditions over the scan's columns.
    fn scanned_table<'p>(&self, plan: &'p LogicalPlan) -> Option<ScannedTable<'p>> {
        match plan {
            LogicalPlan::SubqueryAlias(a) => self.scanned_table(&a.input),
            LogicalPlan::Filter(f) => {
                let (entry, scan, mut filters) = self.scanned_table(&f.input)?;
                filters.push((f.predicate.clone(), f.input.schema().clone()));
                Some((entry, scan, filters))
            }
            LogicalPlan::TableScan(scan) => {
                let provider = datafusion::datasource::source_as_provider(&scan.source).ok()?;
                if (provider.as_ref() as &dyn std::any::Any)
                    .downcast_ref::<datafusion::datasource::ViewTable>()
                    .is_some()
                {
                    return None;
                }
                Some((
                    self.tables.get(scan.table_name.table())?.clone(),
                    scan,
                    vec![],
                ))
            }
            _ => None,
        }
    }

    /// A lookup join (`FOR SYSTEM_TIME AS OF` a processing time) against
    /// catalog table `entry`, scanned by `scan`: a [`LookupJoin`] reading
    /// the table through its connector's source.
    fn plan_lookup_join(
        &mut self,
        j: &datafusion::logical_expr::Join,
        entry: &crate::catalog::TableEntry,
        scan: &datafusion::logical_expr::TableScan,
        filters: &[(Expr, datafusion::common::DFSchemaRef)],
        left_outer: bool,
        residual: Option<Expr>,
    ) -> Result<Stream> {
        if entry.has_derived_columns() {
            return Err(self
                .not_supported("a lookup join against a table with computed or metadata columns"));
        }
        let columns: Vec<usize> = match &scan.projection {
            Some(p) => p.clone(),
            None => (0..entry.physical_schema.fields().len()).collect(),
        };
        let right_schema = j.right.schema();
        let table_keys =
            j.on.iter()
                .map(|(_, r)| match r {
                    Expr::Column(c) => right_schema.index_of_column(c).ok().map(|i| columns[i]),
                    _ => None,
                })
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| {
                    self.not_supported(
                        "a lookup join on an expression of the table's columns (use its columns)",
                    )
                })?;
        if table_keys.is_empty() {
            return Err(self.plan_error(
                "Temporal table join requires an equality condition on fields of table",
            ));
        }
        let options = &entry.def.options;
        let cache = match options
            .get("lookup.cache")
            .map(|v| v.to_ascii_uppercase())
            .as_deref()
        {
            None | Some("FULL") => {
                let reload = match options.get("lookup.full-cache.periodic-reload.interval") {
                    None => None,
                    Some(v) => Some(eddy_engine::connector::parse_duration(v).ok_or_else(|| {
                        self.plan_error(format!("Invalid value for option 'lookup.full-cache.periodic-reload.interval': '{v}' (expected a duration such as '10 min')"))
                    })?),
                };
                LookupCache::Full { reload }
            }
            Some("NONE") => LookupCache::None,
            Some(other) => {
                return Err(self.plan_error(format!(
                    "Invalid value for option 'lookup.cache': '{other}'. Supported values are [FULL, NONE]"
                )));
            }
        };
        let (left_keys, _): (Vec<&Expr>, Vec<&Expr>) = j.on.iter().map(|(l, r)| (l, r)).unzip();
        let left = self.join_side(&j.left, &left_keys)?;
        if left.input.updating {
            return Err(self.updating_input_error("the probe side of a lookup join", left.stream));
        }
        let request = super::table_request(entry)?;
        let connector = self.connectors.get(request.options.connector())?;
        let table = connector.create_source(request)?;
        let filter = self.join_condition(j, residual.as_ref())?;
        let schema = nullable_schema(j.schema.as_arrow());
        let on: Vec<String> = j.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        let mut text = format!(
            "LookupJoin(table=[{}], joinType=[{}], on=[{}]",
            entry.def.name,
            j.join_type,
            on.join(", ")
        );
        if let Some(f) = &residual {
            text += &format!(", where=[{f}]");
        }
        text.push(')');
        // Filters over the table's scanned columns (which the table's
        // output columns are, in order).
        let table_filter = filters
            .iter()
            .map(|(e, schema)| self.physical(e, schema))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .reduce(|a, b| {
                Arc::new(datafusion::physical_expr::expressions::BinaryExpr::new(
                    a,
                    Operator::And,
                    b,
                ))
            });
        let op = LookupJoin {
            probe_schema: left.input.schema.clone(),
            probe_keys: left.input.keys.clone(),
            probe_width: left.input.width,
            table,
            table_keys,
            table_columns: columns,
            table_filter,
            primary_key: (!entry.def.primary_key.is_empty())
                .then(|| {
                    entry
                        .def
                        .primary_key
                        .iter()
                        .map(|k| entry.physical_schema.index_of(k).ok())
                        .collect::<Option<Vec<usize>>>()
                })
                .flatten(),
            cache,
            left_outer,
            filter,
            schema: schema.clone(),
            description: text,
        };
        self.add_forward(left.stream, Arc::new(op), schema, Derive::Passes)
    }

    /// `plan` without the deduplication of a versioned view: `[alias]
    /// Projection (Filter rn = 1 (ROW_NUMBER() OVER (PARTITION BY k ORDER
    /// BY rowtime DESC)))` over an append-only input becomes the
    /// projection of that input; `None` if `plan` is no such view.
    fn versions_of(&self, plan: &LogicalPlan) -> Option<LogicalPlan> {
        use datafusion::logical_expr::{Projection, SubqueryAlias};
        match plan {
            LogicalPlan::SubqueryAlias(a) => {
                let input = self.versions_of(&a.input)?;
                SubqueryAlias::try_new(Arc::new(input), a.alias.clone())
                    .ok()
                    .map(LogicalPlan::SubqueryAlias)
            }
            LogicalPlan::Projection(p) => {
                let LogicalPlan::Filter(f) = p.input.as_ref() else {
                    return None;
                };
                let LogicalPlan::Window(w) = f.input.as_ref() else {
                    return None;
                };
                let wf = super::rank::row_number(w)?;
                let rn = w.schema.field(w.schema.fields().len() - 1).name();
                let latest = matches!(
                    wf.params.order_by.as_slice(),
                    [o] if !o.asc && self.is_rowtime(&w.input, &o.expr)
                );
                let uses_rn = p
                    .expr
                    .iter()
                    .any(|e| e.column_refs().iter().any(|c| &c.name == rn));
                if !latest || uses_rn || super::rank::rank_limit(&f.predicate, rn) != Some(1) {
                    return None;
                }
                Projection::try_new(p.expr.clone(), w.input.clone())
                    .ok()
                    .map(LogicalPlan::Projection)
            }
            _ => None,
        }
    }
}

/// The `flink_as_of(probe_time, version_time)` marker of a temporal join
/// in a join condition: both times, and the rest of the condition.
pub(crate) fn as_of(filter: &Expr) -> Option<(Expr, Expr, Option<Expr>)> {
    let mut times = None;
    let mut rest = vec![];
    for c in split_conjunction(filter) {
        match c {
            Expr::ScalarFunction(f) if f.name() == crate::functions::AS_OF && f.args.len() == 2 => {
                times = Some((f.args[0].clone(), f.args[1].clone()));
            }
            other => rest.push(other.clone()),
        }
    }
    let (probe, version) = times?;
    Some((
        probe,
        version,
        datafusion::logical_expr::utils::conjunction(rest),
    ))
}

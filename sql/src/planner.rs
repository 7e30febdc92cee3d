//! The streaming planner: turns DataFusion's optimized `LogicalPlan` into a
//! dataflow [`JobGraph`]. Stateless nodes (projection, filter) become
//! [`Calc`] operators evaluating DataFusion physical expressions; scans of
//! catalog tables become connector sources with their computed columns and
//! watermark; UNION ALL becomes a [`Union`].

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::{ViewTable, source_as_provider};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use eddy_engine::connector::ConnectorRegistry;
use eddy_engine::graph::{Edge, NodeId, Partitioning};
use eddy_engine::ops::calc::Calc;
use eddy_engine::ops::expand::Expand;
use eddy_engine::ops::source::values::Values;
use eddy_engine::ops::union::Union;
use eddy_engine::ops::unnest::Unnest;

use crate::catalog::{TableEntry, nullable_schema};
use crate::error::{Location, Result, SqlError};
use crate::stream_plan::{ChangelogMode, Derive, StreamPlan};

mod aggregate;
mod grouping_sets;
mod join;
mod over;
mod rank;
mod sort;
mod tables;
mod temporal;
mod window;
mod window_columns;

pub use tables::table_request;
pub(crate) use window_columns::traces_to_table_column;

/// A planned stream: the node producing it and its parallelism.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    /// The node.
    pub node: NodeId,
    /// Its parallelism.
    pub parallelism: usize,
}

/// Builds one stream plan from logical plans.
pub struct StreamPlanner<'a> {
    /// The stream plan being built.
    pub plan: StreamPlan,
    pub(crate) state: &'a SessionState,
    tables: &'a HashMap<String, TableEntry>,
    connectors: &'a ConnectorRegistry,
    pub(crate) parallelism: usize,
    pub(crate) location: Location,
    /// Sources already planned, by table and columns read: a table scanned
    /// twice with the same columns is read once (as Flink reuses sources).
    scans: HashMap<(String, Option<Vec<usize>>), Stream>,
    /// The window operators planned, which may receive late rows.
    pub(crate) window_nodes: Vec<NodeId>,
    /// How long unbounded operators keep a key nobody touches
    /// (`table.exec.state.ttl`); `None`: forever.
    pub state_ttl: Option<std::time::Duration>,
    /// Set while planning the input of a projection that drops the rank
    /// of the Top-N below it.
    pub(crate) rank_number_unused: bool,
    /// Batch mode (`execution.runtime-mode`): no watermarks (no row is
    /// late; windows close at the end of input), and `ORDER BY` sorts the
    /// final result.
    pub batch: bool,
}

impl<'a> StreamPlanner<'a> {
    /// A planner adding to a new stream plan for job `name`.
    pub fn new(
        name: &str,
        state: &'a SessionState,
        tables: &'a HashMap<String, TableEntry>,
        connectors: &'a ConnectorRegistry,
        parallelism: usize,
        location: Location,
    ) -> Self {
        Self {
            plan: StreamPlan::new(name),
            state,
            tables,
            connectors,
            parallelism: parallelism.max(1),
            location,
            scans: HashMap::new(),
            window_nodes: vec![],
            state_ttl: None,
            rank_number_unused: false,
            batch: false,
        }
    }

    pub(crate) fn plan_error(&self, message: impl Into<String>) -> SqlError {
        SqlError::Plan {
            location: self.location,
            message: message.into(),
        }
    }

    pub(crate) fn not_supported(&self, what: &str) -> SqlError {
        SqlError::NotSupported {
            location: self.location,
            message: format!("{what} is not supported in streaming queries yet"),
        }
    }

    pub(crate) fn physical(&self, expr: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        self.state
            .create_physical_expr(expr.clone(), schema)
            .map_err(|e| self.plan_error(e.to_string()))
    }

    pub(crate) fn add_calc(
        &mut self,
        input: Stream,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        projection: Option<Vec<Arc<dyn PhysicalExpr>>>,
        schema: SchemaRef,
        description: String,
    ) -> Result<Stream> {
        // Which input column each output column is, where it is one.
        let columns = match &projection {
            None => (0..schema.fields().len()).map(Some).collect(),
            Some(exprs) => exprs
                .iter()
                .map(|e| {
                    e.downcast_ref::<datafusion::physical_expr::expressions::Column>()
                        .map(|c| c.index())
                })
                .collect(),
        };
        let calc = Calc {
            predicate,
            projection,
            schema: schema.clone(),
            description,
        };
        self.add_forward(input, Arc::new(calc), schema, Derive::Columns(columns))
    }

    /// Adds `op` fed by `input` through an exchange of `partitioning`,
    /// with this planner's parallelism; `derive` tells its properties.
    pub(crate) fn add_exchanged(
        &mut self,
        input: Stream,
        op: Arc<dyn eddy_engine::operator::OperatorFactory>,
        partitioning: Partitioning,
        schema: SchemaRef,
        derive: Derive,
    ) -> Result<Stream> {
        let node = self.plan.add_operator(
            op,
            self.parallelism,
            vec![Edge {
                from: input.node,
                input: 0,
                partitioning,
            }],
            schema,
            derive,
        )?;
        Ok(Stream {
            node,
            parallelism: self.parallelism,
        })
    }

    /// `PARTITION BY` keys over `schema`: their physical expressions, and
    /// the exchange bringing a partition's rows to one subtask (all rows to
    /// one without keys).
    pub(crate) fn partitioned_by(
        &self,
        partition_by: &[Expr],
        schema: &DFSchema,
    ) -> Result<(Vec<Arc<dyn PhysicalExpr>>, Partitioning)> {
        let physical = partition_by
            .iter()
            .map(|e| self.physical(e, schema))
            .collect::<Result<Vec<_>>>()?;
        let columns: Option<Vec<usize>> = partition_by
            .iter()
            .map(|e| match e {
                Expr::Column(c) => schema.index_of_column(c).ok(),
                _ => None,
            })
            .collect();
        let partitioning = match columns {
            Some(k) if !k.is_empty() => Partitioning::Hash(k),
            _ if partition_by.is_empty() => Partitioning::Single,
            _ => return Err(self.not_supported("PARTITION BY an expression (use a column)")),
        };
        Ok((physical, partitioning))
    }

    /// `ORDER BY` keys over `schema` as physical expressions with their
    /// sort options.
    pub(crate) fn sort_keys(
        &self,
        order_by: &[datafusion::logical_expr::SortExpr],
        schema: &DFSchema,
    ) -> Result<
        Vec<(
            Arc<dyn PhysicalExpr>,
            datafusion::arrow::compute::SortOptions,
        )>,
    > {
        order_by
            .iter()
            .map(|s| {
                let options = datafusion::arrow::compute::SortOptions {
                    descending: !s.asc,
                    nulls_first: s.nulls_first,
                };
                Ok((self.physical(&s.expr, schema)?, options))
            })
            .collect()
    }

    /// Whether `s` carries updates.
    pub(crate) fn is_updating(&self, s: Stream) -> bool {
        self.plan.nodes[s.node].is_updating()
    }

    /// The node that makes `s` an updating stream: `s` itself or the
    /// nearest node above it that emits updates of its own.
    fn update_origin(&self, s: Stream) -> String {
        let mut node = &self.plan.nodes[s.node];
        while let [e] = node.inputs.as_slice() {
            let up = &self.plan.nodes[e.from];
            if !up.is_updating() {
                break;
            }
            node = up;
        }
        node.name()
    }

    /// The error for `what`, which takes no updates, over updating `input`.
    pub(crate) fn updating_input_error(&self, what: &str, input: Stream) -> SqlError {
        self.not_supported(&format!(
            "{what} over an updating input, which {} produces",
            self.update_origin(input)
        ))
    }

    /// Adds a stateless operator fed row for row by `input` (chained).
    pub(crate) fn add_forward(
        &mut self,
        input: Stream,
        op: Arc<dyn eddy_engine::operator::OperatorFactory>,
        schema: SchemaRef,
        derive: Derive,
    ) -> Result<Stream> {
        let node = self.plan.add_operator(
            op,
            input.parallelism,
            vec![Edge {
                from: input.node,
                input: 0,
                partitioning: Partitioning::Forward,
            }],
            schema,
            derive,
        )?;
        Ok(Stream {
            node,
            parallelism: input.parallelism,
        })
    }

    /// A UNNION ALL of projections of one input (the grouping sets'
    /// Expand): the input planned once and an [`Expand`] giving each row
    /// once per projection. `None` for other unions.
    fn plan_expand(&mut self, u: &datafusion::logical_expr::Union) -> Result<Option<Stream>> {
        let projections: Option<Vec<&datafusion::logical_expr::Projection>> = u
            .inputs
            .iter()
            .map(|i| match i.as_ref() {
                LogicalPlan::Projection(p) => Some(p),
                _ => None,
            })
            .collect();
        let Some(projections) = projections else {
            return Ok(None);
        };
        let shared = &projections[0].input;
        if projections.len() < 2 || !projections.iter().all(|p| Arc::ptr_eq(&p.input, shared)) {
            return Ok(None);
        }
        let input = self.plan(shared)?;
        let exprs = projections
            .iter()
            .map(|p| {
                p.expr
                    .iter()
                    .map(|e| self.physical(e, shared.schema()))
                    .collect()
            })
            .collect::<Result<Vec<Vec<_>>>>()?;
        let text = projections
            .iter()
            .map(|p| {
                let e: Vec<String> = p.expr.iter().map(|e| e.to_string()).collect();
                format!("{{{}}}", e.join(", "))
            })
            .collect::<Vec<_>>();
        let schema = nullable_schema(u.schema.as_arrow());
        let expand = Expand {
            projections: exprs,
            schema: schema.clone(),
            description: format!("Expand(projects=[{}])", text.join(", ")),
        };
        self.add_forward(input, Arc::new(expand), schema, Derive::Passes)
            .map(Some)
    }

    /// `UNNEST` of one list column: an [`Unnest`] operator.
    fn plan_unnest(&mut self, u: &datafusion::logical_expr::Unnest) -> Result<Stream> {
        use datafusion::common::NullHandling;
        let one_level = u.list_type_columns.iter().all(|(_, l)| l.depth == 1);
        if !one_level || !u.struct_type_columns.is_empty() || u.list_type_columns.is_empty() {
            return Err(self.not_supported("UNNEST of other than lists, one level deep"));
        }
        let list_columns = u.list_type_columns.iter().map(|(i, _)| *i).collect();
        let input = self.plan(&u.input)?;
        let schema = nullable_schema(u.schema.as_arrow());
        let unnest = Unnest {
            list_columns,
            columns: u.dependency_indices.clone(),
            null_gives_row: u.options.null_handling != NullHandling::Drop,
            empty_gives_row: u.options.null_handling == NullHandling::PreserveAndExpandEmpty,
            schema: schema.clone(),
            description: format!(
                "Unnest({})",
                u.exec_columns
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.add_forward(input, Arc::new(unnest), schema, Derive::Passes)
    }

    /// A Calc computing projection `p` over `input` (the stream of its input).
    fn project(
        &mut self,
        input: Stream,
        p: &datafusion::logical_expr::Projection,
    ) -> Result<Stream> {
        let exprs = p
            .expr
            .iter()
            .map(|e| self.physical(e, p.input.schema()))
            .collect::<Result<Vec<_>>>()?;
        let text: Vec<String> = p.expr.iter().map(|e| e.to_string()).collect();
        let schema = nullable_schema(p.schema.as_arrow());
        self.add_calc(
            input,
            None,
            Some(exprs),
            schema,
            format!("Calc(select=[{}])", text.join(", ")),
        )
    }

    /// Plans `plan` and returns the stream it produces.
    pub fn plan(&mut self, plan: &LogicalPlan) -> Result<Stream> {
        match plan {
            LogicalPlan::Projection(p) => {
                // A Top-N whose rank this projection drops need not emit
                // rank changes.
                if let LogicalPlan::Filter(f) = p.input.as_ref()
                    && let Some((w, _, _)) = self.top_n_window(&f.input)
                {
                    let rn = w.schema.field(w.schema.fields().len() - 1).name();
                    self.rank_number_unused = !p
                        .expr
                        .iter()
                        .any(|e| e.column_refs().iter().any(|c| &c.name == rn));
                }
                let input = self.plan(&p.input)?;
                self.rank_number_unused = false;
                self.project(input, p)
            }
            LogicalPlan::Filter(f) => {
                // `WHERE rn <= N` over an unbounded ROW_NUMBER(): a Top-N.
                let input = match self.top_n_window(&f.input) {
                    Some((w, wf, projection)) => {
                        let rn = w.schema.field(w.schema.fields().len() - 1).name().clone();
                        let Some(limit) = rank::rank_limit(&f.predicate, &rn) else {
                            return Err(self.not_supported(
                                "ROW_NUMBER() without a rank limit (WHERE rn <= N)",
                            ));
                        };
                        let mut rank = self.plan_rank(w, &wf, limit)?;
                        if let Some(p) = projection {
                            rank = self.project(rank, p)?;
                        }
                        if rank::is_rank_bound(&f.predicate, &rn, limit) {
                            return Ok(rank);
                        }
                        rank
                    }
                    None => self.plan(&f.input)?,
                };
                let predicate = self.physical(&f.predicate, f.input.schema())?;
                let schema = nullable_schema(f.input.schema().as_arrow());
                self.add_calc(
                    input,
                    Some(predicate),
                    None,
                    schema,
                    format!("Calc(where=[{}])", f.predicate),
                )
            }
            LogicalPlan::SubqueryAlias(a) => self.plan(&a.input),
            LogicalPlan::Unnest(u) => self.plan_unnest(u),
            LogicalPlan::TableScan(scan) => {
                if scan.fetch.is_some() {
                    return Err(self.not_supported("LIMIT"));
                }
                if !scan.filters.is_empty() {
                    return Err(SqlError::Engine(eddy_engine::EngineError::Internal(
                        "filters pushed into a scan".into(),
                    )));
                }
                let provider =
                    source_as_provider(&scan.source).map_err(|e| self.plan_error(e.to_string()))?;
                let (stream, full_schema) = if let Some(view) =
                    (provider.as_ref() as &dyn std::any::Any).downcast_ref::<ViewTable>()
                {
                    let stream = self.plan(view.logical_plan())?;
                    (stream, view.logical_plan().schema().clone())
                } else {
                    let name = scan.table_name.table().to_string();
                    let stream = self.plan_table(&name, scan.projection.as_deref())?;
                    let df = DFSchema::try_from(provider.schema().as_ref().clone())
                        .map_err(|e| self.plan_error(e.to_string()))?;
                    (stream, Arc::new(df))
                };
                match &scan.projection {
                    None => Ok(stream),
                    Some(indices) => {
                        let exprs = indices
                            .iter()
                            .map(|i| {
                                let (q, f) = full_schema.qualified_field(*i);
                                self.physical(
                                    &Expr::Column(datafusion::common::Column::new(
                                        q.cloned(),
                                        f.name(),
                                    )),
                                    &full_schema,
                                )
                            })
                            .collect::<Result<Vec<_>>>()?;
                        let schema = nullable_schema(scan.projected_schema.as_arrow());
                        let names: Vec<String> = scan
                            .projected_schema
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect();
                        self.add_calc(
                            stream,
                            None,
                            Some(exprs),
                            schema,
                            format!("Calc(select=[{}])", names.join(", ")),
                        )
                    }
                }
            }
            LogicalPlan::Union(u) => {
                if let Some(expanded) = self.plan_expand(u)? {
                    return Ok(expanded);
                }
                let inputs = u
                    .inputs
                    .iter()
                    .map(|i| self.plan(i))
                    .collect::<Result<Vec<_>>>()?;
                let schema = nullable_schema(u.schema.as_arrow());
                let edges = inputs
                    .iter()
                    .map(|s| Edge {
                        from: s.node,
                        input: 0,
                        partitioning: if s.parallelism == self.parallelism {
                            Partitioning::Forward
                        } else {
                            Partitioning::Rebalance
                        },
                    })
                    .collect();
                let node = self.plan.add_operator(
                    Arc::new(Union {
                        schema: schema.clone(),
                    }),
                    self.parallelism,
                    edges,
                    schema,
                    Derive::Passes,
                )?;
                Ok(Stream {
                    node,
                    parallelism: self.parallelism,
                })
            }
            LogicalPlan::EmptyRelation(e) => {
                let rows = usize::from(e.produce_one_row);
                let schema = nullable_schema(e.schema.as_arrow());
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                let batch = RecordBatch::try_new_with_options(schema.clone(), vec![], &options)
                    .map_err(|e| self.plan_error(e.to_string()))?;
                self.add_values(batch)
            }
            LogicalPlan::Values(v) => {
                let schema = nullable_schema(v.schema.as_arrow());
                let empty = DFSchema::empty();
                let mut columns: Vec<Vec<ScalarValue>> = vec![vec![]; schema.fields().len()];
                let one = RecordBatch::try_new_with_options(
                    Arc::new(Schema::empty()),
                    vec![],
                    &RecordBatchOptions::new().with_row_count(Some(1)),
                )
                .map_err(|e| self.plan_error(e.to_string()))?;
                for row in &v.values {
                    for (i, e) in row.iter().enumerate() {
                        let value = self
                            .physical(e, &empty)?
                            .evaluate(&one)
                            .and_then(|c| c.into_array(1))
                            .and_then(|a| ScalarValue::try_from_array(&a, 0))
                            .map_err(|e| self.plan_error(e.to_string()))?;
                        columns[i].push(value);
                    }
                }
                let arrays = columns
                    .into_iter()
                    .zip(schema.fields())
                    .map(|(vals, f)| {
                        ScalarValue::iter_to_array(vals)
                            .and_then(|a| Ok(datafusion::arrow::compute::cast(&a, f.data_type())?))
                    })
                    .collect::<Result<Vec<ArrayRef>, _>>()
                    .map_err(|e| self.plan_error(e.to_string()))?;
                let batch = RecordBatch::try_new(schema, arrays)
                    .map_err(|e| self.plan_error(e.to_string()))?;
                self.add_values(batch)
            }
            LogicalPlan::Aggregate(a) => {
                match grouping_sets::expand(a).map_err(|e| self.plan_error(e.to_string()))? {
                    Some(expanded) => self.plan_window_aggregate(&expanded),
                    None => self.plan_window_aggregate(a),
                }
            }
            LogicalPlan::Join(j) => match self.window_join_ends(j) {
                Some(ends) => self.plan_window_join(j, ends),
                None => self.plan_join(j),
            },
            LogicalPlan::Sort(s) => self.plan_sort(s),
            LogicalPlan::Limit(l) => self.plan_limit(l),
            LogicalPlan::Window(w) if self.is_window_rank(w) => self.plan_window_rank(w),
            LogicalPlan::Window(w) if rank::row_number(w).is_none() => self.plan_over(w),
            LogicalPlan::Window(w) => self.plan_window_rank(w),
            LogicalPlan::Distinct(_) => Err(self.not_supported("DISTINCT")),
            other => Err(self.not_supported(&format!("the plan node {}", other.display()))),
        }
    }

    fn add_values(&mut self, batch: RecordBatch) -> Result<Stream> {
        let schema = batch.schema();
        let node = self.plan.add_source(
            Arc::new(Values { batch }),
            None,
            1,
            schema,
            ChangelogMode::Insert,
            None,
            None,
        );
        Ok(Stream {
            node,
            parallelism: 1,
        })
    }
}

/// Milliseconds of an interval literal without months, if `v` is one.
pub(crate) fn interval_millis(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::IntervalDayTime(Some(d)) => {
            Some(i64::from(d.days) * 86_400_000 + i64::from(d.milliseconds))
        }
        ScalarValue::IntervalMonthDayNano(Some(i)) if i.months == 0 => {
            Some(i64::from(i.days) * 86_400_000 + i.nanoseconds / 1_000_000)
        }
        _ => None,
    }
}

//! The streaming planner's window operators: window aggregation (TUMBLE,
//! HOP, CUMULATE by window end; SESSION by merging), window ranking (Top-N
//! and deduplication) and window joins.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Expr, LogicalPlan};
use eddy_engine::graph::{Edge, Partitioning};
use eddy_engine::ops::aggregate::{AggregateCall, WindowColumns};
use eddy_engine::ops::session_aggregate::SessionAggregate;
use eddy_engine::ops::slicing_window_aggregate::{Slicing, SlicingWindowAggregate};
use eddy_engine::ops::window_aggregate::WindowAggregate;
use eddy_engine::ops::window_join::{JoinKind, JoinSide, WindowJoin};
use eddy_engine::ops::window_rank::WindowRank;

use super::{Stream, StreamPlanner};
use crate::catalog::nullable_schema;
use crate::error::{Result, SqlError};

impl StreamPlanner<'_> {
    /// `GROUP BY window_start, window_end, ..` over a window table function:
    /// a Calc computing the group keys first, a hash exchange on them, then
    /// a [`WindowAggregate`].
    pub(crate) fn plan_window_aggregate(
        &mut self,
        a: &datafusion::logical_expr::Aggregate,
    ) -> Result<Stream> {
        let is_column = |e: &Expr, name: &str| matches!(e, Expr::Column(c) if c.name == name);
        let Some(window_end) = a.group_expr.iter().position(|e| is_column(e, "window_end")) else {
            return Err(SqlError::NotSupported {
                location: self.location,
                message: "GROUP BY without window_start and window_end of a window table function (unbounded aggregation) is not supported in streaming queries yet".into(),
            });
        };
        let gap = session_gap(&a.input, "window_end");
        let sliced = match (
            gap,
            self.state
                .scalar_functions()
                .get(crate::functions::SLICE_END),
        ) {
            (None, Some(slice_end)) => sliced_input(a, slice_end),
            _ => None,
        };
        let input_plan = match &sliced {
            Some((_, plan)) => plan.clone(),
            None => a.input.clone(),
        };
        let input = self.plan(&input_plan)?;
        let input_schema = input_plan.schema();
        // Keys first, then every input column, so aggregate arguments
        // resolve against the same names.
        let mut exprs: Vec<Expr> = a
            .group_expr
            .iter()
            .enumerate()
            .map(|(i, e)| e.clone().alias(format!("__key{i}")))
            .collect();
        exprs.extend(
            input_schema
                .iter()
                .map(|(q, f)| Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()))),
        );
        let keyed =
            datafusion::logical_expr::Projection::try_new(exprs.clone(), input_plan.clone())
                .map_err(|e| self.plan_error(e.to_string()))?;
        let physical = exprs
            .iter()
            .map(|e| self.physical(e, input_schema))
            .collect::<Result<Vec<_>>>()?;
        let keyed_schema = nullable_schema(keyed.schema.as_arrow());
        let keys_text: Vec<String> = a.group_expr.iter().map(|e| e.to_string()).collect();
        let calc = self.add_calc(
            input,
            None,
            Some(physical),
            keyed_schema.clone(),
            format!("Calc(keys=[{}])", keys_text.join(", ")),
        )?;
        let props = self.state.execution_props();
        let calls = a
            .aggr_expr
            .iter()
            .map(|e| {
                let planning = datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext::default();
                let lowered = datafusion::physical_expr::aggregate::LoweredAggregateBuilder::new(
                    e,
                    &keyed.schema,
                    keyed.schema.as_arrow(),
                    props,
                    &planning,
                )
                .build()
                .map_err(|e| self.plan_error(e.to_string()))?;
                if !lowered.order_bys.is_empty() {
                    return Err(self.not_supported("ORDER BY inside an aggregate call"));
                }
                Ok(AggregateCall {
                    function: lowered.aggregate,
                    filter: lowered.filter,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let aggs_text: Vec<String> = a.aggr_expr.iter().map(|e| e.to_string()).collect();
        let schema = nullable_schema(a.schema.as_arrow());
        let is_window = |e: &Expr| {
            ["window_start", "window_end", "window_time"]
                .iter()
                .any(|w| is_column(e, w))
        };
        let (op, partitioning): (
            Arc<dyn eddy_engine::operator::OperatorFactory>,
            Partitioning,
        ) = match (gap, sliced) {
            (Some(gap_ms), _) => {
                let Some(start) = a
                    .group_expr
                    .iter()
                    .position(|e| is_column(e, "window_start"))
                else {
                    return Err(self.plan_error(
                        "a SESSION window aggregation must group by window_start and window_end",
                    ));
                };
                // Sessions are partitioned by the keys other than the window columns.
                let partition: Vec<usize> = (0..a.group_expr.len())
                    .filter(|i| !is_window(&a.group_expr[*i]))
                    .collect();
                let op = SessionAggregate {
                    key_count: a.group_expr.len(),
                    windows: WindowColumns {
                        start: Some(start),
                        end: window_end,
                        time: a
                            .group_expr
                            .iter()
                            .position(|e| is_column(e, "window_time")),
                    },
                    row_time: start,
                    gap_ms,
                    calls,
                    schema: schema.clone(),
                    description: format!(
                        "SessionWindowAggregate(gap={gap_ms}ms, groupBy=[{}], select=[{}])",
                        keys_text.join(", "),
                        aggs_text.join(", ")
                    ),
                };
                let partitioning = if partition.is_empty() {
                    Partitioning::Single
                } else {
                    Partitioning::Hash(partition)
                };
                (Arc::new(op), partitioning)
            }
            (None, Some((slicing, _))) => {
                let position = |name| a.group_expr.iter().position(|e| is_column(e, name));
                let op = SlicingWindowAggregate {
                    key_count: a.group_expr.len(),
                    windows: WindowColumns {
                        start: position("window_start"),
                        end: window_end,
                        time: position("window_time"),
                    },
                    slicing,
                    calls,
                    schema: schema.clone(),
                    description: format!(
                        "SlicingWindowAggregate(window=[{slicing}], groupBy=[{}], select=[{}])",
                        keys_text.join(", "),
                        aggs_text.join(", ")
                    ),
                };
                let keys: Vec<usize> = (0..a.group_expr.len())
                    .filter(|i| !is_window(&a.group_expr[*i]))
                    .collect();
                let partitioning = if keys.is_empty() {
                    Partitioning::Single
                } else {
                    Partitioning::Hash(keys)
                };
                (Arc::new(op), partitioning)
            }
            (None, None) => {
                let op = WindowAggregate {
                    key_count: a.group_expr.len(),
                    window_end,
                    calls,
                    schema: schema.clone(),
                    description: format!(
                        "WindowAggregate(groupBy=[{}], select=[{}])",
                        keys_text.join(", "),
                        aggs_text.join(", ")
                    ),
                };
                (
                    Arc::new(op),
                    Partitioning::Hash((0..a.group_expr.len()).collect()),
                )
            }
        };
        let node = self.graph.add_operator(
            op,
            self.parallelism,
            vec![Edge {
                from: calc.node,
                input: 0,
                partitioning,
            }],
            schema,
        )?;
        Ok(Stream {
            node,
            parallelism: self.parallelism,
        })
    }

    /// `ROW_NUMBER() OVER (PARTITION BY window_start, window_end, ..
    /// ORDER BY ..)` over window results: a [`WindowRank`] (Flink's window
    /// Top-N and deduplication, with `rn <= N` as a Calc after it).
    pub(crate) fn plan_window_rank(
        &mut self,
        w: &datafusion::logical_expr::Window,
    ) -> Result<Stream> {
        use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
        let over_windows = || {
            self.not_supported(
                "OVER aggregations other than ROW_NUMBER() partitioned by window_start and window_end",
            )
        };
        let [expr] = w.window_expr.as_slice() else {
            return Err(over_windows());
        };
        let Expr::WindowFunction(wf) = expr.clone().unalias() else {
            return Err(over_windows());
        };
        let WindowFunction { fun, params } = wf.as_ref();
        let is_row_number =
            matches!(fun, WindowFunctionDefinition::WindowUDF(u) if u.name() == "row_number");
        let input_schema = w.input.schema();
        let window_end = params.partition_by.iter().find_map(|e| match e {
            Expr::Column(c) if c.name == "window_end" => input_schema.index_of_column(c).ok(),
            _ => None,
        });
        let (true, Some(window_end)) = (is_row_number, window_end) else {
            return Err(over_windows());
        };
        let input = self.plan(&w.input)?;
        let partition_by = params
            .partition_by
            .iter()
            .map(|e| self.physical(e, input_schema))
            .collect::<Result<Vec<_>>>()?;
        let order_by = params
            .order_by
            .iter()
            .map(|s| {
                let options = datafusion::arrow::compute::SortOptions {
                    descending: !s.asc,
                    nulls_first: s.nulls_first,
                };
                Ok((self.physical(&s.expr, input_schema)?, options))
            })
            .collect::<Result<Vec<_>>>()?;
        // Rows of one partition must meet in one subtask.
        let keys: Option<Vec<usize>> = params
            .partition_by
            .iter()
            .map(|e| match e {
                Expr::Column(c) => input_schema.index_of_column(c).ok(),
                _ => None,
            })
            .collect();
        let schema = nullable_schema(w.schema.as_arrow());
        let op = WindowRank {
            window_end,
            partition_by,
            order_by,
            schema: schema.clone(),
            description: format!("WindowRank({expr})"),
        };
        let node = self.graph.add_operator(
            Arc::new(op),
            self.parallelism,
            vec![Edge {
                from: input.node,
                input: 0,
                partitioning: Partitioning::Hash(keys.unwrap_or_else(|| vec![window_end])),
            }],
            schema,
        )?;
        Ok(Stream {
            node,
            parallelism: self.parallelism,
        })
    }

    /// A join of two window results on `window_start`, `window_end` (and
    /// keys): a [`WindowJoin`] over both inputs.
    pub(crate) fn plan_window_join(
        &mut self,
        j: &datafusion::logical_expr::Join,
    ) -> Result<Stream> {
        use datafusion::common::JoinType;
        let kind = match j.join_type {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Right => JoinKind::Right,
            JoinType::Full => JoinKind::Full,
            _ => return Err(self.not_supported(&format!("{} JOIN", j.join_type))),
        };
        let window_end = j.on.iter().find_map(|(l, r)| match (l, r) {
            (Expr::Column(a), Expr::Column(b))
                if a.name == "window_end" && b.name == "window_end" =>
            {
                Some((
                    j.left.schema().index_of_column(a).ok()?,
                    j.right.schema().index_of_column(b).ok()?,
                ))
            }
            _ => None,
        });
        let has_start = j.on.iter().any(|(l, r)| {
            matches!((l, r), (Expr::Column(a), Expr::Column(b)) if a.name == "window_start" && b.name == "window_start")
        });
        let (Some((left_end, right_end)), true) = (window_end, has_start) else {
            return Err(self.not_supported(
                "JOIN other than a window join (on window_start and window_end of two window table functions)",
            ));
        };
        let left = self.plan(&j.left)?;
        let right = self.plan(&j.right)?;
        let side =
            |this: &Self, plan: &LogicalPlan, keys: Vec<&Expr>, end: usize| -> Result<JoinSide> {
                Ok(JoinSide {
                    window_end: end,
                    keys: keys
                        .into_iter()
                        .map(|k| this.physical(k, plan.schema()))
                        .collect::<Result<_>>()?,
                    schema: nullable_schema(plan.schema().as_arrow()),
                })
            };
        let left_side = side(
            self,
            &j.left,
            j.on.iter().map(|(l, _)| l).collect(),
            left_end,
        )?;
        let right_side = side(
            self,
            &j.right,
            j.on.iter().map(|(_, r)| r).collect(),
            right_end,
        )?;
        let filter = j
            .filter
            .as_ref()
            .map(|f| self.physical(f, &j.schema))
            .transpose()?;
        let schema = nullable_schema(j.schema.as_arrow());
        let on: Vec<String> = j.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        let op = WindowJoin {
            left: left_side,
            right: right_side,
            kind,
            filter,
            schema: schema.clone(),
            description: format!(
                "WindowJoin(joinType=[{}], on=[{}])",
                j.join_type,
                on.join(", ")
            ),
        };
        let node = self.graph.add_operator(
            Arc::new(op),
            self.parallelism,
            vec![
                Edge {
                    from: left.node,
                    input: 0,
                    partitioning: Partitioning::Hash(vec![left_end]),
                },
                Edge {
                    from: right.node,
                    input: 1,
                    partitioning: Partitioning::Hash(vec![right_end]),
                },
            ],
            schema,
        )?;
        Ok(Stream {
            node,
            parallelism: self.parallelism,
        })
    }
}

/// The gap (ms) when column `name` of `plan` is the `window_end` of a
/// SESSION table function, found through projections, filters and aliases.
fn session_gap(plan: &LogicalPlan, name: &str) -> Option<i64> {
    match plan {
        LogicalPlan::Projection(p) => {
            let i = p.schema.fields().iter().position(|f| f.name() == name)?;
            match p.expr.get(i)?.clone().unalias() {
                Expr::ScalarFunction(f) if f.name() == crate::functions::SESSION_END => {
                    match f.args.get(1)? {
                        Expr::Literal(ScalarValue::Int64(Some(g)), _) => Some(*g),
                        _ => None,
                    }
                }
                Expr::Column(c) => session_gap(&p.input, &c.name),
                _ => None,
            }
        }
        LogicalPlan::Filter(f) => session_gap(&f.input, name),
        LogicalPlan::SubqueryAlias(a) => session_gap(&a.input, name),
        _ => None,
    }
}

/// Names of the window columns a window table function adds.
const WINDOW_COLUMNS: [&str; 3] = ["window_start", "window_end", "window_time"];

/// For a window aggregation over HOP or CUMULATE windows (one input row
/// per window, from unnesting the list of the row's windows), the slicing
/// and the aggregation's input with each row once, holding its slice end
/// where the unnested window was: a [`SlicingWindowAggregate`] then
/// aggregates each row once. `None` when the aggregation is over other
/// windows or uses the window columns other than as plain group keys (then
/// the rows per window are aggregated as they are).
pub(super) fn sliced_input(
    a: &datafusion::logical_expr::Aggregate,
    slice_end: &Arc<datafusion::logical_expr::ScalarUDF>,
) -> Option<(Slicing, Arc<LogicalPlan>)> {
    let tainted = derived_from_windows(&a.input)?;
    let uses = |e: &Expr| e.column_refs().iter().any(|c| tainted.contains(&c.name));
    // Window columns only as plain group keys, of their own names.
    for e in &a.group_expr {
        match e {
            Expr::Column(c) if WINDOW_COLUMNS.contains(&c.name.as_str()) => {}
            e if uses(e) => return None,
            _ => {}
        }
    }
    if a.aggr_expr.iter().any(uses)
        || tainted
            .iter()
            .any(|t| !WINDOW_COLUMNS.contains(&t.as_str()))
    {
        return None;
    }
    let mut slicing = None;
    let rewritten = a
        .input
        .as_ref()
        .clone()
        .transform_up(|node| {
            let LogicalPlan::Unnest(u) = &node else {
                return Ok(Transformed::no(node));
            };
            let LogicalPlan::Projection(p) = u.input.as_ref() else {
                return Ok(Transformed::no(node));
            };
            let mut found = None;
            let exprs = p
                .expr
                .iter()
                .map(|e| {
                    e.clone()
                        .transform(|e| match window_list(&e) {
                            Some((s, ts)) => {
                                let (slice, offset, shift) = match s {
                                    Slicing::Hop {
                                        slide,
                                        size,
                                        offset,
                                    } => (slide, offset, -size),
                                    Slicing::Cumulate { step, offset, .. } => (step, offset, 0),
                                };
                                found = Some(s);
                                let args = [slice, offset, shift]
                                    .into_iter()
                                    .map(|v| Expr::Literal(ScalarValue::Int64(Some(v)), None));
                                Ok(Transformed::yes(Expr::ScalarFunction(
                                    datafusion::logical_expr::expr::ScalarFunction::new_udf(
                                        slice_end.clone(),
                                        std::iter::once(ts).chain(args).collect(),
                                    ),
                                )))
                            }
                            None => Ok(Transformed::no(e)),
                        })
                        .map(|t| t.data)
                })
                .collect::<datafusion::common::Result<Vec<_>>>()?;
            if found.is_none() {
                return Ok(Transformed::no(node));
            }
            slicing = found;
            // The unnest's columns, named as it names them.
            let exprs = u
                .dependency_indices
                .iter()
                .enumerate()
                .map(|(j, dep)| {
                    let (qualifier, field) = u.schema.qualified_field(j);
                    exprs[*dep]
                        .clone()
                        .unalias()
                        .alias_qualified(qualifier.cloned(), field.name())
                })
                .collect();
            let projection = datafusion::logical_expr::Projection::try_new(exprs, p.input.clone())?;
            Ok(Transformed::yes(LogicalPlan::Projection(projection)))
        })
        .ok()?;
    Some((slicing?, Arc::new(rewritten.data)))
}

/// The columns of `plan` computed from an unnested list of windows, when
/// every node between is a projection, filter (not on those columns) or
/// alias; `None` otherwise or when there is no such list.
fn derived_from_windows(plan: &LogicalPlan) -> Option<std::collections::HashSet<String>> {
    let uses = |e: &Expr, set: &std::collections::HashSet<String>| {
        e.column_refs().iter().any(|c| set.contains(&c.name))
    };
    match plan {
        LogicalPlan::Projection(p) => {
            let below = derived_from_windows(&p.input)?;
            Some(
                p.expr
                    .iter()
                    .zip(p.schema.fields())
                    .filter(|(e, _)| uses(e, &below))
                    .map(|(_, f)| f.name().clone())
                    .collect(),
            )
        }
        LogicalPlan::Filter(f) => {
            let below = derived_from_windows(&f.input)?;
            (!uses(&f.predicate, &below)).then_some(below)
        }
        LogicalPlan::SubqueryAlias(s) => derived_from_windows(&s.input),
        LogicalPlan::Unnest(u) => {
            let LogicalPlan::Projection(p) = u.input.as_ref() else {
                return None;
            };
            let [(column, _)] = u.list_type_columns.as_slice() else {
                return None;
            };
            window_list(p.expr.get(*column)?)?;
            Some([p.schema.field(*column).name().clone()].into())
        }
        _ => None,
    }
}

/// The slicing and time argument of a HOP_STARTS or CUMULATE_ENDS call.
fn window_list(e: &Expr) -> Option<(Slicing, Expr)> {
    let Expr::ScalarFunction(f) = e.clone().unalias() else {
        return None;
    };
    let [ts, a, b, offset] = f.args.as_slice() else {
        return None;
    };
    let (a, b, offset) = (literal_i64(a)?, literal_i64(b)?, literal_i64(offset)?);
    let slicing = match f.name() {
        crate::functions::HOP_STARTS => Slicing::Hop {
            slide: a,
            size: b,
            offset,
        },
        crate::functions::CUMULATE_ENDS => Slicing::Cumulate {
            step: a,
            size: b,
            offset,
        },
        _ => return None,
    };
    Some((slicing, ts.clone()))
}

/// An integer literal, through casts.
fn literal_i64(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => match v.cast_to(&datafusion::arrow::datatypes::DataType::Int64) {
            Ok(ScalarValue::Int64(v)) => v,
            _ => None,
        },
        Expr::Cast(c) => literal_i64(&c.expr),
        Expr::TryCast(c) => literal_i64(&c.expr),
        _ => None,
    }
}

//! The streaming planner's window operators: window aggregation (TUMBLE,
//! HOP, CUMULATE by window end; SESSION by merging), window ranking (Top-N
//! and deduplication) and window joins.

use std::sync::Arc;

use datafusion::logical_expr::{Expr, LogicalPlan};
use eddy_engine::graph::{Edge, Partitioning};
use eddy_engine::ops::aggregate::WindowColumns;
use eddy_engine::ops::join::window::{JoinSide, WindowJoin};
use eddy_engine::ops::rank::window::WindowRank;
use eddy_engine::ops::window::session::SessionAggregate;
use eddy_engine::ops::window::slicing::{Slicing, SlicingWindowAggregate};

use super::aggregate::KeyedInput;
use super::window_columns::{
    WindowColumn, on_processing_time, session_gap, sliced_input, window_column,
};
use super::{Stream, StreamPlanner};
use crate::catalog::nullable_schema;
use crate::error::Result;
use crate::stream_plan::Derive;

impl StreamPlanner<'_> {
    /// `GROUP BY window_start, window_end, ..` over a window table function:
    /// a Calc computing the group keys first, a hash exchange on them, then
    /// a [`SlicingWindowAggregate`] (or a [`SessionAggregate`]). Without
    /// the window columns, an unbounded group aggregation.
    pub(crate) fn plan_window_aggregate(
        &mut self,
        a: &datafusion::logical_expr::Aggregate,
    ) -> Result<Stream> {
        let roles: Vec<Option<WindowColumn>> = a
            .group_expr
            .iter()
            .map(|e| window_column(&a.input, e))
            .collect();
        let position = |role| roles.iter().position(|r| *r == Some(role));
        let is_window = |i: &usize| roles[*i].is_some();
        let Some(window_end) = position(WindowColumn::End) else {
            return self.plan_group_aggregate(a);
        };
        let gap = session_gap(&a.input, &a.group_expr[window_end]);
        let tables = self.tables;
        let processing_time = on_processing_time(&a.input, &|table, column| {
            table.is_empty() || tables.get(table).is_some_and(|t| t.is_proctime(column))
        });
        if processing_time && gap.is_some() {
            return Err(self.not_supported("SESSION windows on processing time"));
        }
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
        let KeyedInput {
            calc,
            calls,
            keys_text,
            aggs_text,
        } = self.keyed_input(a, &input_plan)?;
        if self.is_updating(calc) {
            return Err(self.updating_input_error("a window aggregation", calc));
        }
        let schema = nullable_schema(a.schema.as_arrow());
        let (op, partitioning): (
            Arc<dyn eddy_engine::operator::OperatorFactory>,
            Partitioning,
        ) = match (gap, sliced) {
            (Some(gap_ms), _) => {
                let Some(start) = position(WindowColumn::Start) else {
                    return Err(self.plan_error(
                        "a SESSION window aggregation must group by window_start and window_end",
                    ));
                };
                // Sessions are partitioned by the keys other than the window columns.
                let partition: Vec<usize> =
                    (0..a.group_expr.len()).filter(|i| !is_window(i)).collect();
                let op = SessionAggregate {
                    key_count: a.group_expr.len(),
                    windows: WindowColumns {
                        start: Some(start),
                        end: window_end,
                        time: position(WindowColumn::Time),
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
                let op = SlicingWindowAggregate {
                    key_count: a.group_expr.len(),
                    windows: WindowColumns {
                        start: position(WindowColumn::Start),
                        end: window_end,
                        time: position(WindowColumn::Time),
                    },
                    slicing,
                    processing_time,
                    calls,
                    schema: schema.clone(),
                    description: format!(
                        "SlicingWindowAggregate(window=[{slicing}], groupBy=[{}], select=[{}])",
                        keys_text.join(", "),
                        aggs_text.join(", ")
                    ),
                };
                // The operator says what it is keyed on: its state is split
                // by the same columns when restored at another parallelism.
                let keys = op.exchange_keys();
                let partitioning = if keys.is_empty() {
                    Partitioning::Single
                } else {
                    Partitioning::Hash(keys)
                };
                (Arc::new(op), partitioning)
            }
            (None, None) => {
                // Windows given by the input: a tumbling window table
                // function, or windows computed upstream.
                let op = SlicingWindowAggregate {
                    key_count: a.group_expr.len(),
                    windows: WindowColumns {
                        start: None,
                        end: window_end,
                        time: None,
                    },
                    slicing: Slicing::Given,
                    processing_time,
                    calls,
                    schema: schema.clone(),
                    description: format!(
                        "WindowAggregate(groupBy=[{}], select=[{}])",
                        keys_text.join(", "),
                        aggs_text.join(", ")
                    ),
                };
                let keys = op.exchange_keys();
                (Arc::new(op), Partitioning::Hash(keys))
            }
        };
        let stream = self.add_exchanged(calc, op, partitioning, schema, Derive::inserts())?;
        self.window_nodes.push(stream.node);
        Ok(stream)
    }

    /// Whether `w` is a window ranking: partitioned by a `window_end`.
    pub(crate) fn is_window_rank(&self, w: &datafusion::logical_expr::Window) -> bool {
        super::rank::row_number(w).is_some_and(|wf| {
            wf.params
                .partition_by
                .iter()
                .any(|e| window_column(&w.input, e) == Some(WindowColumn::End))
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
            Expr::Column(c) if window_column(&w.input, e) == Some(WindowColumn::End) => {
                input_schema.index_of_column(c).ok()
            }
            _ => None,
        });
        let (true, Some(window_end)) = (is_row_number, window_end) else {
            return Err(over_windows());
        };
        let input = self.plan(&w.input)?;
        if self.is_updating(input) {
            return Err(self.updating_input_error("a window ranking", input));
        }
        // Rows of one partition meet in one subtask (partitioned by the
        // window end at least, when a key is an expression).
        let (partition_by, partitioning) =
            match self.partitioned_by(&params.partition_by, input_schema) {
                Ok(p) => p,
                Err(_) => (
                    params
                        .partition_by
                        .iter()
                        .map(|e| self.physical(e, input_schema))
                        .collect::<Result<Vec<_>>>()?,
                    Partitioning::Hash(vec![window_end]),
                ),
            };
        let order_by = self.sort_keys(&params.order_by, input_schema)?;
        let schema = nullable_schema(w.schema.as_arrow());
        let op = WindowRank {
            window_end,
            partition_by,
            order_by,
            schema: schema.clone(),
            description: format!("WindowRank({expr})"),
        };
        let stream =
            self.add_exchanged(input, Arc::new(op), partitioning, schema, Derive::inserts())?;
        self.window_nodes.push(stream.node);
        Ok(stream)
    }

    /// The `window_end` columns of both sides if `j` is a window join: on
    /// `window_start` and `window_end` of two window results.
    pub(crate) fn window_join_ends(
        &self,
        j: &datafusion::logical_expr::Join,
    ) -> Option<(usize, usize)> {
        let both = |l: &Expr, r: &Expr, role| {
            window_column(&j.left, l) == Some(role) && window_column(&j.right, r) == Some(role)
        };
        let window_end = j.on.iter().find_map(|(l, r)| match (l, r) {
            (Expr::Column(a), Expr::Column(b)) if both(l, r, WindowColumn::End) => Some((
                j.left.schema().index_of_column(a).ok()?,
                j.right.schema().index_of_column(b).ok()?,
            )),
            _ => None,
        });
        let has_start = j.on.iter().any(|(l, r)| both(l, r, WindowColumn::Start));
        window_end.filter(|_| has_start)
    }

    /// A join of two window results on `window_start`, `window_end` (and
    /// keys; `ends`: the `window_end` columns): a [`WindowJoin`] over both
    /// inputs.
    pub(crate) fn plan_window_join(
        &mut self,
        j: &datafusion::logical_expr::Join,
        (left_end, right_end): (usize, usize),
    ) -> Result<Stream> {
        let kind = self.join_kind(j)?;
        let left = self.plan(&j.left)?;
        let right = self.plan(&j.right)?;
        for side in [left, right] {
            if self.is_updating(side) {
                return Err(self.updating_input_error("a window join", side));
            }
        }
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
        let filter = self.join_condition(j, j.filter.as_ref())?;
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
        let node = self.plan.add_operator(
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
            Derive::inserts(),
        )?;
        self.window_nodes.push(node);
        Ok(Stream {
            node,
            parallelism: self.parallelism,
        })
    }
}

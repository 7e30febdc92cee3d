//! The streaming planner's aggregations: the keyed input every aggregation
//! shares (a Calc putting the group keys first), and the unbounded group
//! aggregation (`GROUP BY` without window columns, `SELECT DISTINCT`).

use std::sync::Arc;

use datafusion::logical_expr::{Expr, LogicalPlan};
use eddy_engine::graph::Partitioning;
use eddy_engine::ops::aggregate::AggregateCall;
use eddy_engine::ops::aggregate::group::GroupAggregate;

use super::{Stream, StreamPlanner};
use crate::catalog::nullable_schema;
use crate::error::Result;
use crate::stream_plan::Derive;

/// An aggregation's input with its group keys first, and its calls.
pub(crate) struct KeyedInput {
    /// The Calc computing the keys, then every input column.
    pub calc: Stream,
    /// The aggregate calls, over the Calc's rows.
    pub calls: Vec<AggregateCall>,
    /// The keys and calls as text, for EXPLAIN.
    pub keys_text: Vec<String>,
    pub aggs_text: Vec<String>,
}

impl StreamPlanner<'_> {
    /// Plans `input` (the aggregation's input, possibly rewritten) and a
    /// Calc giving the group keys of `a` first, then every input column, so
    /// aggregate arguments resolve against the same names; lowers the
    /// aggregate calls over it.
    pub(crate) fn keyed_input(
        &mut self,
        a: &datafusion::logical_expr::Aggregate,
        input_plan: &Arc<LogicalPlan>,
    ) -> Result<KeyedInput> {
        let input = self.plan(input_plan)?;
        let input_schema = input_plan.schema();
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
            keyed_schema,
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
        Ok(KeyedInput {
            calc,
            calls,
            keys_text,
            aggs_text,
        })
    }

    /// An unbounded `GROUP BY`: a hash exchange on the keys (all rows to
    /// one subtask without keys) and a [`GroupAggregate`], which emits
    /// updates.
    pub(crate) fn plan_group_aggregate(
        &mut self,
        a: &datafusion::logical_expr::Aggregate,
    ) -> Result<Stream> {
        let KeyedInput {
            calc,
            calls,
            keys_text,
            aggs_text,
        } = self.keyed_input(a, &a.input)?;
        let schema = nullable_schema(a.schema.as_arrow());
        let key_count = a.group_expr.len();
        let op = GroupAggregate {
            key_count,
            calls,
            state_ttl: self.state_ttl,
            updating_input: self.is_updating(calc),
            update_before: true,
            input_schema: self.plan.nodes[calc.node].schema.clone(),
            schema: schema.clone(),
            description: format!(
                "GroupAggregate(groupBy=[{}], select=[{}])",
                keys_text.join(", "),
                aggs_text.join(", ")
            ),
        };
        let partitioning = if key_count == 0 {
            Partitioning::Single
        } else {
            Partitioning::Hash((0..key_count).collect())
        };
        // The keys come first in the output: they are its upsert key, and
        // what the exchange hashed.
        let keys: Vec<usize> = (0..key_count).collect();
        let derive = Derive::Emits {
            updates: true,
            upsert_key: Some(keys.clone()),
            rowtime: None,
            hashed: Some(keys),
        };
        self.add_exchanged(calc, Arc::new(op), partitioning, schema, derive)
    }
}

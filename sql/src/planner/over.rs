//! The streaming planner's OVER aggregations:
//! `agg(..) OVER (PARTITION BY k ORDER BY <time attribute> ROWS|RANGE
//! BETWEEN .. PRECEDING AND CURRENT ROW)`.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::{Expr, WindowFrameBound, WindowFrameUnits};
use datafusion::physical_expr::aggregate::AggregateExprBuilder;
use eddy_engine::ops::aggregate::AggregateCall;
use eddy_engine::ops::over::{Frame, OverAggregate};

use super::interval_millis;
use super::{Stream, StreamPlanner};
use crate::catalog::nullable_schema;
use crate::error::Result;
use crate::stream_plan::Derive;
use eddy_engine::graph::Partitioning;

impl StreamPlanner<'_> {
    /// OVER aggregations of one partitioning, order and frame: a hash
    /// exchange on the partition keys and an [`OverAggregate`].
    pub(crate) fn plan_over(&mut self, w: &datafusion::logical_expr::Window) -> Result<Stream> {
        let location = self.location;
        let over = move || {
            crate::error::SqlError::NotSupported {
            location,
            message: "OVER windows other than aggregates ordered by a time attribute, ROWS or RANGE BETWEEN .. PRECEDING AND CURRENT ROW, are not supported in streaming queries yet".into(),
        }
        };
        let functions: Vec<Box<WindowFunction>> = w
            .window_expr
            .iter()
            .map(|e| match e.clone().unalias() {
                Expr::WindowFunction(wf) => Some(wf),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(over)?;
        let Some(first) = functions.first() else {
            return Err(over());
        };
        let params = &first.params;
        if functions.iter().any(|f| {
            f.params.partition_by != params.partition_by
                || f.params.order_by != params.order_by
                || f.params.window_frame != params.window_frame
        }) {
            return Err(self.not_supported("OVER windows that differ within one SELECT"));
        }
        let input_schema = w.input.schema();
        let [order] = params.order_by.as_slice() else {
            return Err(over());
        };
        let time = match &order.expr {
            Expr::Column(c) if order.asc && self.is_time_attribute(&w.input, &order.expr) => {
                input_schema
                    .index_of_column(c)
                    .map_err(|e| self.plan_error(e.to_string()))?
            }
            _ => {
                return Err(self.plan_error(
                    "OVER windows can only be ordered by a time attribute in ascending order",
                ));
            }
        };
        let frame_spec = &params.window_frame;
        if !matches!(frame_spec.end_bound, WindowFrameBound::CurrentRow) {
            return Err(over());
        }
        let frame = match (&frame_spec.units, &frame_spec.start_bound) {
            (WindowFrameUnits::Rows, WindowFrameBound::Preceding(v)) if v.is_null() => {
                Frame::Rows(None)
            }
            (WindowFrameUnits::Rows, WindowFrameBound::Preceding(v)) => {
                match v.cast_to(&datafusion::arrow::datatypes::DataType::UInt64) {
                    Ok(ScalarValue::UInt64(Some(n))) => Frame::Rows(Some(n)),
                    _ => return Err(over()),
                }
            }
            (WindowFrameUnits::Range, WindowFrameBound::Preceding(v)) if v.is_null() => {
                Frame::Range(None)
            }
            (WindowFrameUnits::Range, WindowFrameBound::Preceding(v)) => {
                Frame::Range(Some(interval_millis(v).ok_or_else(over)?))
            }
            _ => return Err(over()),
        };
        let input = self.plan(&w.input)?;
        if self.is_updating(input) {
            return Err(self.updating_input_error("an OVER aggregation", input));
        }
        let arrow_input = nullable_schema(input_schema.as_arrow());
        let calls = functions
            .iter()
            .zip(w.schema.fields().iter().skip(input_schema.fields().len()))
            .map(|(f, field)| {
                let WindowFunctionDefinition::AggregateUDF(udaf) = &f.fun else {
                    return Err(over());
                };
                let args = f
                    .params
                    .args
                    .iter()
                    .map(|a| self.physical(a, input_schema))
                    .collect::<Result<Vec<_>>>()?;
                let mut builder = AggregateExprBuilder::new(udaf.clone(), args)
                    .schema(arrow_input.clone())
                    .alias(field.name());
                if f.params.distinct {
                    builder = builder.distinct();
                }
                let function = builder
                    .build()
                    .map_err(|e| self.plan_error(e.to_string()))?;
                let filter = f
                    .params
                    .filter
                    .as_ref()
                    .map(|e| self.physical(e, input_schema))
                    .transpose()?;
                Ok(AggregateCall {
                    function: Arc::new(function),
                    filter,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (partition_by, partitioning) =
            self.partitioned_by(&params.partition_by, input_schema)?;
        let schema = nullable_schema(w.schema.as_arrow());
        let op = OverAggregate {
            partition_by,
            time,
            frame,
            calls,
            input_schema: arrow_input,
            schema: schema.clone(),
            description: format!(
                "OverAggregate(partitionBy=[{}], orderBy=[{}], frame=[{:?}], select=[{}])",
                params
                    .partition_by
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                order,
                frame,
                w.window_expr
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        // The output holds the input's columns, then the aggregates.
        let hashed = match &partitioning {
            Partitioning::Hash(k) => Some(k.clone()),
            _ => None,
        };
        let derive = Derive::Emits {
            updates: false,
            upsert_key: None,
            rowtime: self.plan.nodes[input.node].props.rowtime,
            hashed,
        };
        let stream = self.add_exchanged(input, Arc::new(op), partitioning, schema, derive)?;
        self.window_nodes.push(stream.node);
        Ok(stream)
    }
}

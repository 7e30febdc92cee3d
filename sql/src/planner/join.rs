//! The streaming planner's regular and interval joins: each side hashed on
//! its join keys (computed by a Calc when they are expressions) into a
//! [`StreamingJoin`]. A join whose condition bounds the difference of two
//! rowtime attributes of append-only inputs from both sides is an interval
//! join: its rows leave state as the watermark passes. Joins `AS OF` a
//! time are in `temporal.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::{Column, DFSchema, JoinType, NullEquality};
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator, utils::split_conjunction};
use eddy_engine::graph::{Edge, Partitioning};
use eddy_engine::ops::join::{JoinInput, JoinKind, StreamingJoin, TimeBounds};

use super::{Stream, StreamPlanner, interval_millis};
use crate::catalog::nullable_schema;
use crate::error::Result;
use crate::stream_plan::Derive;

/// A side of a join as planned: its stream, with its key columns.
pub(crate) struct Side {
    pub stream: Stream,
    pub input: JoinInput,
}

impl StreamPlanner<'_> {
    /// The engine's kind of join for `j`.
    pub(crate) fn join_kind(&self, j: &datafusion::logical_expr::Join) -> Result<JoinKind> {
        Ok(match j.join_type {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Right => JoinKind::Right,
            JoinType::Full => JoinKind::Full,
            JoinType::LeftSemi => JoinKind::LeftSemi,
            JoinType::LeftAnti => JoinKind::LeftAnti,
            JoinType::RightSemi => JoinKind::RightSemi,
            JoinType::RightAnti => JoinKind::RightAnti,
            _ => return Err(self.not_supported(&format!("{} JOIN", j.join_type))),
        })
    }

    /// Condition `condition` of join `j` over a joined row: both sides'
    /// columns, whatever the join outputs.
    pub(crate) fn join_condition(
        &self,
        j: &datafusion::logical_expr::Join,
        condition: Option<&Expr>,
    ) -> Result<Option<Arc<dyn datafusion::physical_expr::PhysicalExpr>>> {
        let Some(condition) = condition else {
            return Ok(None);
        };
        let pairs = j
            .left
            .schema()
            .join(j.right.schema())
            .map_err(|e| self.plan_error(e.to_string()))?;
        Ok(Some(self.physical(condition, &pairs)?))
    }

    /// A regular or interval join: a [`StreamingJoin`] fed by both sides
    /// hashed on their keys (all rows to one subtask without keys, and for
    /// `NOT IN`, as Flink plans it: see [`StreamingJoin::exchange_keys`]).
    pub(crate) fn plan_join(&mut self, j: &datafusion::logical_expr::Join) -> Result<Stream> {
        if let Some(filter) = &j.filter
            && let Some((probe_time, version_time, residual)) = super::temporal::as_of(filter)
        {
            return self.plan_temporal_join(j, &probe_time, &version_time, residual);
        }
        let kind = self.join_kind(j)?;
        if j.null_aware && (j.on.len() > 1 || j.filter.is_some()) {
            // Its NULL and emptiness facts would hold per correlated value,
            // not for the whole subquery as StreamingJoin keeps them.
            let message = "NOT IN over a correlated subquery is not supported in streaming \
                           queries yet; NOT EXISTS says the same where the subquery's column \
                           holds no NULL";
            return Err(crate::error::SqlError::NotSupported {
                location: self.location,
                message: message.into(),
            });
        }
        let (left_keys, right_keys): (Vec<&Expr>, Vec<&Expr>) =
            j.on.iter().map(|(l, r)| (l, r)).unzip();
        let mut left = self.join_side(&j.left, &left_keys)?;
        let mut right = self.join_side(&j.right, &right_keys)?;
        let interval = if left.input.updating || right.input.updating {
            None
        } else {
            j.filter.as_ref().and_then(|f| self.time_bounds(j, f))
        };
        if let Some((_, l, r)) = interval {
            left.input.time = Some(l);
            right.input.time = Some(r);
        }
        let filter = self.join_condition(j, j.filter.as_ref())?;
        let schema = nullable_schema(j.schema.as_arrow());
        let on: Vec<String> = j.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        let mut text = format!("joinType=[{}]", j.join_type);
        if !on.is_empty() {
            text += &format!(", on=[{}]", on.join(", "));
        }
        if let Some(f) = &j.filter {
            text += &format!(", where=[{f}]");
        }
        let description = match interval {
            Some((b, _, _)) => format!(
                "IntervalJoin({text}, windowBounds=[isRowTime=true, leftLowerBound={}, leftUpperBound={}])",
                b.lower, b.upper
            ),
            None => format!("Join({text})"),
        };
        let updating = left.input.updating
            || right.input.updating
            || interval.is_none()
                && (kind.is_outer(0)
                    || kind.is_outer(1)
                    || matches!(kind, JoinKind::LeftAnti | JoinKind::RightAnti));
        let (left_node, right_node) = (left.stream.node, right.stream.node);
        let op = StreamingJoin {
            left: left.input,
            right: right.input,
            kind,
            nulls_equal: j.null_equality == NullEquality::NullEqualsNull,
            null_aware: j.null_aware,
            filter,
            interval: interval.map(|(b, _, _)| b),
            state_ttl: self.state_ttl,
            schema: schema.clone(),
            description,
        };
        let edge = |from, input| {
            let keys = op.exchange_keys(input);
            Edge {
                from,
                input,
                partitioning: if keys.is_empty() {
                    Partitioning::Single
                } else {
                    Partitioning::Hash(keys.to_vec())
                },
            }
        };
        let edges = vec![edge(left_node, 0), edge(right_node, 1)];
        let derive = Derive::Emits {
            updates: updating,
            upsert_key: None,
            rowtime: None,
            hashed: None,
        };
        let node = self
            .plan
            .add_operator(Arc::new(op), self.parallelism, edges, schema, derive)?;
        Ok(Stream {
            node,
            parallelism: self.parallelism,
        })
    }

    /// Plans one side of a join with its keys `keys` (expressions over
    /// `plan`): key columns are used as they are; other keys are appended
    /// by a Calc.
    pub(crate) fn join_side(&mut self, plan: &LogicalPlan, keys: &[&Expr]) -> Result<Side> {
        let stream = self.plan(plan)?;
        let schema = plan.schema();
        let width = schema.fields().len();
        let updating = self.is_updating(stream);
        let columns: Option<Vec<usize>> = keys
            .iter()
            .map(|k| match k {
                Expr::Column(c) => schema.index_of_column(c).ok(),
                _ => None,
            })
            .collect();
        if let Some(keys) = columns {
            return Ok(Side {
                stream,
                input: JoinInput {
                    schema: self.plan.nodes[stream.node].schema.clone(),
                    width,
                    keys,
                    time: None,
                    updating,
                },
            });
        }
        let mut exprs: Vec<Expr> = schema
            .iter()
            .map(|(q, f)| Expr::Column(Column::new(q.cloned(), f.name())))
            .collect();
        exprs.extend(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (*k).clone().alias(format!("__join_key{i}"))),
        );
        let keyed =
            datafusion::logical_expr::Projection::try_new(exprs.clone(), Arc::new(plan.clone()))
                .map_err(|e| self.plan_error(e.to_string()))?;
        let physical = exprs
            .iter()
            .map(|e| self.physical(e, schema))
            .collect::<Result<Vec<_>>>()?;
        let keyed_schema = nullable_schema(keyed.schema.as_arrow());
        let text: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let stream = self.add_calc(
            stream,
            None,
            Some(physical),
            keyed_schema.clone(),
            format!("Calc(joinKeys=[{}])", text.join(", ")),
        )?;
        Ok(Side {
            stream,
            input: JoinInput {
                schema: keyed_schema,
                width,
                keys: (width..width + keys.len()).collect(),
                time: None,
                updating,
            },
        })
    }

    /// The bounds an interval join's condition `filter` puts on the
    /// difference of a rowtime attribute of the left side and one of the
    /// right (both bounds needed), and those columns.
    fn time_bounds(
        &self,
        j: &datafusion::logical_expr::Join,
        filter: &Expr,
    ) -> Option<(TimeBounds, usize, usize)> {
        let (left, right) = (j.left.schema(), j.right.schema());
        // A time column plus an offset: (side, column, offset ms).
        let term = |e: &Expr| -> Option<(usize, usize, i64)> {
            let (c, offset) = match e {
                Expr::Column(c) => (c, 0),
                Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                    let (Expr::Column(c), Expr::Literal(v, _)) = (left.as_ref(), right.as_ref())
                    else {
                        return None;
                    };
                    let ms = interval_millis(v)?;
                    match op {
                        Operator::Plus => (c, ms),
                        Operator::Minus => (c, -ms),
                        _ => return None,
                    }
                }
                _ => return None,
            };
            let side = |s: &DFSchema, plan: &LogicalPlan| {
                s.index_of_column(c)
                    .ok()
                    .filter(|_| self.is_rowtime(plan, &Expr::Column(c.clone())))
            };
            match (side(left, &j.left), side(right, &j.right)) {
                (Some(i), None) => Some((0, i, offset)),
                (None, Some(i)) => Some((1, i, offset)),
                _ => None,
            }
        };
        // Per pair of time columns: the greatest lower and least upper bound.
        let mut bounds: HashMap<(usize, usize), (Option<i64>, Option<i64>)> = HashMap::new();
        let mut order = vec![];
        let mut bound = |a: &Expr, op: Operator, b: &Expr| {
            let (Some(x), Some(y)) = (term(a), term(b)) else {
                return;
            };
            // x.col + x.off  op  y.col + y.off, as left - right op v.
            let (l, r, op, v) = match (x.0, y.0) {
                (0, 1) => (x.1, y.1, op, y.2 - x.2),
                (1, 0) => match op.swap() {
                    Some(op) => (y.1, x.1, op, x.2 - y.2),
                    None => return,
                },
                _ => return,
            };
            let entry = bounds.entry((l, r)).or_insert_with(|| {
                order.push((l, r));
                (None, None)
            });
            let (lower, upper) = match op {
                Operator::GtEq => (Some(v), None),
                Operator::Gt => (Some(v + 1), None),
                Operator::LtEq => (None, Some(v)),
                Operator::Lt => (None, Some(v - 1)),
                _ => return,
            };
            if let Some(lo) = lower {
                entry.0 = Some(entry.0.map_or(lo, |e| e.max(lo)));
            }
            if let Some(up) = upper {
                entry.1 = Some(entry.1.map_or(up, |e| e.min(up)));
            }
        };
        for c in split_conjunction(filter) {
            match c {
                Expr::BinaryExpr(BinaryExpr { left, op, right }) => bound(left, *op, right),
                Expr::Between(b) if !b.negated => {
                    bound(&b.expr, Operator::GtEq, &b.low);
                    bound(&b.expr, Operator::LtEq, &b.high);
                }
                _ => {}
            }
        }
        order.into_iter().find_map(|(l, r)| match bounds[&(l, r)] {
            (Some(lower), Some(upper)) => Some((TimeBounds { lower, upper }, l, r)),
            _ => None,
        })
    }

    /// Whether `e` is a rowtime attribute of `plan`: a table's
    /// watermarked column.
    pub(crate) fn is_rowtime(&self, plan: &LogicalPlan, e: &Expr) -> bool {
        let Expr::Column(c) = e else {
            return false;
        };
        let tables = self.tables;
        super::window_columns::traces_to_table_column(plan, &c.name, &|table, column| {
            tables
                .get(table)
                .is_some_and(|t| t.def.watermark.as_ref().is_some_and(|w| w.column == column))
        })
    }
}

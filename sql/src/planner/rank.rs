//! The streaming planner's unbounded Top-N and deduplication:
//! `ROW_NUMBER() OVER (PARTITION BY k ORDER BY x) AS rn .. WHERE rn <= N`.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator};
use eddy_engine::ops::rank::Rank;

use super::{Stream, StreamPlanner};
use crate::catalog::nullable_schema;
use crate::error::Result;
use crate::stream_plan::Derive;
use eddy_engine::graph::Partitioning;

/// The `ROW_NUMBER()` of a Window node not partitioned by window columns
/// (those are window Top-N): its parameters.
pub(crate) fn row_number(w: &datafusion::logical_expr::Window) -> Option<Box<WindowFunction>> {
    let [expr] = w.window_expr.as_slice() else {
        return None;
    };
    let Expr::WindowFunction(wf) = expr.clone().unalias() else {
        return None;
    };
    matches!(&wf.fun, WindowFunctionDefinition::WindowUDF(u) if u.name() == "row_number")
        .then_some(wf)
}

/// The largest rank `predicate` keeps, when it bounds column `rn`
/// (`rn <= N`, `rn < N`, `rn = N`, also reversed, in a conjunction).
pub(crate) fn rank_limit(predicate: &Expr, rn: &str) -> Option<usize> {
    let is_rn = |e: &Expr| matches!(e, Expr::Column(c) if c.name == rn);
    let number = |e: &Expr| match e {
        Expr::Literal(v, _) => match v.cast_to(&datafusion::arrow::datatypes::DataType::Int64) {
            Ok(ScalarValue::Int64(Some(n))) => Some(n),
            _ => None,
        },
        Expr::Cast(c) => match c.expr.as_ref() {
            Expr::Literal(v, _) => {
                match v.cast_to(&datafusion::arrow::datatypes::DataType::Int64) {
                    Ok(ScalarValue::Int64(Some(n))) => Some(n),
                    _ => None,
                }
            }
            _ => None,
        },
        _ => None,
    };
    let strip = |e: &Expr| match e {
        Expr::Cast(c) => c.expr.as_ref().clone(),
        e => e.clone(),
    };
    match predicate {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (l, r) = (strip(left), strip(right));
            let bound = match op {
                Operator::And => {
                    return match (rank_limit(left, rn), rank_limit(right, rn)) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Operator::LtEq if is_rn(&l) => number(right),
                Operator::Lt if is_rn(&l) => number(right).map(|n| n.saturating_sub(1)),
                Operator::Eq if is_rn(&l) => number(right),
                Operator::GtEq if is_rn(&r) => number(left),
                Operator::Gt if is_rn(&r) => number(left).map(|n| n.saturating_sub(1)),
                Operator::Eq if is_rn(&r) => number(left),
                _ => None,
            }?;
            usize::try_from(bound).ok().filter(|n| *n >= 1)
        }
        _ => None,
    }
}

/// Whether `predicate` keeps exactly the ranks up to `limit` (`rn <= N`,
/// `rn < N + 1`, `rn = 1`), which the rank emits alone: no filter needed.
pub(crate) fn is_rank_bound(predicate: &Expr, rn: &str, limit: usize) -> bool {
    let Expr::BinaryExpr(BinaryExpr { op, .. }) = predicate else {
        return false;
    };
    match op {
        Operator::And => false,
        Operator::Eq => limit == 1 && rank_limit(predicate, rn) == Some(1),
        _ => rank_limit(predicate, rn) == Some(limit),
    }
}

impl StreamPlanner<'_> {
    /// The unbounded `ROW_NUMBER()` under a rank filter: `plan` is the
    /// Window node, or a projection of plain columns (keeping the rank)
    /// over it, which the optimizer puts there when the query reads fewer
    /// columns than it ranks by.
    pub(crate) fn top_n_window<'p>(
        &self,
        plan: &'p LogicalPlan,
    ) -> Option<(
        &'p datafusion::logical_expr::Window,
        Box<datafusion::logical_expr::expr::WindowFunction>,
        Option<&'p datafusion::logical_expr::Projection>,
    )> {
        let (w, projection) = match plan {
            LogicalPlan::Window(w) => (w, None),
            LogicalPlan::Projection(p) => match p.input.as_ref() {
                LogicalPlan::Window(w) => {
                    let rn = w.schema.field(w.schema.fields().len() - 1).name();
                    let plain = p.expr.iter().all(|e| matches!(e, Expr::Column(_)));
                    let keeps_rank = p
                        .expr
                        .iter()
                        .any(|e| matches!(e, Expr::Column(c) if &c.name == rn));
                    if !plain || !keeps_rank {
                        return None;
                    }
                    (w, Some(p))
                }
                _ => return None,
            },
            _ => return None,
        };
        if self.is_window_rank(w) {
            return None;
        }
        row_number(w).map(|wf| (w, wf, projection))
    }

    /// Unbounded Top-N over `w`, keeping ranks up to `limit`: a hash
    /// exchange on the partition keys and a [`Rank`]. Keep-last
    /// deduplication (`ORDER BY` a time attribute `DESC`, `rn = 1`) ranks
    /// the newest row first among equal times.
    pub(crate) fn plan_rank(
        &mut self,
        w: &datafusion::logical_expr::Window,
        wf: &WindowFunction,
        limit: usize,
    ) -> Result<Stream> {
        // Taken before the input is planned: a Top-N below is not ours.
        let rank_number = !std::mem::take(&mut self.rank_number_unused);
        let params = &wf.params;
        let input_schema = w.input.schema();
        let input = self.plan(&w.input)?;
        let (partition_by, partitioning) =
            self.partitioned_by(&params.partition_by, input_schema)?;
        let order_by = self.sort_keys(&params.order_by, input_schema)?;
        let newest_first_on_ties = limit == 1
            && matches!(params.order_by.as_slice(), [s] if !s.asc && self.is_time_attribute(&w.input, &s.expr));
        let schema = nullable_schema(w.schema.as_arrow());
        let op = Rank {
            partition_by,
            order_by,
            limit,
            offset: 0,
            newest_first_on_ties,
            rank_number,
            state_ttl: self.state_ttl,
            updating_input: self.is_updating(input),
            update_before: true,
            input_schema: nullable_schema(input_schema.as_arrow()),
            schema: schema.clone(),
            description: format!(
                "Rank(rankRange=[rankStart=1, rankEnd={limit}], partitionBy=[{}], orderBy=[{}])",
                params
                    .partition_by
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                params
                    .order_by
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        // The output holds the input's columns (then the rank number, if
        // kept): a partition's top row is named by the partition keys, a
        // top-N row by them and its rank.
        let keys = match &partitioning {
            Partitioning::Hash(k) => k.clone(),
            _ => vec![],
        };
        let upsert_key = if limit == 1 {
            Some(keys.clone())
        } else if rank_number {
            Some(
                keys.iter()
                    .copied()
                    .chain([schema.fields().len() - 1])
                    .collect(),
            )
        } else {
            None
        };
        let derive = Derive::Emits {
            updates: true,
            upsert_key,
            rowtime: None,
            hashed: Some(keys),
        };
        self.add_exchanged(input, Arc::new(op), partitioning, schema, derive)
    }

    /// Whether `e` is a time attribute of `plan`: a table's watermarked
    /// (rowtime) or `PROCTIME()` column.
    pub(crate) fn is_time_attribute(&self, plan: &LogicalPlan, e: &Expr) -> bool {
        let Expr::Column(c) = e else {
            return false;
        };
        let tables = self.tables;
        super::window_columns::traces_to_table_column(plan, &c.name, &|table, column| {
            table.is_empty()
                || tables.get(table).is_some_and(|t| {
                    t.is_proctime(column)
                        || t.def.watermark.as_ref().is_some_and(|w| w.column == column)
                })
        })
    }
}

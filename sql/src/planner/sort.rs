//! `ORDER BY .. LIMIT n`, `LIMIT n`, `OFFSET` and `FETCH FIRST` in a
//! streaming query, as Flink runs them: a Top-N over the whole input (a
//! [`Rank`] with no partition, at parallelism 1) that keeps ranks `m + 1`
//! to `m + n` up to date. Without `ORDER BY` the first rows to arrive stay
//! (later rows never displace them), so over an appending input the result
//! only appends. An `ORDER BY` without a limit must start with an
//! ascending time attribute, as in Flink: a [`TemporalSort`] emits rows in
//! that order as the watermark passes them.

use std::sync::Arc;

use datafusion::logical_expr::{
    Expr, FetchType, Limit, LogicalPlan, Projection, SkipType, SortExpr,
};
use eddy_engine::graph::Partitioning;
use eddy_engine::ops::materialize::Materialize;
use eddy_engine::ops::rank::Rank;
use eddy_engine::ops::sort::TemporalSort;

use super::{Stream, StreamPlanner};
use crate::catalog::nullable_schema;
use crate::error::Result;
use crate::stream_plan::Derive;

impl StreamPlanner<'_> {
    /// `LIMIT`/`OFFSET` over `l.input`, with the order of a Sort under it.
    pub(crate) fn plan_limit(&mut self, l: &Limit) -> Result<Stream> {
        let offset = match l.get_skip_type() {
            Ok(SkipType::Literal(n)) => n,
            _ => return Err(self.not_supported("OFFSET of other than a constant")),
        };
        let fetch = match l.get_fetch_type() {
            Ok(FetchType::Literal(Some(n))) => n,
            Ok(FetchType::Literal(None)) => {
                return Err(self.not_supported("OFFSET without LIMIT in a streaming query"));
            }
            _ => return Err(self.not_supported("LIMIT of other than a constant")),
        };
        match l.input.as_ref() {
            LogicalPlan::Sort(s) => self.plan_top_n(&s.input, &s.expr, offset, fetch),
            // A projection between: the limit goes under it (a projection
            // keeps the rows and their order).
            LogicalPlan::Projection(p) if matches!(p.input.as_ref(), LogicalPlan::Sort(_)) => {
                let limited = LogicalPlan::Limit(Limit {
                    skip: l.skip.clone(),
                    fetch: l.fetch.clone(),
                    input: p.input.clone(),
                });
                let swapped = Projection::try_new(p.expr.clone(), Arc::new(limited))
                    .map_err(|e| self.plan_error(e.to_string()))?;
                self.plan(&LogicalPlan::Projection(swapped))
            }
            other => self.plan_top_n(other, &[], offset, fetch),
        }
    }

    /// A Sort: with a fetch, a Top-N; without, Flink's rules for a
    /// streaming sort.
    pub(crate) fn plan_sort(&mut self, s: &datafusion::logical_expr::Sort) -> Result<Stream> {
        if let Some(fetch) = s.fetch {
            return self.plan_top_n(&s.input, &s.expr, 0, fetch);
        }
        if self.batch {
            let input = self.plan(&s.input)?;
            return self.add_materialize(input, &s.expr, s.input.schema());
        }
        let first = &s.expr[0];
        // Flink's words, also for a descending time attribute.
        if !first.asc || !self.is_time_attribute(&s.input, &first.expr) {
            return Err(self.plan_error("Sort on a non-time-attribute field is not supported."));
        }
        if !self.is_rowtime(&s.input, &first.expr) {
            return Err(self.not_supported("ORDER BY a processing-time attribute"));
        }
        let schema = s.input.schema();
        let time = match &first.expr {
            Expr::Column(c) => schema
                .index_of_column(c)
                .map_err(|e| self.plan_error(e.to_string()))?,
            _ => {
                return Err(self.plan_error("Sort on a non-time-attribute field is not supported."));
            }
        };
        let input = self.plan(&s.input)?;
        if self.is_updating(input) {
            return Err(self.not_supported("ORDER BY a time attribute over an updating input"));
        }
        let then_by = self.sort_keys(&s.expr[1..], schema)?;
        let output = nullable_schema(schema.as_arrow());
        let order_text: Vec<String> = s.expr.iter().map(|e| e.to_string()).collect();
        let op = TemporalSort {
            time,
            then_by,
            schema: output.clone(),
            description: format!("TemporalSort(orderBy=[{}])", order_text.join(", ")),
        };
        let derive = Derive::Emits {
            updates: false,
            upsert_key: None,
            rowtime: Some(time),
            hashed: None,
        };
        self.add_exchanged(input, Arc::new(op), Partitioning::Single, output, derive)
    }

    /// Ranks `offset + 1` to `offset + fetch` of `input` in `order` (the
    /// arrival order without one), kept up to date.
    fn plan_top_n(
        &mut self,
        input: &LogicalPlan,
        order: &[SortExpr],
        offset: usize,
        fetch: usize,
    ) -> Result<Stream> {
        let input_schema = input.schema();
        let stream = self.plan(input)?;
        let order_by = self.sort_keys(order, input_schema)?;
        let schema = nullable_schema(input_schema.as_arrow());
        let updating_input = self.is_updating(stream);
        let order_text: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        let op = Rank {
            partition_by: vec![],
            order_by,
            limit: offset + fetch,
            offset,
            newest_first_on_ties: false,
            rank_number: false,
            state_ttl: self.state_ttl,
            updating_input,
            update_before: true,
            input_schema: schema.clone(),
            schema: schema.clone(),
            description: format!(
                "SortLimit(orderBy=[{}], offset=[{offset}], fetch=[{fetch}])",
                order_text.join(", ")
            ),
        };
        // The first rows to arrive never leave a LIMIT without ORDER BY
        // over an appending input.
        let derive = Derive::Emits {
            updates: !order.is_empty() || updating_input,
            upsert_key: None,
            rowtime: None,
            hashed: Some(vec![]),
        };
        let top = self.add_exchanged(stream, Arc::new(op), Partitioning::Single, schema, derive)?;
        match self.batch && !order.is_empty() {
            // A batch result comes sorted.
            true => self.add_materialize(top, order, input_schema),
            false => Ok(top),
        }
    }

    /// Batch mode's final result of `input` (columns of `schema`) in
    /// arrival order, on each of its subtasks (a row's changes all come
    /// the way its key was hashed).
    pub(crate) fn add_final(
        &mut self,
        input: Stream,
        schema: &datafusion::common::DFSchema,
    ) -> Result<Stream> {
        let output = nullable_schema(schema.as_arrow());
        let op = Materialize {
            order_by: vec![],
            schema: output.clone(),
            description: "Materialize".into(),
        };
        self.add_forward(input, Arc::new(op), output, Derive::inserts())
    }

    /// Batch mode's final result of `input` (columns of `schema`), sorted
    /// by `order` if any: a [`Materialize`] at parallelism 1.
    pub(crate) fn add_materialize(
        &mut self,
        input: Stream,
        order: &[SortExpr],
        schema: &datafusion::common::DFSchema,
    ) -> Result<Stream> {
        let order_by = self.sort_keys(order, schema)?;
        let output = nullable_schema(schema.as_arrow());
        let order_text: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        let op = Materialize {
            order_by,
            schema: output.clone(),
            description: format!("Materialize(orderBy=[{}])", order_text.join(", ")),
        };
        let derive = Derive::Emits {
            updates: false,
            upsert_key: None,
            rowtime: None,
            hashed: None,
        };
        self.add_exchanged(input, Arc::new(op), Partitioning::Single, output, derive)
    }
}

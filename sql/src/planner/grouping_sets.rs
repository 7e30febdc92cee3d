//! `GROUPING SETS`, `ROLLUP` and `CUBE` as Flink plans them: an Expand
//! giving each input row once per grouping set (the keys outside the set
//! NULL, and the set's id), then one aggregation keyed by every key and the
//! id. Here the Expand is a UNION ALL of one projection per set, so the
//! aggregation that follows is an ordinary one (unbounded or windowed, with
//! its state, exchange and changelog) and needs nothing of its own.
//!
//! The id is DataFusion's `__grouping_id` (a bit per key, set where the key
//! is outside the set, the first key highest; a repeated set numbered above
//! those bits), which DataFusion's `GROUPING(..)` reads.

use std::sync::Arc;

use datafusion::common::{Column, Result, ScalarValue};
use datafusion::logical_expr::{
    Aggregate, Expr, GroupingSet, LogicalPlan, LogicalPlanBuilder, Projection,
};

/// The name of key `j` in the expanded input.
fn key_name(j: usize) -> String {
    format!("__eddy_grouping_key{j}")
}

/// The name of input column `i` in the union.
fn column_name(i: usize) -> String {
    format!("__eddy_grouping_column{i}")
}

/// The aggregation `a` over an Expand of its input, when `a` groups by
/// grouping sets; its output schema is `a`'s.
pub(crate) fn expand(a: &Aggregate) -> Result<Option<Aggregate>> {
    let [Expr::GroupingSet(set)] = a.group_expr.as_slice() else {
        return Ok(None);
    };
    let keys: Vec<Expr> = set.distinct_expr().into_iter().cloned().collect();
    let n = keys.len();
    let sets: Vec<Vec<Expr>> = match set {
        GroupingSet::GroupingSets(sets) => sets.clone(),
        GroupingSet::Rollup(e) => (0..=e.len()).rev().map(|i| e[..i].to_vec()).collect(),
        GroupingSet::Cube(e) => (0..1usize << e.len())
            .map(|m| {
                (0..e.len())
                    .filter(|j| m & (1 << j) != 0)
                    .map(|j| e[j].clone())
                    .collect()
            })
            .collect(),
    };
    let schema = a.schema.as_arrow();
    let id_type = schema.field(n).data_type().clone();
    let mut branches = Vec::with_capacity(sets.len());
    for (k, s) in sets.iter().enumerate() {
        let mask = (0..n)
            .filter(|j| !s.contains(&keys[*j]))
            .fold(0u64, |m, j| m | 1 << (n - 1 - j));
        let ordinal = sets[..k].iter().filter(|p| *p == s).count() as u64;
        let id = ScalarValue::UInt64(Some(mask | ordinal << n)).cast_to(&id_type)?;
        let mut exprs: Vec<Expr> = keys
            .iter()
            .enumerate()
            .map(|(j, key)| {
                let value = if s.contains(key) {
                    key.clone()
                } else {
                    let null = ScalarValue::try_from(schema.field(j).data_type())?;
                    Expr::Literal(null, None)
                };
                Ok(value.alias(key_name(j)))
            })
            .collect::<Result<_>>()?;
        exprs.push(Expr::Literal(id, None).alias(Aggregate::INTERNAL_GROUPING_ID));
        // The input's columns by position (a union names its columns by
        // its first input's names, without qualifiers).
        exprs.extend(a.input.schema().iter().enumerate().map(|(i, (q, f))| {
            Expr::Column(Column::new(q.cloned(), f.name())).alias(column_name(i))
        }));
        branches.push(LogicalPlan::Projection(Projection::try_new(
            exprs,
            a.input.clone(),
        )?));
    }
    let mut union = LogicalPlanBuilder::from(branches.remove(0));
    for b in branches {
        union = union.union(b)?;
    }
    // The input's columns under their own names again, for the calls.
    let names = (0..n)
        .map(key_name)
        .chain([Aggregate::INTERNAL_GROUPING_ID.to_string()])
        .map(|name| Expr::Column(Column::from_name(name)))
        .chain(a.input.schema().iter().enumerate().map(|(i, (q, f))| {
            Expr::Column(Column::from_name(column_name(i))).alias_qualified(q.cloned(), f.name())
        }))
        .collect::<Vec<_>>();
    let union = union.project(names)?;
    let group = (0..n)
        .map(|j| Expr::Column(Column::from_name(key_name(j))))
        .chain([Expr::Column(Column::from_name(
            Aggregate::INTERNAL_GROUPING_ID,
        ))])
        .collect();
    Aggregate::try_new_with_schema(
        Arc::new(union.build()?),
        group,
        a.aggr_expr.clone(),
        a.schema.clone(),
    )
    .map(Some)
}

//! Which columns of a plan are window columns (`window_start`,
//! `window_end`, `window_time` of a window table function), traced through
//! projections, aliases, filters, window aggregations and joins, so they
//! stay window columns under other names (`window_start AS starttime`) and
//! after a window aggregation (cascaded windows); and what the windows are:
//! a SESSION gap, or the slicing of HOP and CUMULATE windows.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, JoinType, ScalarValue};
use datafusion::logical_expr::{Expr, LogicalPlan, ScalarUDF};
use eddy_engine::ops::window::slicing::Slicing;

/// A window column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowColumn {
    Start,
    End,
    Time,
}

impl WindowColumn {
    /// The window column a window table function names `name`.
    fn named(name: &str) -> Option<Self> {
        match name {
            "window_start" => Some(Self::Start),
            "window_end" => Some(Self::End),
            "window_time" => Some(Self::Time),
            _ => None,
        }
    }
}

/// The window column `e` (a column of `plan`) is, if any.
pub(crate) fn window_column(plan: &LogicalPlan, e: &Expr) -> Option<WindowColumn> {
    let Expr::Column(c) = e else {
        return None;
    };
    let i = plan.schema().index_of_column(c).ok()?;
    window_column_at(plan, i)
}

/// The window column field `i` of `plan` is, if any.
fn window_column_at(plan: &LogicalPlan, i: usize) -> Option<WindowColumn> {
    let input_column = |input: &LogicalPlan, c: &Column| {
        input
            .schema()
            .index_of_column(c)
            .ok()
            .and_then(|j| window_column_at(input, j))
    };
    match plan {
        LogicalPlan::Projection(p) => {
            let traced = match p.expr.get(i)?.clone().unalias() {
                Expr::Column(c) => input_column(&p.input, &c),
                _ => None,
            };
            // A window table function computes its window columns.
            traced.or_else(|| WindowColumn::named(p.schema.field(i).name()))
        }
        LogicalPlan::Filter(f) => window_column_at(&f.input, i),
        LogicalPlan::SubqueryAlias(a) => window_column_at(&a.input, i),
        LogicalPlan::Aggregate(a) => match a.group_expr.get(i)? {
            Expr::Column(c) => input_column(&a.input, c),
            _ => None,
        },
        LogicalPlan::Window(w) => (i < w.input.schema().fields().len())
            .then(|| window_column_at(&w.input, i))
            .flatten(),
        LogicalPlan::Join(j)
            if matches!(
                j.join_type,
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full
            ) =>
        {
            let left = j.left.schema().fields().len();
            if i < left {
                window_column_at(&j.left, i)
            } else {
                window_column_at(&j.right, i - left)
            }
        }
        LogicalPlan::Join(j) => match j.join_type {
            JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
                window_column_at(&j.left, i)
            }
            JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                window_column_at(&j.right, i)
            }
            _ => None,
        },
        // A window column in every input (the Expand of grouping sets).
        LogicalPlan::Union(u) => {
            let mut roles = u.inputs.iter().map(|input| window_column_at(input, i));
            let first = roles.next()??;
            roles.all(|r| r == Some(first)).then_some(first)
        }
        LogicalPlan::Unnest(u) => {
            let dep = *u.dependency_indices.get(i)?;
            let unnested = u.list_type_columns.iter().any(|(c, _)| *c == dep)
                || u.struct_type_columns.contains(&dep);
            (!unnested)
                .then(|| window_column_at(&u.input, dep))
                .flatten()
        }
        _ => None,
    }
}

/// The gap (ms) when `e` (a column of `plan`) is the `window_end` of a
/// SESSION table function, found through projections, filters and aliases.
pub(crate) fn session_gap(plan: &LogicalPlan, e: &Expr) -> Option<i64> {
    let Expr::Column(c) = e else {
        return None;
    };
    let i = plan.schema().index_of_column(c).ok()?;
    session_gap_at(plan, i)
}

fn session_gap_at(plan: &LogicalPlan, i: usize) -> Option<i64> {
    match plan {
        LogicalPlan::Projection(p) => match p.expr.get(i)?.clone().unalias() {
            Expr::ScalarFunction(f) if f.name() == crate::functions::SESSION_END => {
                match f.args.get(1)? {
                    Expr::Literal(ScalarValue::Int64(Some(g)), _) => Some(*g),
                    _ => None,
                }
            }
            e @ Expr::Column(_) => session_gap(&p.input, &e),
            _ => None,
        },
        LogicalPlan::Filter(f) => session_gap_at(&f.input, i),
        LogicalPlan::SubqueryAlias(a) => session_gap_at(&a.input, i),
        _ => None,
    }
}

/// For a window aggregation over HOP or CUMULATE windows (one input row
/// per window, from unnesting the list of the row's windows), the slicing
/// and the aggregation's input with each row once, holding its slice end
/// where the unnested window was: a `SlicingWindowAggregate` then
/// aggregates each row once. `None` when the aggregation is over other
/// windows or uses the window columns other than as plain group keys (then
/// the rows per window are aggregated as they are).
pub(crate) fn sliced_input(
    a: &datafusion::logical_expr::Aggregate,
    slice_end: &Arc<ScalarUDF>,
) -> Option<(Slicing, Arc<LogicalPlan>)> {
    let derived = derived_from_windows(&a.input)?;
    // Every column computed from the windows is a window column ..
    let input_schema = a.input.schema();
    for name in &derived {
        let i = input_schema
            .fields()
            .iter()
            .position(|f| f.name() == name)?;
        window_column_at(&a.input, i)?;
    }
    // .. used only as a plain group key.
    let uses = |e: &Expr| e.column_refs().iter().any(|c| derived.contains(&c.name));
    for e in &a.group_expr {
        if !matches!(e, Expr::Column(_)) && uses(e) {
            return None;
        }
    }
    if a.aggr_expr.iter().any(uses) {
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
                        .transform(|e| {
                            match window_list(&e)
                                .and_then(|(s, ts)| Some((s, slice_end_call(slice_end, s, ts)?)))
                            {
                                Some((s, call)) => {
                                    found = Some(s);
                                    Ok(Transformed::yes(call))
                                }
                                None => Ok(Transformed::no(e)),
                            }
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

/// `SLICE_END(ts, ..)` giving, in place of the unnested window column, the
/// value it has for the row's last slice: the slice end itself (CUMULATE's
/// `window_end`) or the slice end less the size (HOP's `window_start`).
fn slice_end_call(slice_end: &Arc<ScalarUDF>, slicing: Slicing, ts: Expr) -> Option<Expr> {
    let (slice, offset, shift) = match slicing {
        Slicing::Given => return None,
        Slicing::Hop {
            slide,
            size,
            offset,
        } => (slide, offset, -size),
        Slicing::Cumulate { step, offset, .. } => (step, offset, 0),
    };
    let args = [slice, offset, shift]
        .into_iter()
        .map(|v| Expr::Literal(ScalarValue::Int64(Some(v)), None));
    Some(Expr::ScalarFunction(
        datafusion::logical_expr::expr::ScalarFunction::new_udf(
            slice_end.clone(),
            std::iter::once(ts).chain(args).collect(),
        ),
    ))
}

/// The columns of `plan` computed from an unnested list of windows, when
/// every node between is a projection, filter (not on those columns) or
/// alias; `None` otherwise or when there is no such list.
fn derived_from_windows(plan: &LogicalPlan) -> Option<HashSet<String>> {
    let uses =
        |e: &Expr, set: &HashSet<String>| e.column_refs().iter().any(|c| set.contains(&c.name));
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
            let j = u.dependency_indices.iter().position(|d| d == column)?;
            Some([u.schema.field(j).name().clone()].into())
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

/// Whether the windows aggregated over `input` are of processing time: the
/// time column of its window table function is a `PROCTIME()` column.
/// `is_proctime(table, column)` tells the columns of tables.
pub(crate) fn on_processing_time(
    input: &LogicalPlan,
    is_proctime: &dyn Fn(&str, &str) -> bool,
) -> bool {
    time_argument(input)
        .is_some_and(|(plan, column)| traces_to_table_column(plan, &column, is_proctime))
}

/// The time column a window function (TUMBLE's, HOP's, CUMULATE's or
/// SESSION's) is called on in `plan`, with the plan it is a column of.
fn time_argument(plan: &LogicalPlan) -> Option<(&LogicalPlan, String)> {
    const WINDOW_FUNCTIONS: [&str; 4] = [
        crate::functions::SLICE_END,
        crate::functions::HOP_STARTS,
        crate::functions::CUMULATE_ENDS,
        crate::functions::SESSION_END,
    ];
    match plan {
        LogicalPlan::Projection(p) => {
            let mut found = None;
            for e in &p.expr {
                let _ = e.apply(|e| {
                    if let Expr::ScalarFunction(f) = e
                        && WINDOW_FUNCTIONS.contains(&f.name())
                        && let Some(Expr::Column(c)) = f.args.first().map(uncast)
                    {
                        found = Some(c.name);
                        return Ok(datafusion::common::tree_node::TreeNodeRecursion::Stop);
                    }
                    Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
                });
                if found.is_some() {
                    break;
                }
            }
            match found {
                Some(name) => Some((p.input.as_ref(), name)),
                None => time_argument(&p.input),
            }
        }
        LogicalPlan::Filter(f) => time_argument(&f.input),
        LogicalPlan::SubqueryAlias(a) => time_argument(&a.input),
        LogicalPlan::Unnest(u) => time_argument(&u.input),
        _ => None,
    }
}

/// Whether column `name` of `plan` is a column of a table for which
/// `is_wanted(table, column)` holds, through projections, filters, aliases,
/// OVER windows and views. A `PROCTIME()` call in a projection is asked
/// as table `""`, column [`crate::functions::PROCTIME`].
pub(crate) fn traces_to_table_column(
    plan: &LogicalPlan,
    name: &str,
    is_wanted: &dyn Fn(&str, &str) -> bool,
) -> bool {
    match plan {
        LogicalPlan::Projection(p) => {
            let Some(i) = p.schema.fields().iter().position(|f| f.name() == name) else {
                return false;
            };
            match uncast(&p.expr[i]) {
                Expr::Column(c) => traces_to_table_column(&p.input, &c.name, is_wanted),
                Expr::ScalarFunction(f) => {
                    f.name() == crate::functions::PROCTIME
                        && is_wanted("", crate::functions::PROCTIME)
                }
                _ => false,
            }
        }
        LogicalPlan::Filter(f) => traces_to_table_column(&f.input, name, is_wanted),
        LogicalPlan::SubqueryAlias(a) => traces_to_table_column(&a.input, name, is_wanted),
        // OVER aggregations and ranks pass their input's columns on.
        LogicalPlan::Window(w) => traces_to_table_column(&w.input, name, is_wanted),
        LogicalPlan::TableScan(scan) => {
            let Ok(provider) = datafusion::datasource::source_as_provider(&scan.source) else {
                return false;
            };
            match (provider.as_ref() as &dyn std::any::Any)
                .downcast_ref::<datafusion::datasource::ViewTable>()
            {
                Some(view) => traces_to_table_column(view.logical_plan(), name, is_wanted),
                None => is_wanted(scan.table_name.table(), name),
            }
        }
        _ => false,
    }
}

/// `e` without aliases and casts around it.
fn uncast(e: &Expr) -> Expr {
    match e.clone().unalias() {
        Expr::Cast(c) => uncast(&c.expr),
        Expr::TryCast(c) => uncast(&c.expr),
        e => e,
    }
}

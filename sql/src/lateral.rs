//! Flink's `CROSS JOIN UNNEST(e) [WITH ORDINALITY] AS t(c1, ..)`,
//! `FROM r, UNNEST(e) AS t(..)` and `LEFT JOIN UNNEST(..) AS t(..) ON TRUE`,
//! and the same forms of `LATERAL TABLE(f(..))` with a user-defined table
//! function, which [`table_functions`] first writes as an UNNEST of the
//! rows the function gives (an ARRAY of ROWs, see [`crate::udf`]).
//!
//! Two steps. Before DataFusion plans the query, [`unnest_columns`] writes
//! each `UNNEST(e) AS t(c1, .., cn)` as DataFusion's UNNEST of `n` lists
//! side by side, one per column Flink gives (the element, each field of a
//! ROW element, a MAP's key and value, the ordinal), so that the aliases
//! fit. DataFusion plans such a relation as a join with a correlated
//! subquery (the UNNEST reads the left row's columns); after planning,
//! [`decorrelate_unnest`] replaces the join by the subquery's own plan run
//! over the left input: the left row's columns carried through each of its
//! projections, then one [`Unnest`](datafusion::logical_expr::Unnest) of
//! the lists, which the streaming planner runs as a stateless operator.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, NullHandling, Result, UnnestOptions, not_impl_err};
use datafusion::logical_expr::expr_rewriter::normalize_col;
use datafusion::logical_expr::logical_plan::builder::unnest_with_options;
use datafusion::logical_expr::{
    Expr, Filter, Join, JoinType, LogicalPlan, Projection, Subquery, SubqueryAlias,
};
use datafusion::sql::sqlparser::ast::{self, VisitMut, VisitorMut};

use crate::functions::UNNEST_PART;

/// Writes each `LATERAL TABLE(f(args)) [AS t[(c1, ..)]]` of `query` as
/// `UNNEST(__eddy_table_function_f(args)) AS t(c1, ..)`, naming the
/// columns after the function's (`fields` gives them, by function name)
/// where the query does not.
pub fn table_functions(
    query: &mut ast::Query,
    fields: &dyn Fn(&str) -> Option<Vec<String>>,
) -> std::result::Result<(), String> {
    struct Lateral<'a> {
        fields: &'a dyn Fn(&str) -> Option<Vec<String>>,
    }
    impl VisitorMut for Lateral<'_> {
        type Break = String;
        fn pre_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<String> {
            let ast::TableFactor::Function {
                lateral: true,
                name,
                args,
                alias,
                ..
            } = factor
            else {
                return ControlFlow::Continue(());
            };
            if !name.to_string().eq_ignore_ascii_case("TABLE") {
                return ControlFlow::Continue(());
            }
            let call = match args.as_slice() {
                [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Function(f)))] => {
                    f.clone()
                }
                _ => {
                    return ControlFlow::Break(
                        "LATERAL TABLE takes a call of a table function, as in LATERAL TABLE(f(x))"
                            .into(),
                    );
                }
            };
            let function = match call.name.0.as_slice() {
                [ast::ObjectNamePart::Identifier(id)] => id.value.to_ascii_lowercase(),
                _ => call.name.to_string(),
            };
            let Some(columns) = (self.fields)(&function) else {
                return ControlFlow::Break(format!(
                    "No table function named {function}: register one with \
                     create_temporary_function (a TableFunction) or \
                     CREATE FUNCTION .. LANGUAGE PYTHON"
                ));
            };
            let mut call = call;
            call.name = ast::ObjectName::from(vec![ast::Ident::new(format!(
                "{}{function}",
                crate::udf::TABLE_FUNCTION_PREFIX
            ))]);
            let mut alias = alias.take().unwrap_or_else(|| ast::TableAlias {
                explicit: true,
                name: ast::Ident::new(function.clone()),
                columns: vec![],
                at: None,
            });
            if alias.columns.is_empty() {
                alias.columns = columns
                    .into_iter()
                    .map(ast::TableAliasColumnDef::from_name)
                    .collect();
            }
            *factor = ast::TableFactor::UNNEST {
                alias: Some(alias),
                array_exprs: vec![ast::Expr::Function(call)],
                with_offset: false,
                with_offset_alias: None,
                with_ordinality: false,
            };
            ControlFlow::Continue(())
        }
    }
    match query.visit(&mut Lateral { fields }) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// `left` joined with the rows of a table function's `call` on each of
/// its rows (the Table API's `joinLateral`): `left`'s columns, then the
/// function's. With `keep_unmatched`, a row the function gives no rows
/// for is kept with NULLs (`leftOuterJoinLateral`).
pub fn join_lateral(left: LogicalPlan, call: Expr, keep_unmatched: bool) -> Result<LogicalPlan> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ExprSchemable, LogicalPlanBuilder, lit};
    let named = matches!(&call, Expr::ScalarFunction(f)
        if f.name().starts_with(crate::udf::TABLE_FUNCTION_PREFIX));
    let fields = match call.get_type(left.schema())? {
        DataType::List(f) if named => match f.data_type() {
            DataType::Struct(fields) => fields.clone(),
            _ => return datafusion::common::plan_err!("not a table function: {call}"),
        },
        _ => return datafusion::common::plan_err!("not a call of a table function: {call}"),
    };
    let part = Arc::new(crate::functions::unnest_part());
    let n = fields.len() as i64;
    let own = fields.iter().enumerate().map(|(i, f)| {
        let args = vec![call.clone(), lit(i as i64), lit(n), lit(false)];
        Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
            part.clone(),
            args,
        ))
        .alias(f.name())
    });
    let exprs = left_columns(&left).chain(own).collect::<Vec<_>>();
    let columns = fields.iter().map(|f| Column::from_name(f.name())).collect();
    let options = UnnestOptions {
        null_handling: if keep_unmatched {
            NullHandling::PreserveAndExpandEmpty
        } else {
            NullHandling::Drop
        },
        ..Default::default()
    };
    LogicalPlanBuilder::from(left)
        .project(exprs)?
        .unnest_columns_with_options(columns, options)?
        .build()
}

/// Writes each `UNNEST(e) [WITH ORDINALITY] AS t(c1, .., cn)` of `query` as
/// `UNNEST(__eddy_unnest_part(e, 0, n, o), .., __eddy_unnest_part(e, n-1, n, o)) AS t(c1, .., cn)`.
/// An UNNEST without column aliases is left to DataFusion (one column).
pub fn unnest_columns(query: &mut ast::Query) {
    struct Columns;
    impl VisitorMut for Columns {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<()> {
            if let ast::TableFactor::UNNEST {
                alias: Some(alias),
                array_exprs,
                with_offset: false,
                with_ordinality,
                ..
            } = factor
                && let [array] = array_exprs.as_slice()
                && !alias.columns.is_empty()
            {
                let n = alias.columns.len();
                let number = |v: usize| ast::Expr::value(ast::Value::Number(v.to_string(), false));
                let flag = ast::Expr::value(ast::Value::Boolean(*with_ordinality));
                *array_exprs = (0..n)
                    .map(|i| {
                        let args = [array.clone(), number(i), number(n), flag.clone()];
                        crate::rewrite::call(UNNEST_PART, args.to_vec())
                    })
                    .collect();
                *with_ordinality = false;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = query.visit(&mut Columns);
}

/// Replaces each join of a relation with a correlated UNNEST (see the
/// module's text) by the UNNEST run over the join's left input.
pub fn decorrelate_unnest(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::Join(join) if correlated(&join.right).is_some() => {
            unnest_join(join).map(Transformed::yes)
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// The correlated subquery a join's right side is, and the alias over it.
fn correlated(right: &LogicalPlan) -> Option<(&Subquery, Option<&SubqueryAlias>)> {
    match right {
        LogicalPlan::Subquery(s) => Some((s, None)),
        LogicalPlan::SubqueryAlias(a) => match a.input.as_ref() {
            LogicalPlan::Subquery(s) => Some((s, Some(a))),
            _ => None,
        },
        _ => None,
    }
}

fn unnest_join(join: Join) -> Result<LogicalPlan> {
    let null_handling = match join.join_type {
        JoinType::Inner => NullHandling::Drop,
        // A row whose list is NULL or empty is kept, with NULL elements.
        JoinType::Left => NullHandling::PreserveAndExpandEmpty,
        other => return not_impl_err!("a {other} JOIN with a lateral UNNEST"),
    };
    let always = |f: &Option<Expr>| {
        f.as_ref()
            .is_none_or(|e| matches!(e, Expr::Literal(v, _) if v == &true.into()))
    };
    if !join.on.is_empty() || (join.join_type == JoinType::Left && !always(&join.filter)) {
        return not_impl_err!(
            "LEFT JOIN UNNEST with a condition: Flink allows only LEFT JOIN UNNEST(..) ON TRUE"
        );
    }
    let (subquery, alias) = correlated(&join.right).expect("checked by the caller");
    let left = join.left.as_ref();
    let mut plan = over_left(&subquery.subquery, left, null_handling)?;
    if let Some(alias) = alias {
        plan = requalify(plan, left, alias)?;
    }
    match join.filter {
        Some(f) if !always(&Some(f.clone())) => {
            Ok(LogicalPlan::Filter(Filter::try_new(f, Arc::new(plan))?))
        }
        _ => Ok(plan),
    }
}

/// The qualifier of a lateral subquery's columns until its alias names them.
const OWN: &str = "__eddy_lateral";

/// `plan` (a correlated UNNEST's subquery) run over `left`: its empty input
/// replaced by `left`, its outer references by `left`'s columns, and
/// `left`'s columns carried through it, ahead of its own.
fn over_left(plan: &LogicalPlan, left: &LogicalPlan, nulls: NullHandling) -> Result<LogicalPlan> {
    match plan {
        LogicalPlan::EmptyRelation(e) if e.produce_one_row => Ok(left.clone()),
        LogicalPlan::Projection(p) => {
            let input = over_left(&p.input, left, nulls)?;
            // The subquery's own columns under a qualifier of their own:
            // a column alias may repeat a name of `left`'s.
            let own = p
                .expr
                .iter()
                .zip(p.schema.iter())
                .map(|(e, (q, f))| {
                    let e = e
                        .clone()
                        .transform(|e| match e {
                            Expr::OuterReferenceColumn(_, c) => {
                                Ok(Transformed::yes(Expr::Column(c)))
                            }
                            e => Ok(Transformed::no(e)),
                        })
                        .map(|t| t.data)?;
                    let e = normalize_col(e.unalias(), &input)?;
                    let q = q.cloned().unwrap_or_else(|| OWN.into());
                    Ok(e.alias_qualified(Some(q), f.name()))
                })
                .collect::<Result<Vec<_>>>()?;
            let exprs = left_columns(left).chain(own).collect();
            Ok(LogicalPlan::Projection(Projection::try_new(
                exprs,
                Arc::new(input),
            )?))
        }
        LogicalPlan::Unnest(u) => {
            let input = over_left(&u.input, left, nulls)?;
            let qualified = |c: &Column| match normalize_col(Expr::Column(c.clone()), &input)? {
                Expr::Column(c) => Ok(c),
                _ => Ok(c.clone()),
            };
            let mut options = UnnestOptions {
                null_handling: nulls,
                ..u.options.clone()
            };
            for r in options.recursions.iter_mut() {
                r.input_column = qualified(&r.input_column)?;
            }
            let columns = u
                .exec_columns
                .iter()
                .map(qualified)
                .collect::<Result<Vec<_>>>()?;
            unnest_with_options(input, columns, options)
        }
        LogicalPlan::SubqueryAlias(a) => {
            let input = over_left(&a.input, left, nulls)?;
            requalify(input, left, a)
        }
        other => not_impl_err!(
            "a lateral subquery other than UNNEST (found {})",
            other.display()
        ),
    }
}

/// `left`'s columns, then `plan`'s others under `alias`'s name.
fn requalify(plan: LogicalPlan, left: &LogicalPlan, alias: &SubqueryAlias) -> Result<LogicalPlan> {
    let carried = left.schema().fields().len();
    let own = plan
        .schema()
        .iter()
        .skip(carried)
        .map(|(q, f)| {
            Expr::Column(Column::new(q.cloned(), f.name()))
                .alias_qualified(Some(alias.alias.clone()), f.name())
        })
        .collect::<Vec<_>>();
    let exprs = left_columns(left).chain(own).collect();
    Ok(LogicalPlan::Projection(Projection::try_new(
        exprs,
        Arc::new(plan),
    )?))
}

fn left_columns(left: &LogicalPlan) -> impl Iterator<Item = Expr> + '_ {
    left.schema()
        .iter()
        .map(|(q, f)| Expr::Column(Column::new(q.cloned(), f.name())))
}

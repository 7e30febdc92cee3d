//! Lowering a stream plan to the engine's job graph, and the plan as
//! EXPLAIN prints it.

use std::fmt::Write as _;

use eddy_engine::graph::{JobGraph, NodeKind};

use super::{Distribution, StreamPlan};
use crate::error::{Result, SqlError};

impl StreamPlan {
    /// The job graph that runs this plan: the same nodes (and ids), edges
    /// and job-wide settings, without the SQL-side properties.
    pub fn lower(&self) -> Result<JobGraph> {
        let mut graph = JobGraph::new(self.name.clone());
        graph.idle_timeout = self.idle_timeout;
        for n in &self.nodes {
            let id = match &n.kind {
                NodeKind::Source { factory, prelude } => graph.add_source(
                    factory.clone(),
                    prelude.clone(),
                    n.parallelism,
                    n.schema.clone(),
                ),
                NodeKind::Operator(factory) => graph
                    .add_operator(
                        factory.clone(),
                        n.parallelism,
                        n.inputs.clone(),
                        n.schema.clone(),
                    )
                    .map_err(|e| SqlError::Plan {
                        location: Default::default(),
                        message: format!("internal planning error: {e}"),
                    })?,
            };
            debug_assert_eq!(id, n.id);
        }
        graph.late_rows = self.late_rows.clone();
        Ok(graph)
    }

    /// The plan as EXPLAIN prints it: a line per node with its
    /// parallelism and properties (Flink's names where Flink has them), and
    /// its inputs, chained ones marked (as `graph`, the lowered plan,
    /// chains them).
    pub fn explain(&self, graph: &JobGraph) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            let column = |c: &usize| {
                n.schema
                    .fields()
                    .get(*c)
                    .map_or_else(|| format!("${c}"), |f| f.name().clone())
            };
            let columns = |cs: &[usize]| cs.iter().map(column).collect::<Vec<_>>().join(", ");
            let _ = write!(
                out,
                "#{} {} [parallelism={}, changelogMode=[{}]",
                n.id,
                n.name(),
                n.parallelism,
                n.props.changelog.flink_name()
            );
            if let Some(k) = &n.props.upsert_key {
                let _ = write!(out, ", upsertKeys=[[{}]]", columns(k));
            }
            if let Some(t) = &n.props.rowtime {
                let _ = write!(out, ", rowtime=[{}]", column(t));
            }
            // How the rows are spread matters where there is a choice.
            match &n.props.distribution {
                _ if n.parallelism == 1 => {}
                Distribution::Any => {}
                Distribution::Single => out.push_str(", distribution=[single]"),
                Distribution::Hash(k) => {
                    let _ = write!(out, ", distribution=[hash[{}]]", columns(k));
                }
            }
            out.push(']');
            out.push_str(&graph.inputs_text(n.id));
            out.push('\n');
        }
        out
    }
}

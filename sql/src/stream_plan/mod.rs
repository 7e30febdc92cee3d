//! The stream plan: the layer between DataFusion's logical plan and the
//! engine's job graph.
//!
//! ```text
//!   LogicalPlan ──planner rules (crate::planner)──> StreamPlan ──lower──> JobGraph
//!                                                     │
//!                 properties computed once, bottom-up, as each node is added:
//!                 changelog mode, upsert key, rowtime, distribution
//! ```
//!
//! A planner rule adds a node with what it alone knows ([`Derive`]: the
//! columns of a projection, or what a new operator emits and keys by); the
//! node's [`Properties`] follow from that and from its inputs' properties,
//! and are never recomputed by walking the plan again. Two passes run over
//! the whole plan once every sink is in it: the update-kind inference
//! ([`StreamPlan::settle_update_before`], Flink's: who needs `-U`), and
//! [`StreamPlan::lower`], which hands the engine a [`JobGraph`] that knows
//! nothing of SQL. EXPLAIN prints the stream plan with its properties.

mod changelog;
mod lower;
mod properties;

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::datatypes::SchemaRef;
use eddy_engine::graph::{Edge, LateRows, NodeId, NodeKind, Partitioning};
use eddy_engine::operator::{OperatorFactory, SourceFactory};
use eddy_engine::watermark::ScanPrelude;

pub use properties::{ChangelogMode, Derive, Distribution, Properties};

use crate::error::{Result, SqlError};

/// One node of a stream plan: an operator or source with its inputs and
/// the properties of the stream it emits.
#[derive(Clone)]
pub struct StreamNode {
    /// Its id (index in the plan; the same in the lowered graph).
    pub id: NodeId,
    /// What it runs.
    pub kind: NodeKind,
    /// Number of subtasks.
    pub parallelism: usize,
    /// Input edges.
    pub inputs: Vec<Edge>,
    /// Schema of the rows it emits.
    pub schema: SchemaRef,
    /// What is known of the stream it emits.
    pub props: Properties,
}

impl StreamNode {
    /// The operator's one-line description.
    pub fn name(&self) -> String {
        self.kind.name()
    }

    /// Whether it emits updates (`-U`, `+U`, `-D`), not only inserts.
    pub fn is_updating(&self) -> bool {
        !self.props.is_append_only()
    }
}

/// A job's stream plan: nodes in an order where every edge goes from an
/// earlier node to a later one, and the job-wide settings of its sources
/// and late rows.
#[derive(Clone, Default)]
pub struct StreamPlan {
    /// Name of the job.
    pub name: String,
    /// The nodes, inputs before consumers.
    pub nodes: Vec<StreamNode>,
    /// `table.exec.source.idle-timeout`, read by the sources as they are
    /// planned.
    pub idle_timeout: Option<Duration>,
    /// The late-row side output, if the job has one.
    pub late_rows: Option<LateRows>,
}

impl StreamPlan {
    /// An empty plan for job `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Adds a source emitting `changelog`, keyed by `upsert_key` and with
    /// time attribute `rowtime` where it has them (column indices of
    /// `schema`).
    #[allow(clippy::too_many_arguments)]
    pub fn add_source(
        &mut self,
        factory: Arc<dyn SourceFactory>,
        prelude: Option<Arc<ScanPrelude>>,
        parallelism: usize,
        schema: SchemaRef,
        changelog: ChangelogMode,
        upsert_key: Option<Vec<usize>>,
        rowtime: Option<usize>,
    ) -> NodeId {
        let id = self.nodes.len();
        let props = Properties {
            changelog,
            upsert_key,
            rowtime,
            distribution: if parallelism == 1 {
                Distribution::Single
            } else {
                Distribution::Any
            },
        };
        self.nodes.push(StreamNode {
            id,
            kind: NodeKind::Source { factory, prelude },
            parallelism,
            inputs: vec![],
            schema,
            props,
        });
        id
    }

    /// Adds an operator fed by `inputs`; its properties follow from
    /// `derive` and its inputs'. Fails if an input does not exist yet, or
    /// a forward edge joins different parallelisms.
    pub fn add_operator(
        &mut self,
        factory: Arc<dyn OperatorFactory>,
        parallelism: usize,
        inputs: Vec<Edge>,
        schema: SchemaRef,
        derive: Derive,
    ) -> Result<NodeId> {
        let id = self.nodes.len();
        for e in &inputs {
            let Some(from) = self.nodes.get(e.from) else {
                return Err(internal(format!("edge from unknown node {}", e.from)));
            };
            if e.partitioning == Partitioning::Forward && from.parallelism != parallelism {
                return Err(internal(format!(
                    "forward edge between parallelism {} and {parallelism}",
                    from.parallelism
                )));
            }
        }
        let input_props: Vec<(&Edge, &Properties)> = inputs
            .iter()
            .map(|e| (e, &self.nodes[e.from].props))
            .collect();
        let props = derive.properties(&input_props, parallelism);
        self.nodes.push(StreamNode {
            id,
            kind: NodeKind::Operator(factory),
            parallelism,
            inputs,
            schema,
            props,
        });
        Ok(id)
    }

    /// The ids of the nodes fed by `id` (the late-row sink left out).
    pub fn consumers(&self, id: NodeId) -> Vec<NodeId> {
        let late = self.late_rows.as_ref().map(|l| l.sink);
        self.nodes
            .iter()
            .filter(|n| n.inputs.iter().any(|e| e.from == id))
            .filter(|n| Some(n.id) != late)
            .map(|n| n.id)
            .collect()
    }
}

fn internal(message: String) -> SqlError {
    SqlError::Plan {
        location: Default::default(),
        message: format!("internal planning error: {message}"),
    }
}

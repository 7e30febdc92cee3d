//! The job graph: operators with their parallelism, joined by edges that say
//! how rows are distributed among subtasks. Built by the planner, run by
//! [`crate::runtime`].

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;

use crate::error::Result;
use crate::operator::{OperatorFactory, SourceFactory};
use crate::plan_err;
use crate::watermark::ScanPrelude;

/// Index of a node in a [`JobGraph`].
pub type NodeId = usize;

/// How rows on an edge are distributed among the downstream subtasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// Subtask `i` sends to subtask `i` (same parallelism on both sides).
    Forward,
    /// Each row goes to the subtask chosen by the hash of these columns.
    Hash(Vec<usize>),
    /// Every subtask gets every row.
    Broadcast,
    /// Everything goes to subtask 0.
    Single,
    /// Batches are spread round-robin.
    Rebalance,
}

impl fmt::Display for Partitioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partitioning::Forward => write!(f, "FORWARD"),
            Partitioning::Hash(k) => write!(f, "HASH{k:?}"),
            Partitioning::Broadcast => write!(f, "BROADCAST"),
            Partitioning::Single => write!(f, "SINGLE"),
            Partitioning::Rebalance => write!(f, "REBALANCE"),
        }
    }
}

/// An input edge of a node.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The upstream node.
    pub from: NodeId,
    /// Which input of the consuming operator this edge feeds (0 for the
    /// first; joins have 0 and 1).
    pub input: usize,
    /// Row distribution.
    pub partitioning: Partitioning,
}

/// What a node runs.
#[derive(Clone)]
pub enum NodeKind {
    /// Reads external data, then shapes it (computed columns, watermarks).
    Source {
        /// Creates the readers.
        factory: Arc<dyn SourceFactory>,
        /// Computed columns and watermark strategy applied to each split.
        prelude: Option<Arc<ScanPrelude>>,
    },
    /// Consumes inputs.
    Operator(Arc<dyn OperatorFactory>),
}

/// A node of the job graph.
#[derive(Clone)]
pub struct Node {
    /// Its id (index in the graph).
    pub id: NodeId,
    /// What it runs.
    pub kind: NodeKind,
    /// Number of subtasks.
    pub parallelism: usize,
    /// Input edges.
    pub inputs: Vec<Edge>,
    /// Schema of the rows it emits.
    pub schema: SchemaRef,
}

impl NodeKind {
    /// One line for EXPLAIN: the operator, or the source and what shapes
    /// its rows.
    pub fn name(&self) -> String {
        match self {
            NodeKind::Source { factory, prelude } => match prelude {
                Some(p) => format!("{} -> {}", factory.name(), p),
                None => factory.name(),
            },
            NodeKind::Operator(f) => f.name(),
        }
    }
}

impl Node {
    /// One line for EXPLAIN.
    pub fn name(&self) -> String {
        self.kind.name()
    }
}

/// A dataflow: nodes in an order where every edge goes from an earlier node
/// to a later one.
#[derive(Clone, Default)]
pub struct JobGraph {
    /// Name of the job.
    pub name: String,
    /// The nodes, inputs before consumers.
    pub nodes: Vec<Node>,
    /// An input channel that sends nothing for this long stops holding back
    /// the watermark until it sends again (`table.exec.source.idle-timeout`).
    pub idle_timeout: Option<std::time::Duration>,
    /// Where window operators send late rows instead of dropping them
    /// (`table.exec.late-data.sink`): every edge into this node carries
    /// late rows of its upstream node, not its results.
    pub late_rows: Option<LateRows>,
    /// How the job checkpoints; `None`: it does not.
    pub checkpointing: Option<crate::checkpoint::config::CheckpointConfig>,
    /// Where operators keep their state (`state.backend.type`).
    pub state_backend: crate::state::backend::StateBackend,
}

/// The late-row side output of a job.
#[derive(Debug, Clone)]
pub struct LateRows {
    /// The sink node.
    pub sink: NodeId,
    /// The table it writes, for messages.
    pub table: String,
}

impl JobGraph {
    /// An empty graph.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            nodes: vec![],
            idle_timeout: None,
            late_rows: None,
            checkpointing: None,
            state_backend: Default::default(),
        }
    }

    /// Adds a source node.
    pub fn add_source(
        &mut self,
        factory: Arc<dyn SourceFactory>,
        prelude: Option<Arc<ScanPrelude>>,
        parallelism: usize,
        schema: SchemaRef,
    ) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            id,
            kind: NodeKind::Source { factory, prelude },
            parallelism,
            inputs: vec![],
            schema,
        });
        id
    }

    /// Adds an operator fed by `inputs`. Fails if an input does not exist yet.
    pub fn add_operator(
        &mut self,
        factory: Arc<dyn OperatorFactory>,
        parallelism: usize,
        inputs: Vec<Edge>,
        schema: SchemaRef,
    ) -> Result<NodeId> {
        let id = self.nodes.len();
        for e in &inputs {
            if e.from >= id {
                return plan_err!("edge from unknown node {}", e.from);
            }
            if e.partitioning == Partitioning::Forward
                && self.nodes[e.from].parallelism != parallelism
            {
                return plan_err!(
                    "forward edge between parallelism {} and {}",
                    self.nodes[e.from].parallelism,
                    parallelism
                );
            }
        }
        self.nodes.push(Node {
            id,
            kind: NodeKind::Operator(factory),
            parallelism,
            inputs,
            schema,
        });
        Ok(id)
    }

    /// The ids of the nodes fed by `id`.
    pub fn consumers(&self, id: NodeId) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.inputs.iter().any(|e| e.from == id))
            .filter(|n| Some(n.id) != self.late_rows_sink())
            .map(|n| n.id)
            .collect()
    }

    /// The node late rows go to, if any.
    pub fn late_rows_sink(&self) -> Option<NodeId> {
        self.late_rows.as_ref().map(|l| l.sink)
    }

    /// Whether node `id` runs in the same task as its single input: a
    /// forward edge from a node it alone consumes.
    pub fn is_chained(&self, id: NodeId) -> bool {
        if Some(id) == self.late_rows_sink() {
            return false;
        }
        let node = &self.nodes[id];
        match node.inputs.as_slice() {
            [e] => e.partitioning == Partitioning::Forward && self.consumers(e.from).len() == 1,
            _ => false,
        }
    }
}

impl JobGraph {
    /// Node `id`'s inputs as EXPLAIN writes them (` <- #1 HASH[0], #2
    /// (chained)`), or nothing for a source.
    pub fn inputs_text(&self, id: NodeId) -> String {
        let inputs: Vec<String> = self.nodes[id]
            .inputs
            .iter()
            .map(|e| {
                if self.is_chained(id) {
                    format!("#{} (chained)", e.from)
                } else {
                    format!("#{} {}", e.from, e.partitioning)
                }
            })
            .collect();
        if inputs.is_empty() {
            String::new()
        } else {
            format!(" <- {}", inputs.join(", "))
        }
    }
}

impl fmt::Display for JobGraph {
    /// One line per node, with its parallelism and inputs (chained ones
    /// marked); EXPLAIN prints the stream plan, which adds its properties.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            writeln!(
                f,
                "#{} {} [parallelism={}]{}",
                n.id,
                n.name(),
                n.parallelism,
                self.inputs_text(n.id)
            )?;
        }
        Ok(())
    }
}

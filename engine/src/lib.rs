//! # eddy-engine
//!
//! The continuous dataflow runtime of Eddy. It knows no SQL: the planner
//! (`eddy-sql`) builds a [`graph::JobGraph`] of operators and sources, and
//! [`runtime::spawn`] runs it.
//!
//! ```text
//!   SourceFactory ──> Source subtasks ──(edges: forward | hash | broadcast | single)──>
//!       Operator subtasks (InputGate: watermark min, barrier alignment, End)
//!           ──> ... ──> sink operators
//! ```
//!
//! Data on an edge is a [`message::Message`]: a [`batch::ChangeBatch`] (an
//! Arrow `RecordBatch` plus Flink row kinds), a watermark, a checkpoint
//! barrier, or `End`.

pub mod batch;
pub mod checkpoint;
pub mod connector;
pub mod error;
pub mod exchange;
pub mod graph;
#[cfg(any(test, feature = "harness"))]
pub mod harness;
pub mod input;
pub mod late;
pub mod message;
pub mod metrics;
pub mod operator;
pub mod ops;
pub mod partition;
pub mod runtime;
pub mod state;
pub mod value_text;
pub mod watermark;

pub use batch::{ChangeBatch, RowKind};
pub use error::{EngineError, Result};

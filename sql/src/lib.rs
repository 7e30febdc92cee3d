//! # eddy-sql
//!
//! Flink-dialect SQL for Eddy.
//!
//! ```text
//!  script ──splitter──> statements ──statement::parse──> Statement
//!     CREATE TABLE/VIEW, SET, SHOW ... ──> Session (catalog, config)
//!     SELECT / INSERT ──> DataFusion LogicalPlan (SqlToRel + optimizer)
//!                     ──planner──> eddy_engine JobGraph ──> runtime
//! ```
//!
//! Flink's functions and result types are registered over DataFusion's
//! where they differ ([`functions`]); connectors are found through the
//! engine's factory registry, so this crate imports none.

pub mod catalog;
pub mod checkpointing;
pub mod dialect;
pub mod error;
pub mod expr;
pub mod functions;
pub mod hints;
pub mod lateral;
pub mod options;
pub mod planner;
pub mod rewrite;
pub mod session;
pub mod splitter;
pub mod statement;
pub mod stream_plan;
pub mod system_time;
pub mod tokens;
pub mod type_names;
pub mod types;
pub mod udf;
pub mod window_tvf;

pub use error::{Location, Result, SqlError};
pub use session::{HIDDEN_VIEW_PREFIX, Outcome, Session, Vocabulary};
pub use splitter::{ScriptStatement, is_complete, split_statements};
pub use statement::{Located, Statement, parse_statement};

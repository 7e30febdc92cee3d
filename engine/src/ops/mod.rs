//! Built-in operators that know nothing of connectors, by family:
//!
//! ```text
//!   calc, union, unnest   stateless, chained into the task that feeds them
//!   source/               fixed rows (VALUES), upsert changelog normalization
//!   aggregate/            GROUP BY (updating) and the accumulators all aggregates share
//!   window/               window aggregates (slicing, session) and the window row buffer
//!   over                  OVER aggregates
//!   rank/                 Top-N and deduplication, unbounded and per window
//!   join/                 regular and interval joins; window, temporal and lookup joins
//! ```
//!
//! Their state lives in [`crate::state`] (row stores, snapshots).

pub mod aggregate;
pub mod calc;
pub mod expand;
pub mod join;
pub mod materialize;
pub mod over;
pub mod rank;
pub mod sort;
pub mod source;
pub mod union;
pub mod unnest;
pub mod window;

//! Built-in operators that know nothing of connectors.

pub mod accumulator_state;
pub mod aggregate;
pub mod calc;
pub mod changelog_normalize;
pub mod group_aggregate;
pub mod group_state;
pub mod join;
pub mod lookup_join;
pub mod over_aggregate;
pub mod rank;
pub mod row_store;
pub mod session_aggregate;
pub mod slicing_window_aggregate;
pub mod temporal_join;
pub mod union;
pub mod unnest;
pub mod values;
pub mod window_buffer;
pub mod window_join;
pub mod window_rank;

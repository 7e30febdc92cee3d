//! Built-in operators that know nothing of connectors.

pub mod calc;
pub mod session_aggregate;
pub mod union;
pub mod values;
pub mod window_aggregate;

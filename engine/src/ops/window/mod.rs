//! Window aggregation: tumbling, hopping and cumulating windows by slices
//! ([`slicing`]), session windows ([`session`]), and the per-window row
//! buffer and firing rule the window operators share ([`buffer`]; window
//! Top-N and window joins use it from [`crate::ops::rank::window`] and
//! [`crate::ops::join::window`]).

pub mod buffer;
pub mod session;
pub mod slicing;

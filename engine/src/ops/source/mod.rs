//! Operators at the start of a job that are not connectors: fixed rows
//! ([`values`]), and the normalization of an upsert source's changelog
//! ([`changelog_normalize`]).

pub mod changelog_normalize;
pub mod values;

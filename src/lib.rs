//! Eddy

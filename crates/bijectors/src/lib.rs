//! Invertible blocks with exact inverses and log-determinants.
//!
//! Every block implements [`Bijector`]: forward and inverse on autodiff variables (so both
//! directions train), each returning the per-sample log|det J| as an `n × 1` column.

mod bijector;
mod error;

pub use bijector::{Bijector, BlockSpec, Output, check_batch, check_cond};
pub use error::{Error, Result};

//! Invertible neural networks for inverse problems.
//!
//! The umbrella crate of the workspace: it re-exports the building blocks and adds training,
//! data and model files.

pub mod data;
mod error;
pub mod model_file;
pub mod train;

pub use error::{Error, Result};

pub use autodiff;
pub use bijectors;
pub use discrepancy;
pub use distributions;
pub use fixedpoint;

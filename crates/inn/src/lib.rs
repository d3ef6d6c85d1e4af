//! Invertible neural networks for inverse problems.
//!
//! The umbrella crate of the workspace: it re-exports the building blocks and adds training,
//! data and model files.

pub mod data;
mod error;
mod flow;
pub mod model_file;
pub mod train;

pub use error::{Error, Result};
pub use flow::Flow;

pub use autodiff;
pub use bijectors;
pub use discrepancy;
pub use distributions;
pub use fixedpoint;

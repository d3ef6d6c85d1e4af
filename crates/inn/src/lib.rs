//! Invertible neural networks for inverse problems.
//!
//! The umbrella crate of the workspace: it re-exports the building blocks and adds training,
//! data and model files.

pub mod data;
mod error;
pub mod eval;
pub mod invert;
mod flow;
pub mod model_file;
mod posterior;
pub mod train;

pub use error::{Error, Result};
pub use flow::Flow;
pub use posterior::PosteriorSampler;

pub use autodiff;
pub use bijectors;
pub use discrepancy;
pub use distributions;
pub use fixedpoint;

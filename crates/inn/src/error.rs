//! The umbrella error type: every crate's error, plus training and model-file failures.

use thiserror::Error;

/// Everything that can go wrong in `inn`.
#[derive(Debug, Error)]
pub enum Error {
    /// From the differentiation engine.
    #[error(transparent)]
    Autodiff(#[from] autodiff::Error),
    /// From a bijector (shapes, NaN inputs, failed inversion).
    #[error(transparent)]
    Bijector(#[from] bijectors::Error),
    /// From a density or flow.
    #[error(transparent)]
    Distribution(#[from] distributions::Error),
    /// From an MMD estimator.
    #[error(transparent)]
    Discrepancy(#[from] discrepancy::Error),
    /// From a fixed-point iteration.
    #[error(transparent)]
    FixedPoint(#[from] fixedpoint::Error),
    /// From loading or generating data.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Training produced a non-finite loss or gradient; the parameters were restored to the
    /// last values that gave a finite loss.
    #[error(
        "training diverged at step {step} (loss {loss}); parameters restored to step {restored_step}"
    )]
    Diverged {
        /// The step whose loss or gradient was not finite.
        step: usize,
        /// The loss at that step.
        loss: f64,
        /// The step whose parameters were restored.
        restored_step: usize,
    },
    /// A configuration value is outside its valid range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A model file is missing, truncated, corrupt, or of another format version.
    #[error("model file {path}: {reason}")]
    Model {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

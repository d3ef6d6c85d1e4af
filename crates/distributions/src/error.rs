//! The error type of the `distributions` crate.

use thiserror::Error;

/// Everything that can go wrong building, evaluating, sampling or fitting a density.
#[derive(Debug, Error)]
pub enum Error {
    /// An error from the differentiation engine (shapes of internal operations, parameters).
    #[error(transparent)]
    Autodiff(#[from] autodiff::Error),
    /// An error from a bijector (its own input checks, an inversion that failed).
    #[error(transparent)]
    Bijector(#[from] bijectors::Error),
    /// A batch has the wrong number of columns.
    #[error("{what}: expected a batch with {expected} columns, got {rows} x {cols}")]
    Width {
        /// The density (or method) that rejected the batch.
        what: &'static str,
        /// Columns expected.
        expected: usize,
        /// Rows of the batch.
        rows: usize,
        /// Columns of the batch.
        cols: usize,
    },
    /// A batch with no rows, or a request for zero samples.
    #[error("{what}: empty batch (0 rows)")]
    EmptyBatch {
        /// The density (or method) that rejected the batch.
        what: &'static str,
    },
    /// NaN or ±inf in an input batch.
    #[error("{what}: non-finite value in row {row}, column {col}")]
    NonFinite {
        /// The density (or method) that rejected the batch.
        what: &'static str,
        /// First row holding a bad value.
        row: usize,
        /// Column of that value.
        col: usize,
    },
    /// A condition matrix is missing, unexpected, or has the wrong shape.
    #[error("{what}: condition error: {reason}")]
    Condition {
        /// The method that rejected the condition.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A constructor or configuration value is outside its valid range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A constraint function returned a value of the wrong shape, or a fit diverged.
    #[error("maximum-entropy fit: {0}")]
    MaxEntropy(String),
}

/// `Result` with this crate's [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl autodiff::train::TrainError for Error {
    fn is_non_finite(&self) -> bool {
        use autodiff::Error as A;
        let autodiff = |e: &A| matches!(e, A::NonFinite { .. });
        match self {
            Error::NonFinite { .. } => true,
            Error::Autodiff(a) => autodiff(a),
            Error::Bijector(bijectors::Error::NonFinite { .. }) => true,
            Error::Bijector(bijectors::Error::Autodiff(a)) => autodiff(a),
            _ => false,
        }
    }
}

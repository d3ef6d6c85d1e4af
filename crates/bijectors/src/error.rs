//! The error type of the `bijectors` crate.

use thiserror::Error;

/// Everything that can go wrong building, running or inverting a bijector.
#[derive(Debug, Error)]
pub enum Error {
    /// An error from the differentiation engine (shapes of internal operations, parameters).
    #[error(transparent)]
    Autodiff(#[from] autodiff::Error),
    /// A batch has the wrong number of columns.
    #[error("{block}: expected a batch with {expected} columns, got {rows} x {cols}")]
    Width {
        /// The block that rejected the batch.
        block: &'static str,
        /// Columns the block expects.
        expected: usize,
        /// Rows of the batch.
        rows: usize,
        /// Columns of the batch.
        cols: usize,
    },
    /// A batch with no rows.
    #[error("{block}: empty batch (0 rows)")]
    EmptyBatch {
        /// The block that rejected the batch.
        block: &'static str,
    },
    /// NaN or ±inf in an input batch.
    #[error("{block}: non-finite value in row {row}, column {col}")]
    NonFinite {
        /// The block that rejected the batch.
        block: &'static str,
        /// First row holding a bad value.
        row: usize,
        /// Column of that value.
        col: usize,
    },
    /// A condition input is missing, unexpected, or has the wrong shape.
    #[error("{block}: condition error: {reason}")]
    Condition {
        /// The block that rejected the condition.
        block: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A configuration value is outside its valid range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A residual block whose branch is not a contraction cannot be inverted by iteration.
    #[error("not a contraction: Lipschitz estimate {lipschitz} >= 1")]
    NotContractive {
        /// The estimate of Lip(g) that failed the check.
        lipschitz: f64,
    },
    /// A fixed-point inversion failed (did not converge, diverged, cycled).
    #[error("inversion failed: {0}")]
    Inversion(#[from] fixedpoint::Error),
    /// A block description could not be written or read.
    #[error("block spec error: {0}")]
    Spec(String),
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

//! The crate's error type: invalid input, non-convergence, divergence and cycles.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Why an iteration was declared divergent.
#[derive(Debug, Clone, PartialEq)]
pub enum Divergence {
    /// The map returned a NaN or infinite value at this (row, column) of its output.
    NonFinite {
        /// Row (sample) of the first non-finite entry.
        row: usize,
        /// Column (coordinate) of the first non-finite entry.
        col: usize,
    },
    /// The step size grew strictly for `window` consecutive iterations and reached
    /// `growth` times the smallest step seen so far.
    GrowingSteps {
        /// Number of consecutive strict increases observed.
        window: usize,
        /// Ratio of the last step to the smallest step seen so far.
        growth: f64,
    },
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonFinite { row, col } => {
                write!(f, "the map returned a non-finite value at ({row}, {col})")
            }
            Self::GrowingSteps { window, growth } => write!(
                f,
                "steps grew for {window} consecutive iterations, to {growth:.3e} times the smallest step"
            ),
        }
    }
}

/// Everything that can go wrong in this crate.
///
/// Numbers inside the diagnostics are converted to `f64` so that the error type does not
/// depend on the scalar type of the computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The input is unusable: a shape mismatch, a NaN/inf entry (the message names the first bad
    /// index), an empty batch, or an option out of its range (e.g. a contraction constant
    /// outside (0, 1)).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The stopping rule was not met within the iteration budget.
    #[error("no convergence after {iterations} iterations (last steps: {residual_tail:?})")]
    NotConverged {
        /// Iterations performed (the budget).
        iterations: usize,
        /// The last (at most 16) step sizes, oldest first.
        residual_tail: Vec<f64>,
    },
    /// The iteration left every bounded region or produced non-finite values.
    #[error("diverged at iteration {iteration}: {reason}")]
    Diverged {
        /// Iteration (map evaluation, counted from 1) at which divergence was declared.
        iteration: usize,
        /// What was observed.
        reason: Divergence,
    },
    /// The iterates settled on a periodic orbit instead of a fixed point.
    #[error("the iterates settled on a cycle of period {period}")]
    CycleDetected {
        /// Smallest period p ≥ 2 with x_n ≈ x_{n−p}.
        period: usize,
        /// The p points of the cycle in orbit order, each iterate flattened row-major
        /// (for the vector iteration: the vector itself).
        points: Vec<Vec<f64>>,
    },
}

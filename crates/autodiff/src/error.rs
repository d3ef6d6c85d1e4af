//! The error type of the `autodiff` crate.

use thiserror::Error;

/// Everything that can go wrong when building or differentiating a computation.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// Two operands of an operation have incompatible shapes.
    #[error("shape mismatch in {op}: left is {left:?}, right is {right:?}")]
    Shape {
        /// The operation that was attempted.
        op: &'static str,
        /// Shape (rows, columns) of the left operand.
        left: (usize, usize),
        /// Shape (rows, columns) of the right operand.
        right: (usize, usize),
    },
    /// An argument is outside the range the operation accepts.
    #[error("invalid argument to {op}: {reason}")]
    InvalidArgument {
        /// The operation that was attempted.
        op: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `backward` was called on something that is not a 1 × 1 scalar.
    #[error("backward needs a 1 x 1 loss, got {rows} x {cols}")]
    NotScalar {
        /// Rows of the value.
        rows: usize,
        /// Columns of the value.
        cols: usize,
    },
    /// `backward` was called on a tape that records nothing.
    #[error("backward called on a no-grad tape")]
    NoGrad,
    /// A non-finite value (NaN or ±inf) where a finite one is required.
    #[error("non-finite value in {what} at row {row}, column {col}")]
    NonFinite {
        /// What held the value (a parameter name, a loss, an input).
        what: String,
        /// Row of the first bad entry.
        row: usize,
        /// Column of the first bad entry.
        col: usize,
    },
    /// Training met a non-finite loss, gradient or intermediate value; the parameters were
    /// restored to the last values that gave a finite loss.
    #[error(
        "training diverged at step {step} (loss {loss}); parameters restored to step {restored_step}"
    )]
    Diverged {
        /// The step whose loss or gradient was not finite.
        step: usize,
        /// The loss at that step (NaN when a value inside the step was not finite).
        loss: f64,
        /// The step whose parameters were restored.
        restored_step: usize,
    },
    /// A named parameter does not exist, or exists twice.
    #[error("parameter error: {0}")]
    Param(String),
    /// Saving or loading a parameter store failed.
    #[error("parameter file error: {0}")]
    Io(String),
    /// The analytic gradient disagrees with central finite differences.
    #[error(
        "gradient check failed for input {input} at ({row}, {col}): analytic {analytic:e}, numeric {numeric:e}"
    )]
    GradientMismatch {
        /// Index of the input whose gradient is wrong.
        input: usize,
        /// Row of the worst entry.
        row: usize,
        /// Column of the worst entry.
        col: usize,
        /// Value from reverse-mode differentiation.
        analytic: f64,
        /// Value from central differences.
        numeric: f64,
    },
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

/// Whether every entry of `v` is finite, in one branch-free pass: `x · 0` is 0 for finite `x`
/// and NaN for ±∞ and NaN, and eight independent running sums of it vectorise (a
/// short-circuiting `all(is_finite)` does not).
///
/// ```
/// assert!(autodiff::all_finite(&[1.0f32, -2.0, 3.5]));
/// assert!(!autodiff::all_finite(&[1.0f64, f64::INFINITY]));
/// assert!(!autodiff::all_finite(&[f32::NAN]));
/// ```
pub fn all_finite<T: crate::Float>(v: &[T]) -> bool {
    crate::op::lane_sum(v, |x| x * T::zero()).is_finite()
}

/// Returns an error naming `what` and the first row (lowest row index, then lowest column)
/// that holds a non-finite entry, or `Ok(())` when every entry is finite.
pub fn check_finite<T: crate::Float>(what: &str, m: &nalgebra::DMatrix<T>) -> Result<()> {
    // The common case, all finite, in one vectorisable pass.
    if all_finite(m.as_slice()) {
        return Ok(());
    }
    let mut first: Option<(usize, usize)> = None;
    for (j, col) in m.column_iter().enumerate() {
        if let Some(i) = col.iter().position(|v| !v.is_finite())
            && first.is_none_or(|(r, _)| i < r)
        {
            first = Some((i, j));
        }
    }
    match first {
        None => Ok(()),
        Some((row, col)) => Err(Error::NonFinite {
            what: what.to_string(),
            row,
            col,
        }),
    }
}

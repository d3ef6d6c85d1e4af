//! The crate's error type: every way an input can be rejected, naming the shape or first bad index.

/// Which of the two samples an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// The first sample `X` (drawn from `P`).
    X,
    /// The second sample `Y` (drawn from `Q`).
    Y,
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sample::X => f.write_str("X"),
            Sample::Y => f.write_str("Y"),
        }
    }
}

/// Everything that can go wrong in this crate. Library code returns these instead of panicking.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// `X` is `n × d_x` and `Y` is `m × d_y` with `d_x ≠ d_y`.
    #[error("dimension mismatch: X has {x_cols} columns but Y has {y_cols}")]
    DimensionMismatch {
        /// Number of columns (features) of `X`.
        x_cols: usize,
        /// Number of columns (features) of `Y`.
        y_cols: usize,
    },
    /// The samples have zero columns, so there is nothing to compare.
    #[error("samples have zero columns (d = 0)")]
    ZeroDimension,
    /// A sample has fewer rows than the estimator needs.
    #[error("sample {sample} has {rows} rows but at least {needed} are needed")]
    TooFewSamples {
        /// The offending sample.
        sample: Sample,
        /// Its number of rows.
        rows: usize,
        /// The minimum the estimator needs.
        needed: usize,
    },
    /// The linear-time estimator pairs rows of `X` and `Y`, so it needs `n = m`.
    #[error("linear-time MMD needs equal sample sizes, got n = {n} and m = {m}")]
    UnequalSampleSizes {
        /// Rows of `X`.
        n: usize,
        /// Rows of `Y`.
        m: usize,
    },
    /// A NaN or infinite entry; `row` is the first row of that sample holding one.
    #[error("sample {sample} has a non-finite value in row {row}")]
    NonFinite {
        /// The offending sample.
        sample: Sample,
        /// First row (0-based) with a NaN or infinity.
        row: usize,
    },
    /// A kernel width that is not finite and strictly positive; `index` is its position in the
    /// list of widths (0 for a single-width kernel).
    #[error("invalid kernel width {value} at index {index}: widths must be finite and > 0")]
    InvalidWidth {
        /// Position of the width in the list given.
        index: usize,
        /// The rejected value (converted to `f64`).
        value: f64,
    },
    /// A multi-scale kernel was given an empty list of widths or kernels.
    #[error("a multi-scale kernel needs at least one width")]
    NoWidths,
    /// Two vectors handed to [`crate::Kernel::eval`] have different lengths.
    #[error("kernel arguments have different lengths: {x_len} and {y_len}")]
    LengthMismatch {
        /// Length of the first point.
        x_len: usize,
        /// Length of the second point.
        y_len: usize,
    },
    /// The permutation test was asked for zero permutations.
    #[error("the permutation test needs at least one permutation")]
    NoPermutations,
    /// An operation of the differentiable loss failed in `autodiff`.
    #[error(transparent)]
    Autodiff(#[from] autodiff::Error),
    /// All pooled points coincide, so the median distance (and the bandwidth) would be zero.
    #[error("median heuristic: the median pairwise distance is zero (the points coincide)")]
    ZeroMedianDistance,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

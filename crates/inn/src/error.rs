//! The umbrella error type: every crate's error, plus training and model-file failures.

use thiserror::Error;

/// Everything that can go wrong in `inn`.
#[derive(Debug, Error)]
pub enum Error {
    /// From the differentiation engine (its `Diverged` becomes [`Error::Diverged`]).
    #[error(transparent)]
    Autodiff(autodiff::Error),
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
    /// An input matrix (of a data generator or test problem) holds NaN or ±infinity.
    #[error("{what}: entry at row {row}, column {column} is not finite ({value})")]
    NonFiniteInput {
        /// Which input.
        what: &'static str,
        /// 0-based row index.
        row: usize,
        /// 0-based column index.
        column: usize,
        /// The value.
        value: f64,
    },
    /// An input matrix has the wrong shape.
    #[error("{what}: expected {expected}, got a {rows}×{columns} matrix")]
    ShapeMismatch {
        /// Which input.
        what: &'static str,
        /// The expected shape, in words (for example `"n×2 with n ≥ 1"`).
        expected: &'static str,
        /// Rows of the input.
        rows: usize,
        /// Columns of the input.
        columns: usize,
    },
    /// A numeric parameter is outside its allowed range.
    #[error("parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The allowed range.
        reason: &'static str,
    },
    /// A class label is not produced by the label map.
    #[error("label {label} is not used by label map `{map}` (its labels are 0..{n_labels})")]
    InvalidLabel {
        /// The label.
        label: usize,
        /// Name of the label map.
        map: &'static str,
        /// Number of labels of the map.
        n_labels: usize,
    },
    /// A name that is not one of the known toy data sets or label maps.
    #[error("unknown {what} `{name}`; known: {}", known.join(", "))]
    UnknownName {
        /// What kind of name (`"toy data set"`, `"label map"`).
        what: &'static str,
        /// The name given.
        name: String,
        /// The known names.
        known: Vec<&'static str>,
    },
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
    /// An [`Ensemble`](crate::Ensemble) was asked for with no members.
    #[error("an ensemble needs at least one member, got 0")]
    EmptyEnsemble,
    /// A model file is missing, truncated, corrupt, or of another format version.
    #[error("model file {}: {reason}", path.display())]
    Model {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<autodiff::Error> for Error {
    fn from(e: autodiff::Error) -> Self {
        match e {
            autodiff::Error::Diverged {
                step,
                loss,
                restored_step,
            } => Error::Diverged {
                step,
                loss,
                restored_step,
            },
            other => Error::Autodiff(other),
        }
    }
}

impl autodiff::train::TrainError for Error {
    fn is_non_finite(&self) -> bool {
        Error::is_non_finite(self)
    }
}

impl Error {
    /// The [`Error::ShapeMismatch`] of the input `what`, `(rows, columns)` in shape, where
    /// `expected` was wanted.
    pub(crate) fn shape_mismatch(
        what: &'static str,
        expected: &'static str,
        (rows, columns): (usize, usize),
    ) -> Self {
        Error::ShapeMismatch {
            what,
            expected,
            rows,
            columns,
        }
    }

    /// Whether this is a non-finite value (NaN or ±∞) found by a check inside the computation:
    /// during a training step this means the run diverged, and the optimisation loop treats it
    /// as it treats a non-finite loss (stop, restore the last good parameters).
    pub fn is_non_finite(&self) -> bool {
        use autodiff::Error as A;
        use bijectors::Error as B;
        use distributions::Error as D;
        let autodiff = |e: &A| matches!(e, A::NonFinite { .. });
        let bijector = |e: &B| match e {
            B::NonFinite { .. } => true,
            B::Autodiff(a) => autodiff(a),
            _ => false,
        };
        match self {
            Error::Autodiff(a) => autodiff(a),
            Error::Bijector(b) => bijector(b),
            Error::Distribution(D::NonFinite { .. }) => true,
            Error::Distribution(D::Autodiff(a)) => autodiff(a),
            Error::Distribution(D::Bijector(b)) => bijector(b),
            Error::Discrepancy(discrepancy::Error::NonFinite { .. }) => true,
            Error::Discrepancy(discrepancy::Error::Autodiff(a)) => autodiff(a),
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`](enum@Error).
pub type Result<T> = std::result::Result<T, Error>;

//! Input validation at a block's boundary, on tape variables.

use crate::{Result, check_batch, check_cond};
use autodiff::{Float, Var};

/// Checks a block's input batch (`n × d`: width, at least one row, finite entries) and its
/// condition (`n × cond_dim`, present exactly when `cond_dim > 0`); returns `n`.
pub(crate) fn check_inputs<T: Float>(
    block: &'static str,
    x: Var<'_, T>,
    d: usize,
    cond: Option<Var<'_, T>>,
    cond_dim: usize,
) -> Result<usize> {
    let value = x.value();
    check_batch(block, &value, d)?;
    let c = cond.map(|c| c.value());
    check_cond(block, c.as_deref(), cond_dim, value.nrows())?;
    Ok(value.nrows())
}

/// A constant `n × 1` column of zeros on `x`'s tape: the log-determinant of a volume-preserving map.
pub(crate) fn zero_log_det<'t, T: Float>(x: Var<'t, T>) -> Var<'t, T> {
    x.tape()
        .constant(autodiff::nalgebra::DMatrix::zeros(x.nrows(), 1))
}

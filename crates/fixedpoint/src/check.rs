//! Input checks shared by the entry points: finiteness, shapes, parameter ranges.

use crate::error::{Error, Result};
use nalgebra::{DMatrix, RealField};

/// Errors with the first non-finite entry (row, column) of `m`, if any.
pub(crate) fn finite_matrix<T: RealField + Copy>(name: &str, m: &DMatrix<T>) -> Result<()> {
    match first_non_finite(m) {
        Some((row, col)) => Err(Error::InvalidInput(format!(
            "{name} has a non-finite entry at ({row}, {col})"
        ))),
        None => Ok(()),
    }
}

/// The first (row, column) of `m` holding NaN or ±inf, scanning row by row.
pub(crate) fn first_non_finite<T: RealField + Copy>(m: &DMatrix<T>) -> Option<(usize, usize)> {
    // Storage is column-major; scan it once and report the smallest (row, col) found.
    let nrows = m.nrows().max(1);
    m.as_slice()
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_finite())
        .map(|(k, _)| (k % nrows, k / nrows))
        .min()
}

/// Errors when `m` has no rows or no columns.
pub(crate) fn non_empty<T: RealField + Copy>(name: &str, m: &DMatrix<T>) -> Result<()> {
    if m.nrows() == 0 || m.ncols() == 0 {
        return Err(Error::InvalidInput(format!(
            "{name} is empty ({} × {})",
            m.nrows(),
            m.ncols()
        )));
    }
    Ok(())
}

/// Errors unless `x` is finite and `x > 0`.
pub(crate) fn positive<T: RealField + Copy>(name: &str, x: T) -> Result<()> {
    if !(x.is_finite() && x > T::zero()) {
        return Err(Error::InvalidInput(format!(
            "{name} must be finite and > 0, got {x}"
        )));
    }
    Ok(())
}

/// Errors unless `x` is finite and `x ≥ 0`.
pub(crate) fn non_negative<T: RealField + Copy>(name: &str, x: T) -> Result<()> {
    if !(x.is_finite() && x >= T::zero()) {
        return Err(Error::InvalidInput(format!(
            "{name} must be finite and ≥ 0, got {x}"
        )));
    }
    Ok(())
}

/// Errors unless `c` lies in the open interval (0, 1).
pub(crate) fn contraction_constant<T: RealField + Copy>(c: T) -> Result<()> {
    if !(c > T::zero() && c < T::one()) {
        return Err(Error::InvalidInput(format!(
            "contraction constant c must lie in (0, 1), got {c}"
        )));
    }
    Ok(())
}

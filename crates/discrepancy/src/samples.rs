//! Validation of a pair of sample batches `X` (`n × d`) and `Y` (`m × d`), one sample per row.

use crate::{Error, Result, Sample};
use nalgebra::{DMatrix, RealField};

/// The first row of `a` holding a NaN or an infinity, if any.
fn first_non_finite_row<T: RealField + Copy>(a: &DMatrix<T>) -> Option<usize> {
    let n = a.nrows();
    // Column-major storage: scan each column and keep the smallest row index found.
    a.as_slice()
        .chunks(n.max(1))
        .filter_map(|col| col.iter().position(|v| !v.is_finite()))
        .min()
}

/// Checks one batch: at least `min_rows` rows and only finite entries.
pub(crate) fn check_batch<T: RealField + Copy>(
    a: &DMatrix<T>,
    sample: Sample,
    min_rows: usize,
) -> Result<()> {
    if a.nrows() < min_rows.max(1) {
        return Err(Error::TooFewSamples {
            sample,
            rows: a.nrows(),
            needed: min_rows.max(1),
        });
    }
    if a.ncols() == 0 {
        return Err(Error::ZeroDimension);
    }
    match first_non_finite_row(a) {
        Some(row) => Err(Error::NonFinite { sample, row }),
        None => Ok(()),
    }
}

/// Checks a pair of batches: same number of columns (checked first), each with at least
/// `min_rows` rows, all entries finite.
pub(crate) fn check_pair<T: RealField + Copy>(
    x: &DMatrix<T>,
    y: &DMatrix<T>,
    min_rows: usize,
) -> Result<()> {
    if x.ncols() != y.ncols() {
        return Err(Error::DimensionMismatch {
            x_cols: x.ncols(),
            y_cols: y.ncols(),
        });
    }
    check_batch(x, Sample::X, min_rows)?;
    check_batch(y, Sample::Y, min_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_shape_size_and_first_bad_row() {
        let x = DMatrix::<f64>::zeros(4, 2);
        assert_eq!(
            check_pair(&x, &DMatrix::zeros(4, 3), 2),
            Err(Error::DimensionMismatch {
                x_cols: 2,
                y_cols: 3
            })
        );
        assert_eq!(
            check_pair(&x, &DMatrix::zeros(1, 2), 2),
            Err(Error::TooFewSamples {
                sample: Sample::Y,
                rows: 1,
                needed: 2
            })
        );
        assert_eq!(
            check_pair(&DMatrix::zeros(0, 2), &x, 1),
            Err(Error::TooFewSamples {
                sample: Sample::X,
                rows: 0,
                needed: 1
            })
        );
        assert_eq!(
            check_pair(&DMatrix::<f64>::zeros(3, 0), &DMatrix::zeros(3, 0), 1),
            Err(Error::ZeroDimension)
        );
        let mut bad = DMatrix::<f64>::zeros(5, 2);
        bad[(3, 0)] = f64::NAN;
        bad[(2, 1)] = f64::INFINITY;
        assert_eq!(
            check_pair(&x, &bad, 1),
            Err(Error::NonFinite {
                sample: Sample::Y,
                row: 2
            })
        );
        assert_eq!(check_pair(&x, &x, 4), Ok(()));
    }
}

//! Vector norms used to measure steps, and their per-row maximum over a batch.

use nalgebra::{DMatrix, RealField};

/// The norm in which steps ‖xₙ − xₙ₋₁‖ and errors are measured.
///
/// The a-posteriori and a-priori bounds hold in the norm for which the contraction constant
/// `c` is a Lipschitz constant. Spectral normalisation bounds the Lipschitz constant in the
/// Euclidean norm, so [`Norm::L2`] is the default; since ‖v‖∞ ≤ ‖v‖₂, an L2 bound is also a
/// bound on the max-abs error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Norm {
    /// Euclidean norm √(Σⱼ vⱼ²).
    #[default]
    L2,
    /// Max-abs (infinity) norm maxⱼ |vⱼ|.
    MaxAbs,
}

impl Norm {
    /// The norm of each row of `m` (an `n × d` batch, one sample per row), written to `out`
    /// (resized to `n`).
    pub fn row_norms<T: RealField + Copy>(self, m: &DMatrix<T>, out: &mut Vec<T>) {
        out.clear();
        out.resize(m.nrows(), T::zero());
        // Walk the column-major storage column by column so each pass is contiguous.
        for col in m.column_iter() {
            for (acc, &v) in out.iter_mut().zip(col.iter()) {
                match self {
                    Self::L2 => *acc += v * v,
                    Self::MaxAbs => *acc = acc.max(v.abs()),
                }
            }
        }
        if self == Self::L2 {
            out.iter_mut().for_each(|acc| *acc = acc.sqrt());
        }
    }

    /// The largest row norm of `m` (an `n × d` batch, one sample per row); 0 for an empty batch.
    pub fn max_row_norm<T: RealField + Copy>(self, m: &DMatrix<T>) -> T {
        let mut norms = Vec::with_capacity(m.nrows());
        self.row_norms(m, &mut norms);
        norms.into_iter().fold(T::zero(), |a, b| a.max(b))
    }

    /// max over rows i of ‖aᵢ − bᵢ‖ for two batches of equal shape (`n × d`, one sample per
    /// row), without forming a − b.
    pub fn max_row_distance<T: RealField + Copy>(self, a: &DMatrix<T>, b: &DMatrix<T>) -> T {
        debug_assert_eq!(a.shape(), b.shape());
        (0..a.nrows())
            .map(|i| {
                let (ra, rb) = (a.row(i), b.row(i));
                let diffs = ra.iter().zip(rb.iter()).map(|(&x, &y)| x - y);
                match self {
                    Self::L2 => diffs.fold(T::zero(), |s, v| s + v * v).sqrt(),
                    Self::MaxAbs => diffs.fold(T::zero(), |s, v| s.max(v.abs())),
                }
            })
            .fold(T::zero(), |m, v| m.max(v))
    }

    /// The norm of the slice `v`.
    pub fn of_slice<T: RealField + Copy>(self, v: &[T]) -> T {
        match self {
            Self::L2 => v.iter().fold(T::zero(), |a, &b| a + b * b).sqrt(),
            Self::MaxAbs => v.iter().fold(T::zero(), |a, &b| a.max(b.abs())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_norms_are_per_sample() {
        let m = DMatrix::from_row_slice(2, 2, &[3.0, 4.0, -1.0, 0.5]);
        let mut out = Vec::new();
        Norm::L2.row_norms(&m, &mut out);
        assert_eq!(out, vec![5.0, (1.25f64).sqrt()]);
        Norm::MaxAbs.row_norms(&m, &mut out);
        assert_eq!(out, vec![4.0, 1.0]);
        assert_eq!(Norm::L2.max_row_norm(&m), 5.0);
        let z = DMatrix::zeros(2, 2);
        assert_eq!(Norm::L2.max_row_distance(&m, &z), 5.0);
        assert_eq!(Norm::MaxAbs.max_row_distance(&z, &m), 4.0);
        assert_eq!(Norm::MaxAbs.of_slice(&[1.0, -7.0]), 7.0);
    }
}

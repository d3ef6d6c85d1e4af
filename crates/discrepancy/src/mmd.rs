//! Quadratic-time MMD² estimators: the biased V-statistic and the unbiased U-statistic.

use crate::kernel_sums::{DEFAULT_BLOCK, KernelSums};
use crate::samples::check_pair;
use crate::{Kernel, Result};
use nalgebra::{DMatrix, RealField};

/// Which quadratic-time estimator of `MMD²(P, Q)` to use (Gretton et al. 2012, JMLR 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    /// The V-statistic, all pairs including `i = j`: `≥ 0`, biased upwards by `O(1/n)`.
    Biased,
    /// The U-statistic, within-sample diagonals excluded: unbiased, may be negative.
    #[default]
    Unbiased,
}

impl Estimator {
    /// Rows each sample needs: 1 for [`Estimator::Biased`], 2 for [`Estimator::Unbiased`].
    pub fn min_samples(self) -> usize {
        match self {
            Estimator::Biased => 1,
            Estimator::Unbiased => 2,
        }
    }

    /// The estimate from precomputed sums (sample sizes already checked).
    pub(crate) fn on_sums(self, sums: &KernelSums) -> Result<f64> {
        match self {
            Estimator::Biased => Ok(sums.biased()),
            Estimator::Unbiased => sums.unbiased(),
        }
    }

    /// `MMD²` between `X` (`n × d`) and `Y` (`m × d`), one sample per row, with this estimator.
    ///
    /// # Errors
    /// As [`mmd2_biased`] / [`mmd2_unbiased`].
    pub fn estimate<T, K>(self, x: &DMatrix<T>, y: &DMatrix<T>, kernel: &K) -> Result<f64>
    where
        T: RealField + Copy,
        K: Kernel<T> + ?Sized,
    {
        check_pair(x, y, self.min_samples())?;
        self.on_sums(&KernelSums::compute_unchecked(x, y, kernel, DEFAULT_BLOCK))
    }
}

/// The biased V-statistic
/// `MMD²_b = (1/n²) Σ_{i,j} k(xᵢ,xⱼ) + (1/m²) Σ_{i,j} k(yᵢ,yⱼ) − (2/(nm)) Σ_{i,j} k(xᵢ,yⱼ)`
/// between `X` (`n × d`) and `Y` (`m × d`), one sample per row.
///
/// It is the squared RKHS distance between the two empirical mean embeddings, hence `≥ 0` for a
/// positive-definite kernel and exactly 0 for `X = Y`. Computed in blocks with `O(block²)`
/// memory, accumulated in `f64` (see [`KernelSums`]).
///
/// # Errors
/// [`crate::Error::DimensionMismatch`], [`crate::Error::ZeroDimension`],
/// [`crate::Error::TooFewSamples`] (empty sample), [`crate::Error::NonFinite`] (first bad row).
///
/// ```
/// use discrepancy::{Gaussian, mmd2_biased};
/// use nalgebra::DMatrix;
/// let x = DMatrix::from_row_slice(3, 2, &[0.0_f64, 0.0, 1.0, 0.0, 0.0, 1.0]);
/// let k = Gaussian::new(1.0)?;
/// assert!(mmd2_biased(&x, &x, &k)?.abs() < 1e-12);
/// let y = x.add_scalar(2.0);
/// assert!(mmd2_biased(&x, &y, &k)? > 0.5);
/// # Ok::<(), discrepancy::Error>(())
/// ```
pub fn mmd2_biased<T, K>(x: &DMatrix<T>, y: &DMatrix<T>, kernel: &K) -> Result<f64>
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    Estimator::Biased.estimate(x, y, kernel)
}

/// The unbiased U-statistic
/// `MMD²_u = (1/(n(n−1))) Σ_{i≠j} k(xᵢ,xⱼ) + (1/(m(m−1))) Σ_{i≠j} k(yᵢ,yⱼ) − (2/(nm)) Σ_{i,j} k(xᵢ,yⱼ)`
/// between `X` (`n × d`) and `Y` (`m × d`), one sample per row.
///
/// Its expectation is exactly `MMD²(P, Q)`; when `P = Q` it is negative about half the time,
/// which is normal. Computed in blocks with `O(block²)` memory, so `n = 100 000` is fine;
/// accumulated in `f64` whatever `T` is.
///
/// # Errors
/// As [`mmd2_biased`], and [`crate::Error::TooFewSamples`] unless `n ≥ 2` and `m ≥ 2`.
///
/// ```
/// use discrepancy::{InverseMultiquadric, MultiScale, mmd2_unbiased};
/// use nalgebra::DMatrix;
/// let x = DMatrix::from_fn(64, 2, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
/// let y = x.map(|v| v * 0.5);
/// let k = MultiScale::<InverseMultiquadric<f32>>::inn_default();
/// assert!(mmd2_unbiased(&x, &y, &k)? > 0.0);
/// # Ok::<(), discrepancy::Error>(())
/// ```
pub fn mmd2_unbiased<T, K>(x: &DMatrix<T>, y: &DMatrix<T>, kernel: &K) -> Result<f64>
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    Estimator::Unbiased.estimate(x, y, kernel)
}

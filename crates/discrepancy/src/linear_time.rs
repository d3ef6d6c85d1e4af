//! The linear-time MMD² estimator with its variance and a Gaussian p-value.

use crate::samples::check_pair;
use crate::scalar::to_f64;
use crate::{Error, Kernel, Result};
use nalgebra::{DMatrix, RealField};
use statrs::distribution::{ContinuousCDF, Normal};

/// The result of [`mmd2_linear`]: the statistic, its estimated variance and a one-sided
/// Gaussian test of `H₀: P = Q` against `MMD² > 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearTimeMmd {
    /// `MMD²_l = (1/p) Σ_{i<p} h_i` with `p = ⌊n/2⌋`.
    pub statistic: f64,
    /// The estimated variance of the statistic, `s²/p` with `s²` the sample variance
    /// (divisor `p − 1`) of the `h_i`.
    pub variance: f64,
    /// `p = ⌊n/2⌋`, the number of terms averaged.
    pub pairs: usize,
    /// `P(Z ≥ statistic/√variance)` for standard normal `Z`, valid as `n → ∞`. When the
    /// variance is 0 (all `h_i` equal) this is 0 for a positive statistic and 1 otherwise.
    pub p_value: f64,
}

/// The linear-time estimator of Gretton et al. (2012, JMLR 13, §6):
/// `MMD²_l = (1/p) Σ_{i<p} h((x₂ᵢ, y₂ᵢ), (x₂ᵢ₊₁, y₂ᵢ₊₁))`, `p = ⌊n/2⌋`, with
/// `h((x, y), (x', y')) = k(x, x') + k(y, y') − k(x, y') − k(x', y)`,
/// for `X` and `Y` both `n × d`, one sample per row (an odd last row is left out).
///
/// It is unbiased, costs `O(n d)` and, being a mean of i.i.d. terms, is asymptotically normal,
/// which gives the Gaussian p-value in [`LinearTimeMmd`]. It has much higher variance than
/// [`crate::mmd2_unbiased`]; use it when `n` is too large for quadratic time.
///
/// # Errors
/// [`Error::UnequalSampleSizes`] unless `n = m`; [`Error::TooFewSamples`] unless `n ≥ 4` (two
/// terms, for a variance); the shape and finiteness errors of [`crate::mmd2_biased`].
///
/// ```
/// use discrepancy::{Gaussian, mmd2_linear};
/// use nalgebra::DMatrix;
/// let x = DMatrix::from_fn(200, 1, |i, _| (i as f64 * 0.618).fract());
/// let y = x.map(|v| 3.0 * v + 1.0);
/// let test = mmd2_linear(&x, &y, &Gaussian::new(1.0)?)?;
/// assert_eq!(test.pairs, 100);
/// assert!(test.statistic > 0.0 && test.p_value < 0.01);
/// # Ok::<(), discrepancy::Error>(())
/// ```
pub fn mmd2_linear<T, K>(x: &DMatrix<T>, y: &DMatrix<T>, kernel: &K) -> Result<LinearTimeMmd>
where
    T: RealField + Copy,
    K: Kernel<T> + ?Sized,
{
    if x.nrows() != y.nrows() {
        return Err(Error::UnequalSampleSizes {
            n: x.nrows(),
            m: y.nrows(),
        });
    }
    check_pair(x, y, 4)?;
    let pairs = x.nrows() / 2;
    let d2 = |a: &DMatrix<T>, i: usize, b: &DMatrix<T>, j: usize| {
        (0..a.ncols()).fold(T::zero(), |acc, c| {
            let diff = a[(i, c)] - b[(j, c)];
            acc + diff * diff
        })
    };
    let k =
        |a: &DMatrix<T>, i: usize, b: &DMatrix<T>, j: usize| to_f64(kernel.eval_sq(d2(a, i, b, j)));
    let h: Vec<f64> = (0..pairs)
        .map(|i| {
            let (a, b) = (2 * i, 2 * i + 1);
            k(x, a, x, b) + k(y, a, y, b) - k(x, a, y, b) - k(x, b, y, a)
        })
        .collect();
    let p = pairs as f64;
    let statistic = h.iter().sum::<f64>() / p;
    let sample_variance = h.iter().map(|v| (v - statistic).powi(2)).sum::<f64>() / (p - 1.0);
    let variance = sample_variance / p;
    let p_value = if variance > 0.0 {
        Normal::standard().sf(statistic / variance.sqrt())
    } else if statistic > 0.0 {
        0.0
    } else {
        1.0
    };
    Ok(LinearTimeMmd {
        statistic,
        variance,
        pairs,
        p_value,
    })
}

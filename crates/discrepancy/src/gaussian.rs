//! The Gaussian (RBF) kernel `exp(−‖x − y‖² / (2σ²))`.

use crate::kernel::{Bandwidth, Kernel, check_width};
use crate::{Error, Result};
use nalgebra::RealField;

/// Gaussian RBF kernel `k(x, y) = exp(−‖x − y‖² / (2σ²))` with width `σ > 0`.
///
/// The width is the standard deviation `σ` in `exp(−d²/(2σ²))` (not `2σ²`, not `1/σ²`), so
/// the median heuristic gives `σ = median distance` directly: see [`crate::median_heuristic`].
///
/// ```
/// use discrepancy::{Gaussian, Kernel};
/// let k = Gaussian::new(2.0_f64)?;
/// // ‖(0,0) − (3,4)‖² = 25, so k = exp(−25/8).
/// assert!((k.eval(&[0.0, 0.0], &[3.0, 4.0])? - (-25.0_f64 / 8.0).exp()).abs() < 1e-15);
/// # Ok::<(), discrepancy::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian<T> {
    sigma: T,
    /// `−1/(2σ²)`, precomputed.
    neg_half_precision: T,
}

impl<T: RealField + Copy> Gaussian<T> {
    /// A Gaussian kernel of width `sigma`.
    ///
    /// # Errors
    /// [`Error::InvalidWidth`] unless `sigma` is finite, `> 0`, and `1/(2σ²)` is finite.
    pub fn new(sigma: T) -> Result<Self> {
        let sigma = check_width(sigma, 0)?;
        let two = T::one() + T::one();
        let neg_half_precision = -(T::one() / (two * sigma * sigma));
        if !neg_half_precision.is_finite() {
            return Err(Error::InvalidWidth {
                index: 0,
                value: crate::scalar::to_f64(sigma),
            });
        }
        Ok(Self {
            sigma,
            neg_half_precision,
        })
    }

    /// The width `σ`.
    pub fn sigma(&self) -> T {
        self.sigma
    }
}

impl<T: RealField + Copy> Kernel<T> for Gaussian<T> {
    #[inline]
    fn eval_sq(&self, d2: T) -> T {
        (d2 * self.neg_half_precision).exp()
    }
}

impl<T: RealField + Copy> Bandwidth<T> for Gaussian<T> {
    fn with_width(width: T) -> Result<Self> {
        Self::new(width)
    }
    fn width(&self) -> T {
        self.sigma
    }
}

impl<T: autodiff::Float> crate::DifferentiableKernel<T> for Gaussian<T> {
    fn eval_sq_var<'t>(&self, d2: autodiff::Var<'t, T>) -> Result<autodiff::Var<'t, T>> {
        Ok(d2.scale(self.neg_half_precision).exp())
    }

    /// `κ' = −κ/(2σ²)`.
    #[inline]
    fn eval_sq_with_slope(&self, d2: T) -> (T, T) {
        let k = (d2 * self.neg_half_precision).exp();
        (k, k * self.neg_half_precision)
    }
}
